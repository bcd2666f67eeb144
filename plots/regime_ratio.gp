# Experiment 7: budget units to match (filled) and the ceiling (open: Best-of-B over the B
# candidates Speculative Rejection started) against the budget ratio B/N0 of every replayed
# setting (L, prompt KV, cap, tau1), with the paper's two regimes marked, and Study 1 (blocks of 8,
# B/N0 about 60) where experiments/results/study1_regime60/ holds it.
# Standalone, from the repository root: gnuplot plots/regime_ratio.gp reads experiments/results/
# (its CSVs, and regime_ratio.params.gp: the figure's own parameters, n, authors, fig1 and the
# series' titles t0, t1, ...), writes plots/regime_ratio.png at 1920x1080 for slides; gnuplot -e
# "res='DIR'; out='DIR'" reads and writes elsewhere. experiments/exp7_regime.py (lib.gnuplot)
# writes the parameters and runs it so; tools/plots.sh redraws every figure from the committed
# results.
if (!exists("res")) res = 'experiments/results'
if (!exists("out")) out = 'plots'
load res.'/regime_ratio.params.gp'
set terminal pngcairo size 1920,1080 font "sans,20" linewidth 2
set output out.'/regime_ratio.png'
set datafile separator ','
set datafile columnheaders
f = res.'/plot_ratio.csv'
n = int(n)
set title "Budget units of Best-of-N to match Speculative Rejection against the budget ratio B/N0\n(filled: units to match, 95% bootstrap interval; open: the ceiling, Best-of-B; one point per setting of L, prompt KV, cap, tau1)" font ',22'
set xlabel 'budget ratio B/N0 (candidates started / candidates a budget unit holds at full length; log scale)' font ',21'
set ylabel 'budget units of Best-of-N (log scale)' font ',21'
set logscale xy 2
set xrange [1:128]
set yrange [0.8:128]
set xtics (1, 2, 4, 8, 16, 32, 64, 128)
set ytics (1, 2, 4, 8, 16, 32, 64, 128)
set grid
set key top left font ',16' box opaque
set object 1 rect from graph 0, first 16 to graph 1, first 32 fc rgb '#f3e6c8' fs solid 1.0 noborder behind
set label 1 "paper: 16-32 units" at first 1.1, first 22.6 font ',18' tc rgb '#8a6d1f'
a = real(authors); g = real(fig1)
set arrow 1 from a, graph 0 to a, graph 1 nohead dt 2 lw 1.5 lc rgb '#555555'
set arrow 2 from g, graph 0 to g, graph 1 nohead dt 2 lw 1.5 lc rgb '#555555'
set label 2 sprintf("authors' code\n(cap 1000 / 120 = %.1f)", a) at a * 1.07, graph 0.12 font ',16'
set label 3 sprintf("paper Fig. 1\n(about %.0f)", g) at g * 0.55, graph 0.12 font ',16'
color(s) = word("#1f77b4 #ff7f0e #2ca02c #d62728", s + 1)
fill(s) = word("7 9 5 11", s + 1)
open(s) = word("6 8 4 10", s + 1)
sel(s, v) = column('series') == s ? v : NaN
# Series are nudged apart by a few percent in B/N0 (the settings near 8 overprint otherwise).
nudge(s) = 2 ** ((s - 1.5) * 0.04)
# Study 1 (pre-registered, KV blocks of 8: the paper's Fig. 1 ratio), drawn where its results are
s1 = 'experiments/results/study1_regime60/measure.csv'
have_s1 = int(system("[ -f " . s1 . " ] && echo 1 || echo 0"))
study(v) = (column('block') == 8 && abs(column('alpha') - 0.5) < 1e-9 && strcol('match') eq 'improvement') ? v : NaN
# the diagonal only where there are data: a ceiling cannot exceed B/N0, and units to match
# need not follow it beyond the ratios measured
diag(x) = (x >= 2 && x <= 64) ? x : NaN
set samples 400
if (have_s1) {
plot diag(x) with lines lw 1 lc rgb '#999999' title 'upper bound of the ceiling: units = B/N0', \
     for [s=0:n-1] f using (sel(s, column('x')) * nudge(s)):'y':'lo':'hi' with yerrorbars pt int(fill(s)) ps 1.4 lw 1.5 lc rgb color(s) title value(sprintf('t%d', s)), \
     for [s=0:n-1] f using (sel(s, column('x')) * nudge(s)):'ceiling' with points pt int(open(s)) ps 1.4 lw 1.5 lc rgb color(s) notitle, \
     s1 using (study(column('ratio'))):'units':'units_lo':'units_hi' with yerrorbars pt 13 ps 2.2 lw 2.5 lc rgb '#000000' title 'Study 1, 250 new prompts, KV blocks of 8, alpha 0.5', \
     s1 using (study(column('ratio'))):'ceiling' with points pt 12 ps 2.2 lw 2.5 lc rgb '#000000' notitle
} else {
plot diag(x) with lines lw 1 lc rgb '#999999' title 'upper bound of the ceiling: units = B/N0', \
     for [s=0:n-1] f using (sel(s, column('x')) * nudge(s)):'y':'lo':'hi' with yerrorbars pt int(fill(s)) ps 1.4 lw 1.5 lc rgb color(s) title value(sprintf('t%d', s)), \
     for [s=0:n-1] f using (sel(s, column('x')) * nudge(s)):'ceiling' with points pt int(open(s)) ps 1.4 lw 1.5 lc rgb color(s) notitle
}
