# Experiment 3: win rate against Best-of-N0 by the gold judge (ties half),
# 95% bootstrap intervals over prompts; Speculative Rejection at alpha = 0.5
# is the paper's table entry (darker).
# Standalone, from the repository root: gnuplot plots/winrate.gp reads experiments/results/ (its
# CSVs, and winrate.params.gp: the figure's own parameters, n0, nrows), writes plots/winrate.png
# at 1920x1080 for slides; gnuplot -e "res='DIR'; out='DIR'" reads and writes elsewhere.
# experiments/exp3_winrate.py (lib.gnuplot) writes the parameters and runs it so; tools/plots.sh
# redraws every figure from the committed results.
if (!exists("res")) res = 'experiments/results'
if (!exists("out")) out = 'plots'
load res.'/winrate.params.gp'
set terminal pngcairo size 1920,1080 font "sans,20" linewidth 2
set output out.'/winrate.png'
set datafile separator ','
set datafile columnheaders
f = res.'/winrate.csv'
set title sprintf("Win rate against Best-of-%s, judged by the gold judge\n(ties count half; bars: 95%% bootstrap intervals over prompts)", n0) font ',22'
set ylabel 'win rate (%)'
set yrange [0:100]
set xrange [-0.7:nrows-0.3]
set grid y
set xtics rotate by -40 font ',16'
set arrow 1 from graph 0, first 50 to graph 1, first 50 nohead dt 2 lc rgb 'black'
set boxwidth 0.6
set style fill solid 0.6
col(m, a) = (m eq 'bon') ? 0x1f77b4 : ((a == 0.5) ? 0xb2182b : 0xf4a582)
plot f using 0:'win_rate':(col(strcol('method'), column('alpha'))):xtic(strcol('label')) with boxes lc rgb variable notitle, \
     f using 0:'win_rate':'ci_lo':'ci_hi' with yerrorbars pt -1 lc rgb 'black' notitle, \
     f using 0:(4):(sprintf('%.1f', column('win_rate'))) with labels font ',16' notitle
