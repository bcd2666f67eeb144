# Experiment 6: one prompt, Speculative Rejection (alpha 0.5): each line is a
# candidate's reward-model score at successive decision points. Grey: cut
# (the x marks where); blue: survived to the end; red: the answer. The last
# column ("final") is each surviving candidate's final score. Green diamonds:
# the Best-of-N winner over the same candidates (same seeds).
# Standalone, from the repository root: gnuplot plots/teaching.gp reads experiments/results/
# (its CSVs, and teaching.params.gp: the figure's own parameters, prompt, n0, endx, ncand,
# winner, note), writes plots/teaching.png at 1920x1080 for slides; gnuplot -e "res='DIR';
# out='DIR'" reads and writes elsewhere. experiments/exp6_teaching.py (lib.gnuplot) writes the
# parameters and runs it so; tools/plots.sh redraws every figure from the committed results.
if (!exists("res")) res = 'experiments/results'
if (!exists("out")) out = 'plots'
load res.'/teaching.params.gp'
set terminal pngcairo size 1920,1080 font "sans,20" linewidth 2
set output out.'/teaching.png'
set datafile separator ','
set datafile columnheaders
f = res.'/teach_lines.csv'
d = res.'/teach_summary.csv'
ex = real(endx)
set title sprintf("Speculative Rejection on one prompt (prompt %s, alpha 0.5, budget of Best-of-%s): %s candidates\n%s", prompt, n0, ncand, note) font ',22'
set xlabel 'response length at the decision point (tokens); right of the dotted line: each survivor''s final score'
set ylabel 'reward-model score (no units: the reward model''s scale)'
set grid
set key inside top left vertical box opaque font ',19' spacing 1.2
# the final column sits apart from the length axis: its tic says "final", not a length
set xrange [0:ex + 4]
set xtics 0, 10, ex - 8
set xtics add ('final' ex)
set arrow 1 from ex - 5, graph 0 to ex - 5, graph 1 nohead lc rgb 'gray50' lw 1.5 dt 3
set offsets 0, 0, graph 0.05, graph 0.05
plot f using 'x':'score':'color' with lines lw 1.2 lc rgb variable notitle, \
     f using (column('color') != 12303291 ? column('x') : NaN):'score':'color' with lines lw 2.5 lc rgb variable notitle, \
     f using (column('cut') > 0 ? column('x') : NaN):'score' with points pt 2 ps 2 lw 2 lc rgb 'gray35' title 'cut here (x)', \
     d using 'step':'cutoff' with points pt 6 ps 2.6 lw 2.5 lc rgb 'black' title 'cut-off (lowest kept score)', \
     f using (column('bon_winner') > 0 ? column('x') : NaN):'score' with linespoints pt 12 ps 4 lw 7 lc rgb '#2ca02c' title 'Best-of-N winner (wide green)', \
     f using (column('color') == 14034728 ? column('x') : NaN):'score' with lines lw 2.5 lc rgb '#d62728' title 'the answer (red)', \
     f using (column('color') == 14034728 && strcol('decision') eq 'end' ? column('x') : NaN):'score' with points pt 7 ps 2.2 lc rgb '#d62728' notitle, \
     NaN with lines lw 2.5 lc rgb '#1f77b4' title 'survived to the end', NaN with lines lw 1.2 lc rgb '#bbbbbb' title 'cut'
