# Experiment 1: improvement score vs relative compute (the paper's main figure).
# Standalone, from the repository root: gnuplot plots/efficiency.gp reads experiments/results/
# (its CSVs, and efficiency.params.gp: the figure's own parameters, n0, dropped, nprompts),
# writes plots/efficiency.png at 1920x1080 for slides; gnuplot -e "res='DIR'; out='DIR'" reads
# and writes elsewhere. experiments/exp1_efficiency.py (lib.gnuplot) writes the parameters and
# runs it so; tools/plots.sh redraws every figure from the committed results.
if (!exists("res")) res = 'experiments/results'
if (!exists("out")) out = 'plots'
load res.'/efficiency.params.gp'
set terminal pngcairo size 1920,1080 font "sans,20" linewidth 2
set output out.'/efficiency.png'
set datafile separator ','
set datafile columnheaders
f = res.'/efficiency.csv'
set multiplot title sprintf("Best-of-N (N = N0, 2 N0, 4 N0, ...; N0 = %s) vs Speculative Rejection (colour: alpha) in the memory budget of Best-of-%s\nimprovement score over %s prompts (%s left out: flat Best-of-%s scores); bars: 95%% intervals (score +- 1.96 standard errors)", n0, n0, nprompts, dropped, n0) font ',22'
set logscale x 2
set format x '%g'
set xrange [0.5:48]
set yrange [80:360]
set grid
set ylabel 'improvement score (Best-of-N0 = 100)'
set key top left box opaque font ',19'
set palette defined (0.1 '#fdae61', 0.5 '#d62728', 0.9 '#67001f')
set cbrange [0.1:0.9]
set cbtics 0.1, 0.2, 0.9
set cblabel "Speculative Rejection's alpha (share cut at each decision)" font ',18'
set rmargin 4
isbon(x) = strcol('method') eq 'bon' ? x : NaN
isspr(x) = strcol('method') eq 'spr' ? x : NaN
lo(c) = column('score') - 1.96 * column('score_se')
hi(c) = column('score') + 1.96 * column('score_se')
# alpha is labelled at its ends only: the points in between are a few pixels apart
# (alpha 0.1 above its bar, clear of Best-of-16's label; 0.9 to its right)
is(a) = abs(column('alpha') - a) < 1e-9

do for [panel=1:2] {
    col = panel == 1 ? 'rel_flops' : 'sec_rel_time'
    set size 0.455, 0.89
    set origin (panel == 1 ? 0.0 : 0.455), 0.0
    if (panel == 1) {
        set xlabel 'FLOPs (generator + reward model) / Best-of-N0, log scale'
        set title 'compute as FLOPs'
        unset colorbox
    } else {
        set xlabel 'CPU time (one thread) / Best-of-N0, log scale'
        set title 'compute as CPU time'
        set colorbox vertical user origin 0.925, 0.2 size 0.012, 0.55
    }
    plot f using (isbon(column(col))):'score':(lo(0)):(hi(0)) with yerrorlines lw 2 pt 7 ps 1.5 lc rgb '#1f77b4' title 'Best-of-N', \
         f using (isbon(column(col))):'score':(sprintf('N=%d', column('N'))) with labels left offset 1.2,-0.9 font ',17' tc rgb '#1f77b4' notitle, \
         f using (isspr(column(col))):'score':(lo(0)):(hi(0)):'alpha' with yerrorbars pt 9 ps 2.2 lw 1.5 lc palette title 'Speculative Rejection', \
         f using (isspr(column(col))):(hi(0)):(is(0.1) ? 'alpha 0.1' : '') with labels left offset -0.5,0.9 font ',17' tc rgb '#67001f' notitle, \
         f using (isspr(column(col))):'score':(is(0.9) ? 'alpha 0.9' : '') with labels left offset 1.6,0 font ',17' tc rgb '#67001f' notitle
}
unset multiplot
