# Experiment 7: budget units of Best-of-N needed to match Speculative Rejection, against alpha,
# with 95% bootstrap intervals; dashed: each setting's ceiling (Best-of-B over the B candidates
# it started).
# Standalone, from the repository root: gnuplot plots/measure.gp reads experiments/results/ (its
# CSVs, and measure.params.gp: the figure's own parameters, n, n0 and the series' titles t0, t1,
# ...), writes plots/measure.png at 1920x1080 for slides; gnuplot -e "res='DIR'; out='DIR'"
# reads and writes elsewhere. experiments/exp7_regime.py (lib.gnuplot) writes the parameters and
# runs it so; tools/plots.sh redraws every figure from the committed results.
if (!exists("res")) res = 'experiments/results'
if (!exists("out")) out = 'plots'
load res.'/measure.params.gp'
set terminal pngcairo size 1920,1080 font "sans,20" linewidth 2
set output out.'/measure.png'
set datafile separator ','
set datafile columnheaders
f = res.'/plot_measure.csv'
n = int(n)
set title sprintf("How many budget units (Best-of-%s each) Best-of-N needs to match Speculative Rejection run in one unit\n(95%% bootstrap intervals over prompts; dashed: the ceiling, Best-of-B over the B candidates it started)", n0) font ',22'
set xlabel 'rejection rate alpha (share cut at each decision)' font ',24'
set ylabel 'budget units of Best-of-N to match (log scale)' font ',24'
set logscale y 2
set yrange [0.8:128]
set xrange [0.05:0.95]
set xtics ('0.1' 0.1, '0.2' 0.2, '0.3' 0.3, '0.4' 0.4, '0.5' 0.5, '0.6' 0.6, '0.7' 0.7, '0.8' 0.8, '0.9' 0.9) font ',22'
set ytics (1, 2, 4, 8, 16, 32, 64, 128) font ',21'
set grid
set key top right font ',18' box opaque
set object 1 rect from graph 0, first 16 to graph 1, first 32 fc rgb '#f3e6c8' fs solid 1.0 noborder behind
set label 1 "paper: 16-32" at graph 0.02, first 22.6 font ',20' tc rgb '#8a6d1f'
color(s) = word("#7f7f7f #1f77b4 #2ca02c #d62728 #9467bd #8c564b", s + 1)
sel(s, v) = column('series') == s ? v : NaN
off(s) = (s - (n - 1) / 2.0) * 0.012
plot for [s=0:n-1] f using (sel(s, column('x') + off(s))):'y':'lo':'hi' with yerrorlines lw 2.5 pt 7 ps 1.3 lc rgb color(s) title value(sprintf('t%d', s)), \
     for [s=0:n-1] f using (sel(s, column('x'))):'ceiling' with lines dt 2 lw 2 lc rgb color(s) notitle
