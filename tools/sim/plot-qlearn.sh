#!/bin/sh
# SPDX-License-Identifier: MIT
# Learning curve of nodescore-sim --train-q: reward per episode (and its
# 25-episode moving average) and the table's distance to the final one.
#   tools/sim/plot-qlearn.sh docs/sim-results/qlearn-curve.csv docs/sim-results/qlearn.png
set -eu
csv=$1
png=$2
gnuplot <<GP
set terminal pngcairo size 1000,450 font "sans,10"
set output "$png"
set datafile separator ","
set multiplot layout 1,2 title "Q-learning of the placement value (1 episode = 1 simulated hour)"
set grid
set xlabel "episode"
set key bottom right
set title "reward: share of placements with no overload in 10 min"
plot "< awk -F, 'NR > 1 { s += \$2; q[NR] = \$2; if (NR > 26) s -= q[NR - 25]; print \$1 \",\" \$2 \",\" s / (NR - 1 < 25 ? NR - 1 : 25) }' $csv" \
	using 1:2 with points pt 7 ps 0.3 lc rgb "#aaaaaa" title "episode", \
	"" using 1:3 with lines lw 2 lc rgb "#4477aa" title "25-episode mean"
set title "table: visit-weighted mean |Q - Q(final)|"
set logscale y
plot "$csv" using 1:3 every ::1 with lines lw 2 lc rgb "#cc6677" notitle
unset multiplot
GP
echo "SUCCESS sim: plot written path=$png"
