# the parameters of plots/teaching.gp, written by experiments/exp6_teaching.py (lib.gnuplot)
prompt = '10'
n0 = '4'
endx = '65.25'
ncand = '18'
winner = '10'
note = 'the Best-of-18 winner over the same candidates (final score 12.75) is the answer'
