# the parameters of plots/study2_overopt.gp, written by experiments/study2_methods.py (lib.gnuplot)
label = '100 prompts'
xmax = '320.0'
