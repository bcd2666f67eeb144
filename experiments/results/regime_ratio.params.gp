# the parameters of plots/regime_ratio.gp, written by experiments/exp7_regime.py (lib.gnuplot)
n = '4'
authors = '8.333333333333334'
fig1 = '63'
t0 = 'shared prompt KV, alpha 0.5'
t1 = 'per-candidate prompt KV, alpha 0.5'
t2 = 'shared prompt KV, alpha 0.9'
t3 = 'per-candidate prompt KV, alpha 0.9'
