# Issue 25: how well a candidate's first t tokens rank it by its final reward (Kendall tau-b,
# mean over prompts), on the Austen bench's reward model (partial reward; the prefix's Monte
# Carlo value from K sampled continuations; the ceiling any value model could reach, from the
# continuations' spread) and on the second task's `opening` reward. 95% bootstrap intervals.
# Run by experiments/predictability.py: gnuplot -e "res='DIR'; out='DIR'" predictability.gp
set terminal pngcairo size 1920,1080 font "sans,24"
set output out.'/predictability.png'
set datafile separator ','
set datafile columnheaders
set title "How well a prefix predicts the final reward (Kendall tau-b, mean over prompts; 95% intervals)" font ',26'
set xlabel 'prefix length t (tokens)' font ',26'
set ylabel 'Kendall tau-b against the final reward' font ',26'
set logscale x 2
set xrange [3.5:140]
set yrange [-0.05:1.32]
set xtics (4, 7, 9, 15, 32, 64, 128)
set ytics 0, 0.1, 1
set grid
set key top left box opaque font ',21' spacing 1.1
set arrow 1 from 3.5, 0.46 to 140, 0.46 nohead dt 2 lw 3 lc rgb '#555555' back
set label 1 "needed at B/N0 = 60 (issue 25's replays): 0.46" at 4, 0.49 font ',20' tc rgb '#555555'
set arrow 2 from 7, -0.05 to 7, 1.0 nohead dt 3 lw 2 lc rgb '#d62728' back
set label 2 "austen-rm's first cut" at 7.2, 0.03 font ',18' tc rgb '#d62728'
plot res.'/plot_opening.csv' using 'length':'kendall':'lo':'hi' with yerrorlines lw 4 pt 9 ps 2 lc rgb '#2ca02c' title 'opening (task 2): partial reward', \
     res.'/plot_rm.csv' using 'length':'kendall':'lo':'hi' with yerrorlines lw 4 pt 7 ps 2 lc rgb '#d62728' title 'austen-rm: partial reward', \
     res.'/plot_mc.csv' using ($1*1.04):'mc':'mc_lo':'mc_hi' with yerrorbars lw 3 pt 5 ps 2.2 lc rgb '#1f77b4' title 'austen-rm: Monte Carlo value, K = 8', \
     res.'/plot_mc.csv' using ($1*0.96):'ceiling':'ceiling_lo':'ceiling_hi' with yerrorbars lw 3 pt 13 ps 2.6 lc rgb '#9467bd' title 'austen-rm: ceiling, K -> infinity (normal approx.)'
