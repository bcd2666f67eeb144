# Study 1 (experiments/protocols/study1-regime60-protocol.md): budget units of Best-of-N
# needed to match Speculative Rejection against alpha, at KV blocks of 8 (the study, B/N0 ~ 60)
# and 16 (B/N0 ~ 30), with 95% bootstrap intervals; dashed: each one's ceiling (Best-of-B over
# the B candidates it started). Run by experiments/study1.py, or standalone from the repository
# root on the committed data:  gnuplot plots/study1_units.gp
if (!exists("res")) res = 'experiments/results/study1_regime60'
if (!exists("out")) out = 'plots'
set terminal pngcairo size 1920,1080 font "sans,24"
set output out.'/study1_units.png'
set datafile separator ','
set datafile columnheaders
f = res.'/plot_units.csv'
set title "Study 1 (250 prompts): budget units of Best-of-N (Best-of-4 each) that match Speculative Rejection\n{/*0.8 improvement score; bars: 95% bootstrap intervals over prompts; dashed: the ceiling (Best-of-B over the B started)}"
set xlabel 'rejection rate alpha' font ',26'
set ylabel 'budget units of Best-of-N to match (log scale)' font ',26'
set logscale y 2
set yrange [0.8:128]
set xrange [0.05:0.95]
set xtics ('0.1' 0.1, '0.2' 0.2, '0.3' 0.3, '0.4' 0.4, '0.5' 0.5, '0.6' 0.6, '0.7' 0.7, '0.8' 0.8, '0.9' 0.9) font ',24'
set ytics (1, 2, 4, 8, 16, 32, 64, 128) font ',24'
set grid
set key bottom left font ',22' box opaque
set object 1 rect from graph 0, first 16 to graph 1, first 32 fc rgb '#f3e6c8' fs solid 1.0 noborder behind
set label 1 "paper: 16-32" at graph 0.80, first 22.6 font ',24' tc rgb '#8a6d1f'
sel(s, v) = column('series') == s ? v : NaN
plot f using (sel(0, column('x') - 0.006)):'y':'lo':'hi' with yerrorlines lw 4 pt 7 ps 2 lc rgb '#d62728' title 'KV blocks of 8 (B/N0 about 60, the study)', \
     f using (sel(1, column('x') + 0.006)):'y':'lo':'hi' with yerrorlines lw 4 pt 5 ps 1.9 lc rgb '#1f77b4' title 'KV blocks of 16 (B/N0 about 30)', \
     f using (sel(0, column('x'))):'ceiling' with lines dt 2 lw 3 lc rgb '#d62728' title 'ceiling, blocks of 8', \
     f using (sel(1, column('x'))):'ceiling' with lines dt 2 lw 3 lc rgb '#1f77b4' title 'ceiling, blocks of 16'
