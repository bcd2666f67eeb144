# the parameters of plots/study2_methods.gp, written by experiments/study2_methods.py (lib.gnuplot)
arms = 'bon spr resample tree segment soft1 selfcert confidence stop consistency'
label = '100 prompts'
ks = '4, 8, 16'
xmin = '1'
xmax = '256'
