# the parameters of plots/study2_overopt.gp, written by experiments/study2_methods.py
label = '100 prompts'
xmax = 320.0
