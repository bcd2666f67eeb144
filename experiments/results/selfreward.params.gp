# the parameters of plots/selfreward.gp, written by experiments/exp4_selfreward.py (lib.gnuplot)
n0 = '4'
