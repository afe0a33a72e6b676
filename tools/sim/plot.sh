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

# Utilisation distribution (all seeds) and overload over time (seed 1),
# when the run wrote them beside the runs CSV.
base=${png%.png}
hist=${csv%-runs.csv}-hist.csv
ots=${csv%-runs.csv}-overtime.csv
pols=$(awk -F, 'NR > 1 && !($2 in s) { s[$2] = 1; printf "%s ", $2 }' "$csv")
# one distinct colour per policy (gnuplot's default cycle repeats after 8)
colour() { echo "#332288 #88ccee #44aa99 #117733 #999933 #ddcc77 #cc6677 #882255 #aa4499 #000000 #dd7700 #777777" |
	cut -d' ' -f"$1"; }
if [ -s "$hist" ]; then
	for p in $pols; do
		awk -F, -v p="$p" 'NR > 1 && $1 == p { c[$3] += $4; t += $4 }
			END { for (b in c) print b, c[b] / t }' "$hist" | sort -n >"$dat.$p"
	done
	{
		echo 'set terminal pngcairo size 1000,500 font "sans,10"'
		echo "set output \"$base-util.png\""
		echo "set title \"$(basename "$base"): node CPU demand, share of node-time above x (all seeds)\""
		echo 'set logscale y; set grid; set xrange [0.5:1.3]; set yrange [1e-5:1]'
		echo 'set xlabel "CPU demand / capacity"; set key outside right noenhanced'
		echo 'set arrow from 0.9, graph 0 to 0.9, graph 1 nohead dt 2'
		printf 'plot '
		sep=
		i=1
		for p in $pols; do
			printf '%s"< sort -n %s | awk '"'"'{ a[NR] = $1; v[NR] = $2 } END { s = 0; for (i = NR; i >= 1; i--) { s += v[i]; print a[i], s } }'"'"'" using 1:2 with lines lw 2 lc rgb "%s" title "%s"' \
				"$sep" "$dat.$p" "$(colour $i)" "$p"
			sep=', '
			i=$((i + 1))
		done
		echo
	} | gnuplot
	echo "SUCCESS sim: plot written path=$base-util.png"
fi
if [ -s "$ots" ]; then
	{
		echo 'set terminal pngcairo size 1000,450 font "sans,10"'
		echo "set output \"$base-overtime.png\""
		echo "set title \"$(basename "$base"): share of nodes over 90 % CPU, hourly (seed 1)\""
		echo 'set grid; set xlabel "hour"; set key outside right noenhanced; set datafile separator ","'
		printf 'plot '
		sep=
		i=1
		for p in $pols; do
			printf '%s"< awk -F, -v p=%s '"'"'$1 == p && $2 == 1'"'"' %s" using 3:4 with lines lw 1.5 lc rgb "%s" title "%s"' \
				"$sep" "$p" "$ots" "$(colour $i)" "$p"
			sep=', '
			i=$((i + 1))
		done
		echo
	} | gnuplot
	echo "SUCCESS sim: plot written path=$base-overtime.png"
fi
rm -f "$dat".*
