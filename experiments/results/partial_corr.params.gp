# the parameters of plots/partial_corr.gp, written by experiments/exp2_partial.py (lib.gnuplot)
ntau = '5'
taus = '8 16 32 64 128'
