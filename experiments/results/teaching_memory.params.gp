# the parameters of plots/teaching_memory.gp, written by experiments/exp8_teaching.py (lib.gnuplot)
prompt = '1'
n0 = '4'
ncand = '13'
endx = '128'
note = 'the Best-of-13 winner (candidate 11, final score 6.07) was cut at decision 1 (length 17); the answer scores 3.87'
steps = '17 81'
winner_t = '17'
winner_s = '-0.593724'
