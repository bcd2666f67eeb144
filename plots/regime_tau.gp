# Experiment 7: retention (units to match / ceiling) against the first decision tau1 at
# alpha 0.5, with 95% bootstrap intervals, one line per (prompt KV, L, cap).
# Standalone, from the repository root: gnuplot plots/regime_tau.gp reads experiments/results/
# (its CSVs, and regime_tau.params.gp: the figure's own parameters, n and the series' titles t0,
# t1, ...), writes plots/regime_tau.png at 1920x1080 for slides; gnuplot -e "res='DIR';
# out='DIR'" reads and writes elsewhere. experiments/exp7_regime.py (lib.gnuplot) writes the
# parameters and runs it so; tools/plots.sh redraws every figure from the committed results.
if (!exists("res")) res = 'experiments/results'
if (!exists("out")) out = 'plots'
load res.'/regime_tau.params.gp'
set terminal pngcairo size 1920,1080 font "sans,20" linewidth 2
set output out.'/regime_tau.png'
set datafile separator ','
set datafile columnheaders
f = res.'/plot_tau.csv'
n = int(n)
set title "Retention: the share of the ceiling (Best-of-B) that Speculative Rejection's cuts keep, alpha 0.5\n(95% bootstrap intervals over prompts; a later first decision ranks better but starts fewer candidates)" font ',22'
set xlabel 'first decision tau1 (new tokens in the initial batch; log scale)' font ',21'
set ylabel 'retention = units to match / ceiling' font ',21'
set logscale x 2
set xrange [3:40]
set xtics (4, 8, 16, 32)
set yrange [0:1.5]
set ytics 0, 0.2, 1
set grid
set key top center maxrows 3 font ',16' box opaque
color(s) = word("#1f77b4 #aec7e8 #17becf #d62728 #ff9896 #e377c2 #2ca02c #98df8a", s + 1)
sel(s, v) = column('series') == s ? v : NaN
off(s) = 1 + (s - (n - 1) / 2.0) * 0.015
plot for [s=0:n-1] f using (sel(s, column('x') * off(s))):'y':'lo':'hi' with yerrorlines lw 2 pt 7 ps 1.2 lc rgb color(s) title value(sprintf('t%d', s))
