# Study 2, over-optimisation (experiments/protocols/study2-methods-protocol.md, secondary 3):
# Best-of-n from the records under argmax and soft selection (softmax(reward / lambda)),
# n = 1 ... 256: the answer's reward-model score (left) and its gold score (right), with the
# best gold among the n (the oracle) for scale. Bars: 95% bootstrap intervals over prompts.
# Run by experiments/study2_methods.py, or standalone from the repository root on the
# committed data:  gnuplot plots/study2_overopt.gp
if (!exists("res")) res = 'experiments/results/study2_methods'
if (!exists("out")) out = 'plots'
load res.'/study2_overopt.params.gp'
set terminal pngcairo size 1920,1080 font "sans,20"
set output out.'/study2_overopt.png'
set datafile separator ','
set datafile columnheaders
f = res.'/plot_overopt.csv'
set multiplot layout 1,2 title "Study 2 (".label."): does choosing harder stop paying in gold?\n{/*0.8 Best-of-n under argmax and soft selection; bars: 95% bootstrap intervals over prompts}" font ',24'
set logscale x 2
set xrange [0.8:xmax]
set grid
set xlabel 'n, candidates to choose from (log scale)' font ',20'
set key top left font ',16' box opaque
set ylabel 'reward-model score of the answer' font ',20'
plot f using 'n':'argmax_reward' with linespoints lw 4 pt 7 ps 1.5 lc rgb '#000000' title 'argmax', \
     f using 'n':'soft0.5_reward' with linespoints lw 3 pt 5 lc rgb '#1f77b4' title 'soft, lambda 0.5', \
     f using 'n':'soft1_reward' with linespoints lw 3 pt 9 lc rgb '#2ca02c' title 'soft, lambda 1', \
     f using 'n':'soft2_reward' with linespoints lw 3 pt 11 lc rgb '#ff7f0e' title 'soft, lambda 2', \
     f using 'n':'soft4_reward' with linespoints lw 3 pt 13 lc rgb '#d62728' title 'soft, lambda 4'
set ylabel 'gold score of the answer' font ',20'
plot f using 'n':'argmax_gold':'argmax_gold_lo':'argmax_gold_hi' with yerrorlines lw 4 pt 7 ps 1.5 lc rgb '#000000' title 'argmax', \
     f using 'n':'soft0.5_gold' with linespoints lw 3 pt 5 lc rgb '#1f77b4' title 'soft, lambda 0.5', \
     f using 'n':'soft1_gold' with linespoints lw 3 pt 9 lc rgb '#2ca02c' title 'soft, lambda 1', \
     f using 'n':'soft2_gold' with linespoints lw 3 pt 11 lc rgb '#ff7f0e' title 'soft, lambda 2', \
     f using 'n':'soft4_gold' with linespoints lw 3 pt 13 lc rgb '#d62728' title 'soft, lambda 4', \
     f using 'n':'oracle_gold' with linespoints lw 3 dt 2 pt 6 lc rgb '#7f7f7f' title 'oracle: best gold among n'
unset multiplot
