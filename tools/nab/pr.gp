# SPDX-License-Identifier: MIT
# Precision/recall of the anomaly flag over the severity threshold (tools/nab/cv.sh).
# gnuplot -e "in='BUILD/nab-cv/pr.dat'; out='docs/anomaly-cv-pr.png'" tools/nab/pr.gp
if (!exists("in")) in = 'build/nab-cv/pr.dat'
if (!exists("out")) out = 'build/nab-cv/pr.png'
set terminal pngcairo size 900,600 font ",11" noenhanced
set output out
set title "nodescore anomaly flag on NAB: event precision vs window recall over the severity threshold\n(enter_k 2, leave_m 12; labels are flag severity thresholds; 5 = agent default)"
set xlabel "window recall (% of labelled windows with a flag onset)"
set ylabel "event precision (% of flag onsets inside a window)"
set xrange [0:100]
set yrange [0:105]
set grid
set key bottom left box opaque
set arrow from 0,94 to 100,94 nohead dt 2 lc rgb "#888888"
set label "94 % precision target" at 60,97 tc rgb "#666666"
plot in using 2:3 with linespoints lw 2 pt 7 lc rgb "#c0392b" title "left-out corpora (parameters chosen on the other corpora)", \
     in using 2:3:(sprintf("%g", $1)) with labels offset 1.2,0.8 font ",9" tc rgb "#c0392b" notitle, \
     in using 4:5 with linespoints lw 2 pt 5 dt 3 lc rgb "#2c3e50" title "in-sample (shipped NAB parameters, all 51 files)"
