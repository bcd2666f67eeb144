# the parameters of plots/regime_tau.gp, written by experiments/exp7_regime.py (lib.gnuplot)
n = '6'
t0 = 'per-candidate, L 128, cap 252'
t1 = 'per-candidate, L 480, cap 33'
t2 = 'per-candidate, L 480, cap 252'
t3 = 'shared, L 128, cap 252'
t4 = 'shared, L 480, cap 33'
t5 = 'shared, L 480, cap 252'
