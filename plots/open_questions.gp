# Experiment 5: (a) adaptive per-prompt alpha and (b) fixed schedules against
# fixed-alpha, memory-driven Speculative Rejection (left); (c) how often the
# Best-of-N winner among the candidates Speculative Rejection started was
# cut, stacked by the decision point that cut it (right).
# Standalone, from the repository root: gnuplot plots/open_questions.gp reads
# experiments/results/ (its CSVs, and open_questions.params.gp: the figure's own parameters,
# n0), writes plots/open_questions.png at 1920x1080 for slides; gnuplot -e "res='DIR';
# out='DIR'" reads and writes elsewhere. experiments/exp5_open.py (lib.gnuplot) writes the
# parameters and runs it so; tools/plots.sh redraws every figure from the committed results.
if (!exists("res")) res = 'experiments/results'
if (!exists("out")) out = 'plots'
load res.'/open_questions.params.gp'
set terminal pngcairo size 1920,1080 font "sans,19" linewidth 2
set output out.'/open_questions.png'
set datafile separator ','
set datafile columnheaders
e = res.'/efficiency.csv'
a = res.'/open_adaptive.csv'
s = res.'/open_schedule.csv'
w = res.'/open_winner_cut.csv'
set multiplot layout 1,2 title 'What the paper leaves open' font ',24'

set title '(a) adaptive alpha, (b) decision points: score vs compute'
set logscale x 2
set grid
set key bottom right font ',16'
set xlabel 'relative compute: FLOPs / Best-of-N0 (log scale)'
set format x '%g'
set xrange [0.3:36]
set ylabel 'improvement score (Best-of-N0 = 100)'
is(x, col, v) = strcol(col) eq v ? x : NaN
# alpha 0.1's label and the fixed schedules' sit up and to the left of their
# points, on a leader line: beside a point between the SpR and Best-of-N
# lines, or right of alpha 0.1's, a label would overprint one of the lines
a01(x) = strcol('rule') eq 'fixed' && abs(column('mean_alpha') - 0.1) < 1e-9 ? x : NaN
sched(x) = strcol('label') ne 'memory-driven (quantile)' ? x : NaN
lx(x) = x / 1.3
ly = 15
plot e using (is(column('rel_flops'), 'method', 'bon')):'score' with linespoints lw 2 pt 7 lc rgb '#1f77b4' title 'Best-of-N', \
     a using (is(column('rel_flops'), 'rule', 'fixed')):'score' with linespoints lw 1 pt 9 lc rgb '#d62728' title 'SpR, fixed alpha (memory-driven)', \
     a using (a01(column('rel_flops'))):'score':(lx(column('rel_flops')) - column('rel_flops')):(ly) with vectors nohead lw 1 lc rgb '#d62728' notitle, \
     a using (lx(a01(column('rel_flops')))):(column('score') + ly):('alpha 0.1') with labels right offset -0.4,0 font ',16' tc rgb '#d62728' notitle, \
     a using (is(column('rel_flops'), 'rule', 'fixed')):'score':(abs(column('mean_alpha') - 0.9) < 1e-9 ? 'alpha 0.9' : '') with labels right offset -1,-0.6 font ',16' tc rgb '#d62728' notitle, \
     a using (is(column('rel_flops'), 'label', 'adaptive: spread')):'score' with points pt 5 ps 1.8 lc rgb '#2ca02c' title 'adaptive alpha (spread rule)', \
     a using (is(column('rel_flops'), 'label', 'adaptive: inverse')):'score' with points pt 4 ps 1.8 lw 2 lc rgb '#2ca02c' title 'inverse rule (control)', \
     a using (is(column('rel_flops'), 'label', 'oracle per prompt')):'score' with points pt 13 ps 1.8 lc rgb '#9467bd' title 'oracle alpha per prompt (bound)', \
     s using (strcol('label') ne 'memory-driven (quantile)' ? column('rel_flops') : NaN):'score' with points pt 11 ps 1.8 lc rgb '#ff7f0e' title 'fixed schedule, alpha 0.5', \
     s using (sched(column('rel_flops'))):'score':(lx(column('rel_flops')) - column('rel_flops')):(ly) with vectors nohead lw 1 lc rgb '#ff7f0e' notitle, \
     s using (lx(sched(column('rel_flops')))):(column('score') + ly):(sprintf("decide at\n%s", substr(strcol('label'), 10, 99))) with labels right offset -0.4,0 font ',16' tc rgb '#ff7f0e' notitle

set title '(c) was the Best-of-N winner cut? (share of prompts)'
unset logscale x
set autoscale x
set format x '% h'
set style data histogram
set style histogram rowstacked
set style fill solid 0.7 border -1
set boxwidth 0.7
set key top left font ',16'
set xlabel 'alpha (share cut at each decision)'
set ylabel 'share of prompts'
set yrange [0:1]
set grid y
plot w using 'cut_at_1':xtic(sprintf('%.1f', column('alpha'))) lc rgb '#fdae61' title 'cut at decision 1', \
     w using 'cut_at_2' lc rgb '#f46d43' title 'at decision 2', \
     w using 'cut_at_3' lc rgb '#d73027' title 'at decision 3', \
     w using 'cut_at_4plus' lc rgb '#a50026' title 'at decision 4 or later', \
     w using 0:'chose_winner' with linespoints lw 2 pt 7 lc rgb '#1a9850' title 'SpR returned the Best-of-N winner'
unset multiplot
