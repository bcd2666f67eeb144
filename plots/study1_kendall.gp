# Study 1, secondary 3: how well the reward of a candidate's first t tokens ranks the
# candidates as their final reward (and the gold judge) do: Kendall tau-b, mean over prompts.
# Run by experiments/study1.py: gnuplot -e "res='DIR'; out='DIR'" study1_kendall.gp
set terminal pngcairo size 1000,650 font "sans,14"
set output out.'/study1_kendall.png'
set datafile separator ','
set datafile columnheaders
f = res.'/plot_kendall.csv'
set title "Study 1: partial -> final rank correlation (Kendall tau-b, mean over prompts)"
set xlabel 'prefix length (tokens)' font ',16'
set ylabel 'Kendall tau-b' font ',16'
set logscale x 2
set xrange [3:80]
set yrange [0:1]
set xtics (4, 8, 15, 32, 64)
set grid
set key top left box opaque
plot f using 'length':'kendall' with linespoints lw 2.5 pt 7 ps 1.3 lc rgb '#d62728' title 'against the final reward', \
     f using 'length':'kendall_gold' with linespoints lw 2.5 pt 5 ps 1.2 lc rgb '#1f77b4' title 'against the gold judge'
