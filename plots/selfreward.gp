# Experiment 4: self-reward. Perplexity (under the generator) of the chosen
# response against relative generator FLOPs, Best-of-N and Speculative
# Rejection both choosing by -exp(mean NLL); bars: 95% bootstrap CI over prompts.
# Standalone, from the repository root: gnuplot plots/selfreward.gp reads experiments/results/
# (its CSVs, and selfreward.params.gp: the figure's own parameters, n0), writes
# plots/selfreward.png at 1920x1080 for slides; gnuplot -e "res='DIR'; out='DIR'" reads and
# writes elsewhere. experiments/exp4_selfreward.py (lib.gnuplot) writes the parameters and runs
# it so; tools/plots.sh redraws every figure from the committed results.
if (!exists("res")) res = 'experiments/results'
if (!exists("out")) out = 'plots'
load res.'/selfreward.params.gp'
set terminal pngcairo size 1920,1080 font "sans,20" linewidth 2
set output out.'/selfreward.png'
set datafile separator ','
set datafile columnheaders
f = res.'/selfreward.csv'
set title sprintf("Self-reward: the generator's likelihood as the reward (budget of Best-of-%s)\nbars: 95%% bootstrap intervals over prompts; lower is better", n0) font ',22'
set logscale x 2
set offsets graph 0.06, graph 0.06, 0, 0
set grid
set xlabel 'relative compute: generator FLOPs / Best-of-N0 (log scale)'
set format x '%g'
set ylabel 'perplexity of the chosen response (mean over prompts)'
set key top right
m(x, name) = strcol('method') eq name ? x : NaN
plot f using (m(column('rel_flops'), 'bon')):'mean_ppl':'ci_lo':'ci_hi' with yerrorlines lw 2 pt 7 lc rgb '#1f77b4' title 'Best-of-N', \
     f using (m(column('rel_flops'), 'bon')):'mean_ppl':'label' with labels offset 0,-1.2 font ',16' notitle, \
     f using (m(column('rel_flops'), 'sample')):'mean_ppl':'ci_lo':'ci_hi' with yerrorbars pt 5 lc rgb 'gray40' title 'one sample', \
     f using (m(column('rel_flops'), 'spr')):'mean_ppl':'ci_lo':'ci_hi' with yerrorbars pt 9 ps 1.6 lc rgb '#d62728' title 'Speculative Rejection', \
     f using (m(column('rel_flops'), 'spr')):'mean_ppl':'label' with labels right offset -1.2,0 font ',16' tc rgb '#d62728' notitle
