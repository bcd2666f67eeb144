# the parameters of plots/efficiency.gp, written by experiments/exp1_efficiency.py (lib.gnuplot)
n0 = '4'
dropped = '0'
nprompts = '100'
