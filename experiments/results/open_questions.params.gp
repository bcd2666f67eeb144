# the parameters of plots/open_questions.gp, written by experiments/exp5_open.py (lib.gnuplot)
n0 = '4'
