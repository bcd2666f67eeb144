# Experiment 2: per-prompt correlation between partial and final scores at
# each prefix length tau (boxes: quartiles; whiskers: furthest point within
# 1.5 IQR; dot: mean), Pearson (blue) and Kendall's rank correlation, tau-b (orange), for the
# reward model and the gold judge.
# Standalone, from the repository root: gnuplot plots/partial_corr.gp reads experiments/results/
# (its CSVs, and partial_corr.params.gp: the figure's own parameters, ntau, taus), writes
# plots/partial_corr.png at 1920x1080 for slides; gnuplot -e "res='DIR'; out='DIR'" reads and
# writes elsewhere. experiments/exp2_partial.py (lib.gnuplot) writes the parameters and runs it
# so; tools/plots.sh redraws every figure from the committed results.
if (!exists("res")) res = 'experiments/results'
if (!exists("out")) out = 'plots'
load res.'/partial_corr.params.gp'
set terminal pngcairo size 1920,1080 font "sans,20" linewidth 2
set output out.'/partial_corr.png'
set datafile separator ','
set datafile columnheaders
f = res.'/partial_summary.csv'
set multiplot layout 1,2 title "Does the score of a prefix predict the score of the whole response?\n(one box per tau over prompts: quartiles, whiskers to the furthest point within 1.5 IQR, dot: mean)" font ',22'
set grid y
set yrange [-1:1.05]
set xrange [0.4:ntau+0.6]
set xtics () 
do for [j=1:ntau] { set xtics add (word(taus, j) j) }
set xlabel 'prefix length tau (tokens; evenly spaced, not to scale)'
set ylabel 'correlation with the final score'
set boxwidth 0.3 absolute
set key bottom right
do for [s=1:2] {
  src = word('model gold', s)
  set title (src eq 'model' ? 'reward model (austen-rm)' : 'gold judge (AFINN-165)')
  plot f using ((strcol('source') eq src && strcol('stat') eq 'pearson') ? column('x') : NaN):'q1':'whisker_lo':'whisker_hi':'q3' with candlesticks whiskerbars lc rgb '#1f77b4' fs solid 0.3 title 'Pearson', \
       f using ((strcol('source') eq src && strcol('stat') eq 'pearson') ? column('x') : NaN):'median':'median':'median':'median' with candlesticks lw 2 lc rgb '#1f77b4' notitle, \
       f using ((strcol('source') eq src && strcol('stat') eq 'kendall') ? column('x') : NaN):'q1':'whisker_lo':'whisker_hi':'q3' with candlesticks whiskerbars lc rgb '#ff7f0e' fs solid 0.3 title "Kendall's rank correlation", \
       f using ((strcol('source') eq src && strcol('stat') eq 'kendall') ? column('x') : NaN):'median':'median':'median':'median' with candlesticks lw 2 lc rgb '#ff7f0e' notitle, \
       f using ((strcol('source') eq src) ? column('x') : NaN):'mean' with points pt 7 ps 0.8 lc rgb 'black' title 'mean'
}
unset multiplot
