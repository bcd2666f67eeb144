# Experiment 6: one prompt, Speculative Rejection (alpha 0.5): each line is a
# candidate's reward-model score at successive decision points. Grey: cut
# (the x marks where); blue: survived to the end; red: the answer. The last
# column ("final") is each surviving candidate's final score. Green diamonds:
# the Best-of-N winner over the same candidates (same seeds).
# Run by experiments/exp6_teaching.py: gnuplot -e "res='DIR'; out='DIR'; prompt='0'; n0='4'; endx='200'; ncand='20'; winner='3'; note='...'" teaching.gp
set terminal pngcairo size 1000,620 font "sans,11"
set output out.'/teaching.png'
set datafile separator ','
set datafile columnheaders
f = res.'/teach_lines.csv'
d = res.'/teach_summary.csv'
set title sprintf("Speculative Rejection on one prompt (prompt %s, alpha 0.5, budget of Best-of-%s): %s candidates\n%s", prompt, n0, ncand, note)
set xlabel 'response length at the decision point (tokens); last column: final score'
set ylabel 'reward-model score'
set grid
set key below horizontal font ',10'
set xrange [0:endx+4]
set arrow 1 from endx-3, graph 0 to endx-3, graph 1 nohead lc rgb 'gray60' dt 3
set label 1 'final' at endx, graph 0.03 center
plot f using 'x':'score':'color' with lines lw 1 lc rgb variable notitle, \
     f using (column('color') != 12303291 ? column('x') : NaN):'score':'color' with lines lw 2 lc rgb variable notitle, \
     f using (column('cut') > 0 ? column('x') : NaN):'score' with points pt 2 ps 0.9 lc rgb 'gray40' title 'cut here', \
     f using (column('color') == 14034728 && strcol('decision') eq 'end' ? column('x') : NaN):'score' with points pt 7 ps 1.5 lc rgb '#d62728' title 'answer', \
     d using 'step':'cutoff' with points pt 6 ps 1.2 lc rgb 'black' title 'cut-off (lowest kept score)', \
     f using (column('bon_winner') > 0 ? column('x') : NaN):'score' with linespoints pt 12 ps 2 lw 2 lc rgb '#2ca02c' title 'Best-of-N winner', \
     NaN with lines lw 2 lc rgb '#1f77b4' title 'survivor', NaN with lines lc rgb '#bbbbbb' title 'rejected'
