# Experiment 2: partial vs final score for one prompt, per prefix length tau,
# for the reward model (top) and the gold judge (bottom). The best final
# response is the red star; the dashed line is its partial score, the
# cut-off that would keep it (everything right of it survives).
# Standalone, from the repository root: gnuplot plots/partial_scatter.gp reads
# experiments/results/ (its CSVs, and partial_scatter.params.gp: the figure's own parameters,
# ntau, taus), writes plots/partial_scatter.png at 1920x1080 for slides; gnuplot -e "res='DIR';
# out='DIR'" reads and writes elsewhere. experiments/exp2_partial.py (lib.gnuplot) writes the
# parameters and runs it so; tools/plots.sh redraws every figure from the committed results.
if (!exists("res")) res = 'experiments/results'
if (!exists("out")) out = 'plots'
load res.'/partial_scatter.params.gp'
set terminal pngcairo size 1920,1080 font "sans,16" linewidth 2
set output out.'/partial_scatter.png'
set datafile separator ','
set datafile columnheaders
f = res.'/partial_scatter.csv'
m = res.'/partial_marks.csv'
set multiplot layout 2,ntau title "Partial vs final score of many complete responses to one prompt\n(red star: the best final response; dashed: the cut-off that keeps it; gold points jittered by up to 0.2)" font ',20'
set grid
unset key
do for [s=1:2] {
  src = word('model gold', s)
  do for [j=1:ntau] {
    t = word(taus, j) + 0
    stats m using ((strcol('source') eq src && column('tau') == t) ? column('partial') : NaN) nooutput
    cut = STATS_max
    stats m using ((strcol('source') eq src && column('tau') == t) ? column('kept') : NaN) nooutput
    kept = STATS_max
    stats m using ((strcol('source') eq src && column('tau') == t) ? column('n') : NaN) nooutput
    nn = STATS_max
    set title sprintf("%s, tau = %d\ncut-off keeps %d of %d", (src eq 'model' ? 'reward model' : 'gold judge'), t, kept, nn)
    set xtics rotate by -45 autofreq
    set format x '%g'
    set xlabel sprintf('score of the first %d tokens', t)
    set ylabel (j == 1 ? 'score of the whole response' : '')
    set arrow 1 from cut, graph 0 to cut, graph 1 nohead dt 2 lc rgb '#d62728'
    # Gold scores are integers: jitter them (+-0.2) so that equal points show.
    jit = (src eq 'gold') ? 0.4 : 0
    plot f using ((strcol('source') eq src && column('tau') == t) ? column('partial') + jit*(rand(0)-0.5) : NaN):(column('final') + jit*(rand(0)-0.5)) with points pt 7 ps 0.6 lc rgb '#1f77b4', \
         m using ((strcol('source') eq src && column('tau') == t) ? column('partial') : NaN):'final' with points pt 3 ps 2.5 lw 2 lc rgb '#d62728'
    unset arrow 1
  }
}
unset multiplot
