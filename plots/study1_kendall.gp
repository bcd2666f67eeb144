# Study 1, secondary 3: how well the reward of a candidate's first t tokens ranks the
# candidates as their final reward (and the gold judge) do: Kendall tau-b, mean over prompts.
# Run by experiments/study1.py, or standalone from the repository root on the committed data:
#   gnuplot plots/study1_kendall.gp
if (!exists("res")) res = 'experiments/results/study1_regime60'
if (!exists("out")) out = 'plots'
set terminal pngcairo size 1920,1080 font "sans,24"
set output out.'/study1_kendall.png'
set datafile separator ','
set datafile columnheaders
f = res.'/plot_kendall.csv'
set title "Study 1 (250 prompts): how well a prefix's reward ranks candidates by their final score\n{/*0.8 Kendall tau-b between the reward of the first t tokens and the final score, mean over prompts}"
set xlabel 'prefix length t (tokens, log scale)' font ',26'
set ylabel 'Kendall tau-b' font ',26'
set logscale x 2
set xrange [3:80]
set yrange [0:1]
set xtics (4, 8, 15, 32, 64)
set grid
set key top left box opaque font ',22'
plot f using 'length':'kendall' with linespoints lw 4 pt 7 ps 2 lc rgb '#d62728' title 'against the final reward', \
     f using 'length':'kendall_gold' with linespoints lw 4 pt 5 ps 1.9 lc rgb '#1f77b4' title 'against the gold judge'
