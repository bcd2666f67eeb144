# Study 2 (experiments/protocols/study2-methods-protocol.md): each arm's mean reward-model
# score (left) and gold score (right) at each budget K (its points, joined), placed at its
# FLOPs counted in candidates of Best-of-N (generator and reward model), against Best-of-N's
# expected curve from the records (black). Bars: 95% bootstrap intervals over prompts. Run by
# experiments/study2_methods.py, or standalone from the repository root on the committed
# data:  gnuplot plots/study2_methods.gp
if (!exists("res")) res = 'experiments/results/study2_methods'
if (!exists("out")) out = 'plots'
load res.'/study2_methods.params.gp'
set terminal pngcairo size 1920,1080 font "sans,20"
set output out.'/study2_methods.png'
set datafile separator ','
set datafile columnheaders
f = res.'/plot_methods.csv'
b = res.'/plot_bon.csv'
colors = '#000000 #d62728 #1f77b4 #2ca02c #9467bd #ff7f0e #8c564b #e377c2 #17becf #7f7f7f #bcbd22 #393b79'
sel(s, v) = column('series') == s ? v : NaN
set multiplot layout 1,2 title "Study 2 (".label."): each method at budgets K = ".ks." against Best-of-N at equal FLOPs\n{/*0.8 x: FLOPs in Best-of-N candidates; black: Best-of-N's expected curve; bars: 95% bootstrap intervals}" font ',22'
set logscale x 2
set xrange [xmin:xmax]
set grid
set key bottom right font ',15' box opaque
set xlabel 'FLOPs, in candidates of Best-of-N (log scale)' font ',20'
set ylabel 'reward-model score of the answer' font ',20'
plot b using 'n':'reward' with lines lw 4 lc rgb '#000000' title 'Best-of-N (expected)', \
     for [s=1:words(arms)] f using (sel(s, column('x'))):'reward':'reward_lo':'reward_hi' with yerrorlines lw 3 pt 7 ps 1.6 lc rgb word(colors, s + 1) title word(arms, s)
set ylabel 'gold score of the answer' font ',20'
unset key
plot b using 'n':'gold' with lines lw 4 lc rgb '#000000', \
     for [s=1:words(arms)] f using (sel(s, column('x'))):'gold':'gold_lo':'gold_hi' with yerrorlines lw 3 pt 7 ps 1.6 lc rgb word(colors, s + 1)
unset multiplot
