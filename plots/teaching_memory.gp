# Experiment 8: Speculative Rejection on one prompt, on a token-length axis, from a record.
# Top: each candidate's reward-model score at every prefix length (grey: cut; blue: survived;
# red: the answer; green: the Best-of-B winner, dotted after its cut, a cross where it was cut);
# dashed verticals: decision points. Middle: KV memory in use at each decision point (% of the
# budget, before the cut). Bottom: candidates still decoding, on an axis of its own (drawn on
# the memory panel's right axis, 13 candidates read as 115% of the budget: issue 27).
# Standalone, from the repository root: gnuplot plots/teaching_memory.gp reads
# experiments/results/ (its CSVs, and teaching_memory.params.gp: the figure's own parameters,
# prompt, n0, ncand, endx, steps, note, winner_t, winner_s), writes plots/teaching_memory.png at
# 1920x1080 for slides; gnuplot -e "res='DIR'; out='DIR'" reads and writes elsewhere.
# experiments/exp8_teaching.py (lib.gnuplot) writes the parameters and runs it so;
# tools/plots.sh redraws every figure from the committed results.
if (!exists("res")) res = 'experiments/results'
if (!exists("out")) out = 'plots'
load res.'/teaching_memory.params.gp'
set terminal pngcairo size 1920,1080 font "sans,20" linewidth 2
set output out.'/teaching_memory.png'
set datafile separator ','
set datafile columnheaders
f = res.'/teach_record_lines.csv'
d = res.'/teach_record_decisions.csv'
a = res.'/teach_record_alive.csv'
ex = real(endx)
set multiplot title sprintf("Speculative Rejection on one prompt (prompt %s, alpha 0.5, one budget unit = Best-of-%s): %s candidates started\n%s", prompt, n0, ncand, note) font ',20'
set lmargin 12
set rmargin 10
set xrange [0:ex + 2]
set grid
# --- top: scores
set origin 0, 0.44
set size 1, 0.49
set ylabel 'reward-model score of the prefix' font ',21'
set format x ''
set key top left font ',16' box opaque
# headroom above the lines for the key
stats f using 'score' name 'S' nooutput
set yrange [S_min - 0.5 : S_max + 0.7 * (S_max - S_min)]
do for [k=1:words(steps)] {
    set arrow k from real(word(steps, k)), graph 0 to real(word(steps, k)), graph 1 nohead dt 2 lw 1.5 lc rgb '#555555'
    set label k sprintf('decision %d', k) at real(word(steps, k)), graph 0.04 offset 0.5,0 font ',16' tc rgb '#555555'
}
if (real(winner_t) > 0) {
    set label 99 '' at real(winner_t), real(winner_s) point pt 2 ps 4 lw 4 lc rgb '#2ca02c' front
}
plot f using 't':(strcol('kind') eq 'cut' ? column('score') : NaN) with lines lw 1 lc rgb '#bbbbbb' title 'cut (line ends at the cut)', \
     f using 't':(strcol('kind') eq 'survivor' ? column('score') : NaN) with lines lw 2 lc rgb '#1f77b4' title 'survived', \
     f using 't':(strcol('kind') eq 'answer' ? column('score') : NaN) with lines lw 3 lc rgb '#d62728' title 'the answer', \
     f using 't':(strcol('kind') eq 'winner' && column('after_cut') == 0 ? column('score') : NaN) with lines lw 3.5 lc rgb '#2ca02c' title 'Best-of-B winner', \
     f using 't':(strcol('kind') eq 'winner' && column('after_cut') == 1 ? column('score') : NaN) with lines lw 2.5 dt (6,4) lc rgb '#2ca02c' title 'winner after its cut (what it would have become)', \
     (real(winner_t) > 0 ? NaN : 1/0) with points pt 2 ps 3 lw 4 lc rgb '#2ca02c' title 'the cut that lost it'
# --- middle: memory (decision points: dashed, no labels)
unset label
set origin 0, 0.235
set size 1, 0.215
set ylabel 'KV (% of budget)' font ',20'
set yrange [0:125]
set ytics 0, 50, 100
set key bottom left font ',16' box opaque
plot d using 'step':'kv_share' with linespoints pt 7 ps 1.6 lw 2 lc rgb '#ff7f0e' title 'KV in use at each decision point, before the cut', \
     d using 'step':'kv_share':(sprintf('%d ranked, %d kept', column('ranked'), column('kept'))) with labels left offset 1,-1.3 font ',16' notitle, \
     100 with lines dt 2 lw 1.5 lc rgb '#555555' title 'budget (one unit)'
# --- bottom: candidates decoding, a count on its own axis
set origin 0, 0.0
set size 1, 0.245
set format x '%g'
set xlabel 'response length (tokens generated per candidate)' font ',21'
set ylabel 'candidates' font ',20'
set yrange [0:*]
set ytics 0, 4
set key top right font ',16' box opaque
plot a using 't':'alive' with steps lw 2 lc rgb '#9467bd' title 'candidates still decoding'
unset multiplot
