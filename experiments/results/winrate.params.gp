# the parameters of plots/winrate.gp, written by experiments/exp3_winrate.py (lib.gnuplot)
n0 = '4'
nrows = '15'
