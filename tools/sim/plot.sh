#!/bin/sh
# SPDX-License-Identifier: MIT
# Bar chart of CPU overload and herd size per policy (mean over seeds) from
# a nodescore-sim runs CSV, with gnuplot.
#   tools/sim/plot.sh docs/sim-results/s2-runs.csv docs/sim-results/s2.png
set -eu
csv=$1
png=$2
dat=$(mktemp)
trap 'rm -f "$dat"' EXIT
# columns: scenario,policy,seed,mean_util,overload_cpu,...,herd(13)
awk -F, 'NR > 1 { n[$2]++; o[$2] += $5; h[$2] += $13; if (!($2 in seen)) { seen[$2] = 1; ord[++k] = $2 } }
	END { for (i = 1; i <= k; i++) { p = ord[i]; printf "%s %.5f %.1f\n", p, o[p] / n[p], h[p] / n[p] } }' \
	"$csv" >"$dat"
gnuplot <<GP
set terminal pngcairo size 1000,450 font "sans,10"
set output "$png"
set multiplot layout 1,2 title "$(basename "$csv" -runs.csv): mean over seeds"
set style data histograms
set style fill solid 0.8 border -1
set boxwidth 0.8
set xtics rotate by -35 noenhanced
set grid ytics
set key off
set yrange [0:*]
set title "CPU overload time fraction (demand > 0.90)"
plot "$dat" using 2:xtic(1) lc rgb "#4477aa"
set title "herd: most pods bound to one node in 60 s"
plot "$dat" using 3:xtic(1) lc rgb "#cc6677"
unset multiplot
GP
echo "SUCCESS sim: plot written path=$png"
