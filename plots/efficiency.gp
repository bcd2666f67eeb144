# Experiment 1: improvement score vs relative compute (the paper's main figure).
# Run by experiments/exp1_efficiency.py: gnuplot -e "res='DIR'; out='DIR'; n0='4'; dropped='0'; nprompts='100'" efficiency.gp
set terminal pngcairo size 1400,600 font "sans,11"
set output out.'/efficiency.png'
set datafile separator ','
set datafile columnheaders
f = res.'/efficiency.csv'
set multiplot layout 1,2 title sprintf("Best-of-N (N = N0, 2 N0, 4 N0, ...; N0 = %s) vs Speculative Rejection (label: alpha) in the memory budget of Best-of-%s\n(improvement score over %s prompts; %s prompt(s) with flat Best-of-%s scores left out)", n0, n0, nprompts, dropped, n0)
set logscale x 2
set grid
set ylabel 'improvement score (Best-of-N0 = 100)'
set key top left
isbon(x) = strcol('method') eq 'bon' ? x : NaN
isspr(x) = strcol('method') eq 'spr' ? x : NaN

set xlabel 'relative compute: FLOPs (generator + reward model) / Best-of-N0'
set title 'compute as FLOPs'
plot f using (isbon(column('rel_flops'))):'score' with linespoints lw 2 pt 7 lc rgb '#1f77b4' title 'Best-of-N', \
     f using (isbon(column('rel_flops'))):'score':(sprintf('N=%d', column('N'))) with labels offset 0,1 font ',9' notitle, \
     f using (isspr(column('rel_flops'))):'score' with points pt 9 ps 1.6 lc rgb '#d62728' title 'Speculative Rejection', \
     f using (isspr(column('rel_flops'))):'score':(sprintf('%.1f', column('alpha'))) with labels offset 1.8,-0.6 font ',9' tc rgb '#d62728' notitle

set xlabel 'relative compute: CPU time (one thread) / Best-of-N0'
set title 'compute as CPU time'
plot f using (isbon(column('sec_rel_time'))):'score' with linespoints lw 2 pt 7 lc rgb '#1f77b4' title 'Best-of-N', \
     f using (isbon(column('sec_rel_time'))):'score':(sprintf('N=%d', column('N'))) with labels offset 0,1 font ',9' notitle, \
     f using (isspr(column('sec_rel_time'))):'score' with points pt 9 ps 1.6 lc rgb '#d62728' title 'Speculative Rejection (label: alpha)', \
     f using (isspr(column('sec_rel_time'))):'score':(sprintf('%.1f', column('alpha'))) with labels offset 1.8,-0.6 font ',9' tc rgb '#d62728' notitle
unset multiplot
