/* search_usage.c - the --help text of generate, bon, spr, record and
 * replay (search_usage.h); the policy and reward-source parts come from
 * their registries (policy_cli.h, reward_cli.h). */
#include "cli/search_usage.h"

#include <stdio.h>

#include "cli/args.h"
#include "cli/policy_cli.h"
#include "cli/reward_cli.h"
#include "cli/search_opts.h"
#include "cli/select_cli.h"
#include "runtime/kvcache.h"
#include "search/reward.h"
#include "text/gold.h"

static void usage_replay(void) {
    printf("usage: specrej replay --record FILE (--alpha A | --policy NAME) [spr flags] | -N N)"
           " [flags]\n"
           "  Simulates the spr (policy flags) or bon (-N) run on the record's prompt, models and\n"
           "  sampling without running a model; its --json and --trace are the live run's\n"
           "  (timings aside; --json adds \"replayed\": true).\n"
           "  --record FILE         a file written by specrej record (required)\n"
           "  -N N                  Best-of-N with the record's first N candidates\n"
           "  --alpha A, --policy NAME, --policy-arg N=V   Speculative Rejection, as for spr\n"
           "  --kv-budget BYTES, --kv-budget-candidates K, --max-batch B   as for spr\n"
           "  --kv-block N          as for spr; any size (a record does not depend on it:\n"
           "                        only the budget's arithmetic does)\n"
           "  --prompt-kv MODE      the record's (shared or per-candidate); the other is\n"
           "                        refused: its attention rounds differently\n"
           "  --json [PATH|-], --trace FILE, --explain   as for spr\n"
           "  --select RULE, --lambda L   as for spr (the draw uses the record's seed)\n"
           "  --progress, --no-progress   the progress line on stderr (default: when\n"
           "                        stderr is a terminal)\n"
           "  -s, --seed, --temperature, --top-k, --top-p, --max-new: the record's; giving\n"
           "  another value is refused (the record holds that run only)\n"
           "example:\n"
           "  specrej replay --record run.rec --alpha 0.5 --max-batch 64 --json -\n"
           "  (run.rec: the example of specrej record --help; it holds 64 candidates, so\n"
           "  the run is capped at 64: --max-batch)\n");
    policy_cli_usage(stdout);
}

static const char *const EXAMPLES[] = {
    "specrej generate -m data/austen-lm -p 'It is a truth' -n 64",
    "specrej bon -m data/austen-lm --reward data/austen-rm -p 'It is a truth' -N 16",
    "specrej spr -m data/austen-lm --reward data/austen-rm -p 'It is a truth' --alpha 0.5 "
    "--explain",
    "specrej record -m data/austen-lm --reward data/austen-rm -p 'It is a truth' -N 64 "
    "--output run.rec",
};

static void usage_batch(SearchCliMethod m) {
    if (m == SEARCH_CLI_RECORD) {
        printf("  -f, --prompts FILE    many prompts (FILE or - for stdin; README, \"Batch\n"
               "                        mode\"): --output is then a folder that gets ID.rec\n"
               "                        per prompt\n"
               "  --resume              with --prompts: skip the prompts whose ID.rec exists\n"
               "  --shard I/N           with --prompts: only prompts I, I+N, I+2N, ...\n");
        return;
    }
    printf("  -f, --prompts FILE    many prompts, models loaded once (FILE or - for stdin;\n"
           "                        lines of text or JSON {\"id\", \"prompt\", \"seed\"}):\n"
           "                        one compact --json object per prompt, plus \"id\"\n"
           "  -o, --output FILE     with --prompts: the JSON lines file (default stdout)\n"
           "  --resume              with --prompts: continue --output FILE, skipping the\n"
           "                        ids it holds (a partial last line is cut off)\n"
           "  --shard I/N           with --prompts: only prompts I, I+N, I+2N, ... (merge:\n"
           "                        README, \"Batch mode\")\n");
}

void search_cli_usage(SearchCliMethod m) {
    const char *name = SEARCH_METHOD_NAMES[m];
    if (m == SEARCH_CLI_REPLAY) {
        usage_replay();
        return;
    }
    printf("usage: specrej %s --model PATH (--prompt TEXT | --prompt-ids 1,2,3 | --prompts FILE)"
           " [flags]\n", name);
    printf("  -m, --model PATH      the generator: a model folder or llama2.c .bin\n"
           "  -p, --prompt TEXT     the prompt (a path to a file is refused: see --prompts)\n"
           "  --prompt-ids IDS      the prompt as generator ids, e.g. 1,5,7 (no template)\n");
    usage_batch(m);
    if (m == SEARCH_CLI_RECORD)
        printf("  -o, --output FILE     the record file to write (required)\n");
    if (m == SEARCH_CLI_BON || m == SEARCH_CLI_RECORD)
        printf("  -N N                  candidates (required)\n");
    if (m == SEARCH_CLI_SPR) policy_cli_usage(stdout);
    if (m != SEARCH_CLI_GENERATE)
        printf("  --reward PATH         reward-model checkpoint\n"
               "  --reward-source S     %s (default %s)\n"
               "  --reward-tokenizer P  the reward model's tokenizer if not in its folder\n"
               "  --reward-template T   the reward model's template (default auto)\n"
               "  --kv-budget BYTES     generator + reward KV cache bytes (default: what holds\n"
               "                        32 candidates at full length), e.g. 64M\n"
               "  --kv-budget-candidates K  the budget that holds K candidates at full\n"
               "                        length (the paper's unit: one GPU = Best-of-K)\n"
               "  --max-batch B         cap on candidates at once (default 1000)\n"
               "  --kv-block N          positions per KV cache block: 4, 8, 16 or 32 (default\n"
               "                        %d); the budget charges whole blocks\n"
               "  --prompt-kv MODE      shared (default): the prompt's KV is stored once and\n"
               "                        charged once; per-candidate: every candidate copies\n"
               "                        it and is charged for it, as the authors' code does\n"
               "  --lexicon PATH        gold judge lexicon (default " GOLD_DEFAULT_LEXICON ")\n"
               "  --closing-ids IDS     id-only runs: ids closing a response for the reward\n"
               "                        model (default its eos id; 'none' for none)\n",
               reward_names(), reward_at(0)->name, KV_BLOCK_DEFAULT);
    if (m != SEARCH_CLI_GENERATE) reward_cli_usage(stdout);
    if (m == SEARCH_CLI_BON || m == SEARCH_CLI_SPR) select_cli_usage(stdout);
    if (m != SEARCH_CLI_RECORD)
        printf("  --json [PATH|-]       one JSON object with the answer and costs\n");
    if (m == SEARCH_CLI_BON || m == SEARCH_CLI_SPR)
        printf("  --trace FILE          JSON lines, one per decision point\n"
               "  --explain             each decision point (Best-of-N: each wave) and the\n"
               "                        answer in words, on stderr\n");
    printf("  -n, --max-new N       response cap in tokens (default 128); not a sample\n"
           "                        count: that is -N\n"
           "  --temperature, --temp T   default 1 (0 = greedy)\n"
           "  --top-k K             default 50 (0 = off)\n"
           "  --top-p P             default 1 (off)\n"
           "                        (the four defaults: the model folder's\n"
           "                        generation_config.json when it sets them)\n"
           "  -s, --seed S          default 1 (README, \"Batch mode\", for --prompts)\n"
           "  -t, --threads N       OpenMP threads (default: OMP_NUM_THREADS or all cores)\n"
           ARGS_WEIGHTS_HELP
           ARGS_KV_DTYPE_HELP
           "  --template NAME       model (the checkpoint's own chat template), plain,\n"
           "                        chatml, llama3, or auto (default: model when the\n"
           "                        tokenizer has a chat template, else detected)\n"
           "  --system TEXT         a system message before the prompt (both models)\n"
           "  --thinking on|off     a model template's enable_thinking (Qwen3); default:\n"
           "                        the template's own\n"
           "  --tokenizer PATH      if not in the model folder\n"
           "  --stop-ids IDS        stop ids (default: the tokenizer's, else config eos)\n"
           "  --progress, --no-progress   the progress line on stderr (default: when\n"
           "                        stderr is a terminal)\n");
    if (m == SEARCH_CLI_GENERATE) printf("  --print-ids           print the generated ids\n");
    printf("  Flags take their value as --flag VALUE or --flag=VALUE.\n"
           "example:\n  %s\n", EXAMPLES[m]);
}
