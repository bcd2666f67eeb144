# the parameters of plots/measure.gp, written by experiments/exp7_regime.py (lib.gnuplot)
n = '4'
n0 = '4'
t0 = 'committed live runs (per-candidate, L 128, B/N0 = 4.1, 100 prompts)'
t1 = 'per-candidate prompt KV, L 128, B/N0 = 3.9 (12 prompts)'
t2 = 'shared prompt KV, L 480, B/N0 = 8.2 (60 prompts)'
t3 = 'shared prompt KV, L 480, B/N0 = 30.4 (60 prompts)'
