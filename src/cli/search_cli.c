/* search_cli.c - the front end of generate, bon, spr, record and replay
 * (search_cli.h): flags, models and tokenizers, prompt and stop ids, the
 * run, its text/--json/--trace output, record files and batch mode. */
#define _POSIX_C_SOURCE 200809L
#include "base/datadir.h"
#include "cli/search_cli.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "base/json.h"
#include "base/progress.h"
#include "cli/args.h"
#include "cli/batch.h"
#include "cli/explain.h"
#include "cli/policy_cli.h"
#include "cli/reward_cli.h"
#include "cli/select_cli.h"
#include "text/gold.h"
#include "runtime/model.h"
#include "runtime/kvcache.h"
#include "search/policy.h"
#include "search/policy_args.h"
#include "search/record.h"
#include "search/replay.h"
#include "search/reward.h"
#include "search/search.h"
#include "cli/search_output.h"
#include "text/template.h"
#include "text/tokenizer.h"
#include "base/utf8.h"

/* run_prompt and record_one: this prompt cannot run (its text does not fit
 * a context or the tokenizer; err says why), which in a batch is the
 * prompt's own result, not the batch's end. */
#define PROMPT_CANNOT_RUN (-3)

static const char *const METHOD_NAMES[] = {"generate", "bon", "spr", "record", "replay"};

typedef struct Opts {
    SearchCliMethod method;
    const char *model, *tokenizer, *reward, *reward_tokenizer, *reward_source;
    char model_buf[4096], reward_buf[4096]; /* a shipped model's path (datadir_shipped) */
    int shard_i, shard_n; /* --shard I/N; shard_n 0: all prompts */
    const char *prompt, *prompt_ids, *stop_ids, *closing_ids;
    const char *template_name, *reward_template, *lexicon, *json, *trace;
    const char *system, *thinking; /* --system TEXT, --thinking on|off */
    TemplateOpts chat;             /* both models' templates get them (parse_opts) */
    const char *prompt_kv;
    long long n, max_batch, max_new, top_k, budget_candidates;
    long long kv_block;         /* --kv-block; 0: not given (KV_BLOCK_DEFAULT) */
    uint64_t seed;              /* every 64-bit value, exactly */
    int seed_given;
    double temperature, top_p;
    size_t kv_budget;
    int print_ids, help, explain;
    PolicyCli pcli;             /* spr and replay: the policy flags, as given */
    const Policy *policy;       /* spr: resolved from them (parse_opts) */
    PolicyArgs policy_args;
    RewardCli rcli;                 /* --reward-arg and the sources' own flags, as given */
    const RewardEntry *reward_entry; /* bon, spr, record: --reward-source, NULL if unknown
                                        (reward_open then says so) */
    PolicyArgs reward_args;         /* its arguments, resolved from rcli */
    SelectCli scli;                 /* bon, spr, replay: --select, --lambda, as given */
    SelectParams select;            /* resolved from them (parse_opts) */
    /* record and replay (issue 14) */
    const char *output, *record;
    int replay;                     /* method is then the simulated one (bon or spr) */
    /* batch mode (issue 16) and conventions */
    const char *prompts;            /* --prompts FILE: many prompts, models loaded once */
    int resume, progress;           /* progress: 1 --progress, -1 --no-progress, 0 auto */
    int short_n;                    /* the cap came as -n (vLLM's n is a sample count) */
    long long threads;
    int argc;                       /* the command line, for batch fingerprints */
    char **argv;
    /* where each sampling value came from: "flag", "generation_config", "default" */
    const char *src_temperature, *src_top_k, *src_top_p, *src_max_new;
} Opts;

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

static void usage(SearchCliMethod m) {
    const char *name = METHOD_NAMES[m];
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

/* --json's value is optional: a path, "-", or nothing (stdout). */
static int parse_json_flag(Opts *o, int argc, char **argv, int *i) {
    const char *a = argv[*i];
    if (strncmp(a, "--json=", 7) == 0) return o->json = a + 7, 1;
    if (strcmp(a, "--json") != 0) return 0;
    if (*i + 1 < argc && (argv[*i + 1][0] != '-' || strcmp(argv[*i + 1], "-") == 0))
        o->json = argv[++*i];
    else
        o->json = "-";
    return 1;
}

/* Flags with no value. */
static int parse_switch(Opts *o, const char *a) {
    if (args_is_flag(a, "--help", "-h")) return o->help = 1;
    if (args_is_flag(a, "--progress", NULL)) return o->progress = 1;
    if (args_is_flag(a, "--no-progress", NULL)) return o->progress = -1, 1;
    if (o->method != SEARCH_CLI_REPLAY && args_is_flag(a, "--resume", NULL)) return o->resume = 1;
    if (o->method == SEARCH_CLI_GENERATE && args_is_flag(a, "--print-ids", NULL))
        return o->print_ids = 1;
    return 0;
}

/* --shard I/N: 1 <= I <= N <= 2^20. */
static int parse_shard(Opts *o, const char *v, SrError *err) {
    char *end;
    long i = strtol(v, &end, 10), n = 0;
    if (end != v && *end == '/') {
        const char *d = end + 1;
        n = strtol(d, &end, 10);
        if (end == d || *end) n = 0;
    }
    if (n < 1 || n > (1 << 20) || i < 1 || i > n || v[0] == '+' || v[0] == ' ')
        return sr_fail(err, "--shard: '%s' is not I/N with 1 <= I <= N <= 1048576 (e.g. 2/4)", v);
    o->shard_i = (int)i, o->shard_n = (int)n;
    return 0;
}

static int parse_flag(Opts *o, int argc, char **argv, int *i, SrError *err) {
    const char *v = NULL;
    int r;
#define STR(flag, alias, field) \
    if ((r = args_take_value(argc, argv, i, flag, alias, &v, err)) != 0) \
        return r < 0 ? -1 : (o->field = v, 0);
#define INT(flag, alias, field, lo, hi) \
    if ((r = args_take_value(argc, argv, i, flag, alias, &v, err)) != 0) \
        return r < 0 ? -1 : args_parse_int(flag, v, lo, hi, &o->field, err);
#define DBL(flag, alias, field, lo, hi, incl) \
    if ((r = args_take_value(argc, argv, i, flag, alias, &v, err)) != 0) \
        return r < 0 ? -1 : args_parse_double(flag, v, lo, hi, incl, &o->field, err);
    if (parse_switch(o, argv[*i])) return 0;
    if (strcmp(argv[*i], "-n") == 0) o->short_n = 1;
    STR("--model", "-m", model)
    STR("--tokenizer", NULL, tokenizer)
    STR("--prompt", "-p", prompt)
    STR("--prompt-ids", NULL, prompt_ids)
    STR("--stop-ids", NULL, stop_ids)
    STR("--template", NULL, template_name)
    STR("--system", NULL, system)
    STR("--thinking", NULL, thinking)
    if (o->method != SEARCH_CLI_REPLAY &&
        (r = args_take_value(argc, argv, i, "--shard", NULL, &v, err)) != 0)
        return r < 0 ? -1 : parse_shard(o, v, err);
    INT("--max-new", "-n", max_new, 1, 1 << 20)
    if ((r = args_take_value(argc, argv, i, "--seed", "-s", &v, err)) != 0) {
        o->seed_given = 1;
        return r < 0 ? -1 : args_parse_u64("--seed", v, &o->seed, err);
    }
    INT("--top-k", NULL, top_k, 0, INT32_MAX)
    INT("--threads", "-t", threads, 1, 4096)
    DBL("--temperature", "--temp", temperature, 0, 1e6, 1)
    DBL("--top-p", NULL, top_p, 1e-9, 1, 1)
    if (o->method != SEARCH_CLI_REPLAY) STR("--prompts", "-f", prompts)
    if (o->method != SEARCH_CLI_REPLAY && (r = args_take_weights(argc, argv, i, err)) != 0)
        return r < 0 ? -1 : 0;
    if (o->method != SEARCH_CLI_REPLAY) STR("--output", "-o", output)
    if (o->method != SEARCH_CLI_GENERATE) {
        STR("--reward", NULL, reward)
        STR("--reward-tokenizer", NULL, reward_tokenizer)
        STR("--reward-source", NULL, reward_source)
        if ((r = reward_cli_take(&o->rcli, argc, argv, i, err)) != 0) return r < 0 ? -1 : 0;
        STR("--reward-template", NULL, reward_template)
        STR("--closing-ids", NULL, closing_ids)
        STR("--lexicon", NULL, lexicon)
        STR("--trace", NULL, trace)
        if (o->method != SEARCH_CLI_RECORD && strcmp(argv[*i], "--explain") == 0)
            return o->explain = 1, 0;
        STR("--prompt-kv", NULL, prompt_kv)
        INT("--max-batch", NULL, max_batch, 1, 1 << 20)
        INT("--kv-budget-candidates", NULL, budget_candidates, 1, 1 << 20)
        INT("--kv-block", NULL, kv_block, KV_BLOCK_MIN, KV_BLOCK_MAX)
        if ((r = args_take_value(argc, argv, i, "--kv-budget", NULL, &v, err)) != 0) {
            if (r < 0 || args_parse_bytes("--kv-budget", v, &o->kv_budget, err) != 0) return -1;
            /* 0 would read as "not given" (the default budget): refused */
            return o->kv_budget ? 0 : sr_fail(err, "--kv-budget: 0 bytes hold no candidate "
                                                   "(leave the flag out for the default)");
        }
    }
    if (parse_json_flag(o, argc, argv, i)) return 0;
    if (o->method == SEARCH_CLI_BON || o->method == SEARCH_CLI_RECORD ||
        o->method == SEARCH_CLI_REPLAY)
        INT("-N", NULL, n, 1, 1 << 20) /* memory grows with N */
    if (o->method == SEARCH_CLI_REPLAY) STR("--record", NULL, record)
    if (o->method == SEARCH_CLI_BON || o->method == SEARCH_CLI_SPR ||
        o->method == SEARCH_CLI_REPLAY) {
        if ((r = select_cli_take(&o->scli, argc, argv, i, err)) != 0) return r < 0 ? -1 : 0;
    }
    if (o->method == SEARCH_CLI_SPR || o->method == SEARCH_CLI_REPLAY) {
        if ((r = policy_cli_take(&o->pcli, argc, argv, i, err)) != 0) return r < 0 ? -1 : 0;
    }
#undef STR
#undef INT
#undef DBL
    return sr_fail(err, "%s: unknown flag '%s' (see specrej %s --help)", METHOD_NAMES[o->method],
                   argv[*i], METHOD_NAMES[o->method]);
}

/* A flag that would have no effect in this run is refused, so that nobody
 * believes a setting was used. */
static int check_no_effect(const Opts *o, SrError *err) {
    if (o->method == SEARCH_CLI_GENERATE) return 0;
    /* an unknown name: resolve_reward found no entry; reward_find says which are known */
    if (!o->reward_entry && !reward_find(o->reward_source, err)) return -1;
    if (o->prompt_ids && o->reward_tokenizer)
        return sr_fail(err, "--reward-tokenizer: has no effect in a run given as ids "
                            "(--prompt-ids)");
    if (reward_needs(o->reward_entry) & REWARD_NEEDS_MODEL) return 0;
    const char *flag = o->reward ? "--reward"
                       : o->reward_tokenizer ? "--reward-tokenizer"
                       : strcmp(o->reward_template, "auto") != 0 ? "--reward-template"
                       : o->closing_ids ? "--closing-ids" : NULL;
    if (flag)
        return sr_fail(err, "%s: has no effect with --reward-source %s (only with a reward "
                            "model)", flag, o->reward_source);
    return 0;
}
static int parse_replay_opts(Opts *o, SrError *err);

/* --prompt given the name of a file: almost always meant as --prompts (the
 * path would silently become the prompt text). Refused, with the way to say
 * either thing. */
static int check_prompt_not_file(const Opts *o, SrError *err) {
    struct stat st;
    if (!o->prompt || strlen(o->prompt) > 4096 || stat(o->prompt, &st) != 0 || !S_ISREG(st.st_mode))
        return 0;
    return sr_fail(err, "--prompt: '%s' is a file; --prompts %s runs the prompts in it, "
                        "--prompt \"$(cat %s)\" runs its text as one prompt", o->prompt,
                   o->prompt, o->prompt);
}

/* Batch mode's flags make sense only together. */
static int check_batch(const Opts *o, SrError *err) {
    if (!o->prompts && o->shard_n) return sr_fail(err, "--shard: only with --prompts FILE");
    if (!o->prompts) {
        if (o->resume) return sr_fail(err, "--resume: only with --prompts FILE");
        if (o->output && o->method != SEARCH_CLI_RECORD)
            return sr_fail(err, "--output: only with --prompts FILE (one run writes --json PATH)");
        return 0;
    }
    if (o->prompt || o->prompt_ids)
        return sr_fail(err, "--prompts: give one of --prompt, --prompt-ids and --prompts");
    if (o->resume && o->method != SEARCH_CLI_RECORD && (!o->output || !strcmp(o->output, "-")))
        return sr_fail(err, "--resume: needs --output FILE (stdout cannot resume)");
    if (o->json)
        return sr_fail(err, "--json: with --prompts every prompt's object is a line of --output "
                            "(default stdout)");
    if (o->trace) return sr_fail(err, "--trace: one run only (not with --prompts)");
    if (o->print_ids) return sr_fail(err, "--print-ids: one run only (not with --prompts)");
    if (o->method == SEARCH_CLI_RECORD && !o->output)
        return sr_fail(err, "--output: required (with --prompts: the folder for the ID.rec files)");
    return 0;
}

/* The source's entry and arguments. An unknown name is left to open_reward,
 * which names the known ones (a run error, as it always was). */
static int resolve_reward(Opts *o, SrError *err) {
    if (!(o->reward_entry = reward_find(o->reward_source, NULL))) return 0;
    if (reward_cli_resolve(&o->rcli, o->reward_entry, &o->reward_args, err) != 0) return -1;
    if (!o->reward && (reward_needs(o->reward_entry) & REWARD_NEEDS_MODEL)) {
        char others[256];
        reward_cli_modelless(others, sizeof others);
        return sr_fail(err, "--reward: required (or --reward-source %s)", others);
    }
    return 0;
}

/* An id list's syntax (the vocabulary's bound needs the model, later). */
static int check_id_list(const char *flag, const char *s, SrError *err) {
    int *ids = NULL, n = 0;
    if (!s) return 0;
    if (!*s) return sr_fail(err, "%s: empty (give ids, e.g. 5,17,3)", flag);
    int rc = args_parse_int_list(flag, s, 0, INT32_MAX, &ids, &n, err);
    free(ids);
    return rc;
}

/* Every check that needs no file, made while parsing, so that each of these
 * mistakes is a usage error (exit 2, README "Exit status") found before a
 * model is read, rather than a failure after loading. */
static int check_usage(const Opts *o, SrError *err) {
    static const char *const NAMES[] = {"--json", "--trace", "--output", "--record", "--model",
                                        "--prompts", "--tokenizer", "--reward", "--lexicon"};
    const char *vals[] = {o->json, o->trace, o->output, o->record, o->model,
                          o->prompts, o->tokenizer, o->reward, o->lexicon};
    for (size_t k = 0; k < sizeof NAMES / sizeof NAMES[0]; k++)
        if (vals[k] && !*vals[k])
            return sr_fail(err, "%s: empty file name%s", NAMES[k],
                           k == 0 ? " (give a path, or - for stdout)" : "");
    if (check_id_list("--prompt-ids", o->prompt_ids, err) != 0) return -1;
    if (check_id_list("--stop-ids", o->stop_ids, err) != 0) return -1;
    if (o->closing_ids && strcmp(o->closing_ids, "none") != 0 &&
        check_id_list("--closing-ids", o->closing_ids, err) != 0)
        return -1;
    if (template_check_name(o->template_name, "--template", err) != 0) return -1;
    if (template_check_name(o->reward_template, "--reward-template", err) != 0) return -1;
    if (o->kv_budget && o->budget_candidates)
        return sr_fail(err, "--kv-budget: give at most one of --kv-budget and "
                            "--kv-budget-candidates");
    if (o->prompt_kv && strcmp(o->prompt_kv, "shared") != 0 &&
        strcmp(o->prompt_kv, "per-candidate") != 0)
        return sr_fail(err, "--prompt-kv: '%s' is not shared or per-candidate", o->prompt_kv);
    return 0;
}

static int parse_opts(Opts *o, int argc, char **argv, SrError *err) {
    /* -1: not given (a replay takes the record's; others the model's
     * generation_config.json or the defaults, sampling_defaults) */
    o->max_new = -1, o->top_k = -1, o->temperature = -1, o->top_p = -1;
    o->max_batch = 1000;
    o->template_name = "auto", o->reward_template = "auto";
    for (int i = 1; i < argc; i++)
        if (parse_flag(o, argc, argv, &i, err) != 0) return -1;
    if (o->help) return 0;
    /* Set for every run, given or not: compare and the tests call this
     * function many times in one process, and a run without the flag must
     * not inherit the last one's blocks. */
    SrError ignored;
    if (kv_set_block_size(o->kv_block ? (int)o->kv_block : KV_BLOCK_DEFAULT, &ignored) != 0)
        return sr_fail(err, "--kv-block: %lld is not a power of two in [%d, %d]", o->kv_block,
                       KV_BLOCK_MIN, KV_BLOCK_MAX);
    if (select_cli_resolve(&o->scli, &o->select, err) != 0) return -1;
    if (o->method == SEARCH_CLI_REPLAY)
        return parse_replay_opts(o, err) != 0 ? -1 : check_usage(o, err);
    if (!o->seed_given) o->seed = 1;
    o->chat.system = o->system;
    o->chat.thinking = -1;
    if (o->thinking) {
        if (strcmp(o->thinking, "on") != 0 && strcmp(o->thinking, "off") != 0)
            return sr_fail(err, "--thinking: '%s' is not on or off", o->thinking);
        o->chat.thinking = strcmp(o->thinking, "on") == 0;
    }
    if (o->prompt_ids && (o->system || o->thinking))
        return sr_fail(err, "%s: no template is applied to --prompt-ids",
                       o->system ? "--system" : "--thinking");
    if (o->method == SEARCH_CLI_RECORD) {
        if (!o->output) return sr_fail(err, "--output: required (the record file to write)");
        if (o->json || o->trace)
            return sr_fail(err, "record: --json and --trace belong to replay (the record run "
                                "scores every candidate at every length)");
    }
    if (!o->model) return sr_fail(err, "--model: required");
    if (datadir_shipped(o->model, o->model_buf, sizeof o->model_buf)) o->model = o->model_buf;
    if (datadir_shipped(o->reward, o->reward_buf, sizeof o->reward_buf)) o->reward = o->reward_buf;
    if (check_batch(o, err) != 0) return -1;
    if (!o->prompts && !o->prompt == !o->prompt_ids)
        return sr_fail(err, "give exactly one of --prompt TEXT and --prompt-ids IDS");
    if (check_prompt_not_file(o, err) != 0) return -1;
    if ((o->method == SEARCH_CLI_BON || o->method == SEARCH_CLI_RECORD) && o->n < 1)
        return sr_fail(err, "-N: required (>= 1)");
    if (o->method == SEARCH_CLI_SPR &&
        policy_cli_resolve(&o->pcli, NULL, &o->policy, &o->policy_args, err) != 0)
        return -1;
    if (o->method != SEARCH_CLI_GENERATE) {
        if (!o->reward_source) o->reward_source = reward_at(0)->name;
        if (resolve_reward(o, err) != 0) return -1;
    }
    if (check_usage(o, err) != 0) return -1;
    return check_no_effect(o, err);
}

/* generation_config.json's sampling keys (transformers' names) as
 * defaults: a flag wins over the file, the file over specrej's defaults;
 * o->src_* record which won for --json ("sampling_source"). do_sample false
 * means greedy, as in transformers. A key of the wrong type or range is an
 * error naming the file, not a silent fallback. */
static int read_generation_config(const char *model, cJSON **out, char *path, size_t cap,
                                  SrError *err) {
    struct stat st;
    *out = NULL;
    if (stat(model, &st) != 0 || !S_ISDIR(st.st_mode)) return 0; /* a .bin: no folder */
    snprintf(path, cap, "%s/generation_config.json", model);
    if (stat(path, &st) != 0) return 0;
    char *text = NULL;
    size_t len = 0;
    if (file_read_all(path, 1 << 20, &text, &len, err) != 0) return -1;
    int rc = sr_json_parse(text, len, path, NULL, out, err);
    free(text);
    if (rc == 0 && !cJSON_IsObject(*out)) {
        cJSON_Delete(*out);
        *out = NULL;
        return sr_fail(err, "%s: not a JSON object", path);
    }
    return rc;
}

/* *field = the file's key when the flag left it unset (< 0). */
static int gc_number(const cJSON *gc, const char *path, const char *key, double lo, double hi,
                     int integer, double *field, const char **src, SrError *err) {
    if (*field >= 0) return *src = "flag", 0;
    const cJSON *v = gc ? cJSON_GetObjectItemCaseSensitive(gc, key) : NULL;
    if (!v || cJSON_IsNull(v)) return 0;
    double x = v->valuedouble;
    if (!cJSON_IsNumber(v) || !(x >= lo && x <= hi) || (integer && x != (double)(long long)x)) {
        char l[40], h[40];
        return sr_fail(err, "%s: \"%s\" must be %s in [%s, %s]", path, key,
                       integer ? "an integer" : "a number", args_fmt_limit(lo, l, sizeof l),
                       args_fmt_limit(hi, h, sizeof h));
    }
    *field = x;
    *src = "generation_config";
    return 0;
}

static int sampling_defaults(Opts *o, SrError *err) {
    char path[4200] = "";
    cJSON *gc = NULL;
    if (read_generation_config(o->model, &gc, path, sizeof path, err) != 0) return -1;
    double top_k = (double)o->top_k, max_new = (double)o->max_new;
    o->src_temperature = o->src_top_k = o->src_top_p = o->src_max_new = "default";
    int rc = gc_number(gc, path, "temperature", 0, 1e6, 0, &o->temperature, &o->src_temperature,
                       err);
    if (rc == 0) rc = gc_number(gc, path, "top_k", 0, INT32_MAX, 1, &top_k, &o->src_top_k, err);
    if (rc == 0) rc = gc_number(gc, path, "top_p", 1e-9, 1, 0, &o->top_p, &o->src_top_p, err);
    if (rc == 0)
        rc = gc_number(gc, path, "max_new_tokens", 1, 1 << 20, 1, &max_new, &o->src_max_new, err);
    const cJSON *ds = gc ? cJSON_GetObjectItemCaseSensitive(gc, "do_sample") : NULL;
    if (rc == 0 && ds && !cJSON_IsBool(ds))
        rc = sr_fail(err, "%s: \"do_sample\" must be true or false", path);
    if (rc == 0 && cJSON_IsFalse(ds) && strcmp(o->src_temperature, "flag") != 0)
        o->temperature = 0, o->src_temperature = "generation_config";
    cJSON_Delete(gc);
    o->top_k = (long long)top_k, o->max_new = (long long)max_new;
    if (o->max_new < 0) o->max_new = 128;
    if (o->top_k < 0) o->top_k = 50;
    if (o->temperature < 0) o->temperature = 1;
    if (o->top_p < 0) o->top_p = 1;
    return rc;
}

/* {"temperature": "flag" | "generation_config" | "default" | "record",
 * "top_k", "top_p", "max_new"}: which source set each sampling value of the
 * run ("record": a replay's are the record's). */
static void add_sampling_source(cJSON *j, const Opts *o) {
    int rec = !o->src_temperature;
    cJSON *s = cJSON_AddObjectToObject(j, "sampling_source");
    cJSON_AddStringToObject(s, "temperature", rec ? "record" : o->src_temperature);
    cJSON_AddStringToObject(s, "top_k", rec ? "record" : o->src_top_k);
    cJSON_AddStringToObject(s, "top_p", rec ? "record" : o->src_top_p);
    cJSON_AddStringToObject(s, "max_new", rec ? "record" : o->src_max_new);
}

/* Everything a run holds; freed in one place. */
typedef struct Session {
    Model *gen;
    Tokenizer *tok;
    RewardSource *rs;
    GoldJudge *gold;
    IntVec prompt, stops;
    int *list, n_list, *closing, n_closing;
    SearchResult res;
    TraceWriter trace;
    char *response;
    size_t response_len;
    unsigned char *sampleable; /* NULL when the tokenizer decodes every id */
    Record rec;        /* replay: the record, and its generator and source */
    Replay replay;
    int replaying;
    int cand_limit;    /* replay: the record's candidates */
    /* loaded once for every prompt of a batch */
    Model *rm;         /* the reward model, lent to each prompt's source */
    int tok_tried;     /* the generator's tokenizer was looked for */
    SrError tok_err;   /* why it did not load */
    Progress progress; /* the search's line (one run) */
    BatchOut *out;     /* batch mode: where each prompt's line goes */
    const char *id;    /* batch mode: the prompt's id */
    char fp[32];       /* batch mode: the prompt's fingerprint (batch_fingerprint) */
    /* content hashes of the loaded models, made once per session: every
     * prompt of a batch and both --json and --trace report them */
    uint64_t gen_hash, rm_hash;
    int gen_hashed, rm_hashed;
} Session;

/* Frees what one prompt's run made, keeping the models, the tokenizer and
 * the gold judge for the next prompt. */
static void session_reset_run(Session *s) {
    search_result_free(&s->res);
    memset(&s->res, 0, sizeof s->res);
    reward_close(s->rs);
    s->rs = NULL;
    s->prompt.len = 0, s->stops.len = 0;
    free(s->list), free(s->closing), free(s->response), free(s->sampleable);
    s->list = s->closing = NULL;
    s->n_list = s->n_closing = 0;
    s->response = NULL, s->response_len = 0;
    s->sampleable = NULL;
}

static void session_free(Session *s) {
    search_result_free(&s->res);
    trace_abort(&s->trace);
    if (s->replaying) {
        replay_close(&s->replay); /* owns s->rs */
        s->rs = NULL;
        record_free(&s->rec);
    }
    reward_close(s->rs);
    model_free(s->rm); /* after the source that borrowed it */
    gold_free(s->gold);
    tokenizer_free(s->tok);
    model_free(s->gen);
    intvec_free(&s->prompt);
    intvec_free(&s->stops);
    free(s->list), free(s->closing), free(s->response), free(s->sampleable);
}

/* The tokenizer of a model given without --tokenizer: its folder, or for a
 * checkpoint file (a llama2.c .bin, a .safetensors) the folder it lies in,
 * where tokenizer.json or tokenizer.bin is looked for. Reading the
 * checkpoint itself as a tokenizer gave "model.bin: token 1 has length
 * 33554432". */
static const char *model_tokenizer_path(const char *model, char *buf, size_t cap) {
    struct stat st;
    if (stat(model, &st) != 0 || S_ISDIR(st.st_mode)) return model;
    const char *slash = strrchr(model, '/');
    if (!slash) snprintf(buf, cap, ".");
    else snprintf(buf, cap, "%.*s", (int)(slash - model) > 0 ? (int)(slash - model) : 1, model);
    return buf;
}

static int load_prompt(Session *s, const Opts *o, SrError *err) {
    const ModelConfig *cfg = model_config(s->gen);
    char dir[4200];
    const char *tp = o->tokenizer ? o->tokenizer : model_tokenizer_path(o->model, dir, sizeof dir);
    if (!s->tok_tried && tokenizer_load(tp, cfg->vocab_size, &s->tok, &s->tok_err) != 0) {
        s->tok = NULL;
        if (!o->tokenizer && tp == dir) /* say which file was missing, and the way out */
            sr_fail(&s->tok_err, "%.200s: no tokenizer.json or tokenizer.bin beside the "
                                 "checkpoint %.200s (give --tokenizer PATH)", tp, o->model);
    }
    s->tok_tried = 1;
    if (!s->tok && (o->prompt || o->tokenizer)) return sr_fail(err, "%s", s->tok_err.msg);
    if (o->prompt_ids) {
        if (args_parse_int_list("--prompt-ids", o->prompt_ids, 0, cfg->vocab_size - 1, &s->list,
                                &s->n_list, err) != 0)
            return -1;
        if (intvec_extend(&s->prompt, s->list, s->n_list, err) != 0) return -1;
    } else {
        TemplateKind k;
        if (template_parse(o->template_name, s->tok, &k, err) != 0) return -1;
        if (template_prompt_ids_opts(s->tok, k, o->prompt, &o->chat, &s->prompt, err) != 0)
            return -1;
    }
    if (s->prompt.len >= cfg->max_seq_len)
        return sr_fail(err, "prompt: %d tokens leave no room in the generator's context of %d",
                       s->prompt.len, cfg->max_seq_len);
    if (o->stop_ids) {
        int *ids, n;
        if (args_parse_int_list("--stop-ids", o->stop_ids, 0, cfg->vocab_size - 1, &ids, &n,
                                err) != 0)
            return -1;
        int rc = intvec_extend(&s->stops, ids, n, err);
        free(ids);
        return rc;
    }
    if (s->tok) {
        for (int id = 0; id < tokenizer_vocab_size(s->tok) && id < cfg->vocab_size; id++)
            if (tokenizer_is_stop(s->tok, id) && intvec_push(&s->stops, id, err) != 0) return -1;
        return 0;
    }
    for (int i = 0; i < cfg->n_eos_ids; i++)
        if (intvec_push(&s->stops, cfg->eos_ids[i], err) != 0) return -1;
    if (cfg->n_eos_ids == 0 && cfg->eos_id >= 0) return intvec_push(&s->stops, cfg->eos_id, err);
    return 0;
}

/* generate ranks nothing, but the driver scores its one candidate: with the
 * first source that needs nothing beyond the generator's own output. */
static const char *generate_source(void) {
    for (int i = 0; i < reward_count(); i++)
        if (!(reward_needs(reward_at(i)) & ~(unsigned)REWARD_NEEDS_LOGPROBS))
            return reward_at(i)->name;
    return reward_at(0)->name;
}

static int open_reward(Session *s, const Opts *o, SrError *err) {
    RewardContext ctx = {0};
    ctx.path = o->reward;
    ctx.model = s->rm;
    ctx.tokenizer_path = o->reward_tokenizer;
    ctx.lexicon = o->lexicon;
    ctx.template_name = o->reward_template;
    ctx.chat = &o->chat;
    ctx.prompt_text = o->prompt_ids ? NULL : o->prompt;
    ctx.prompt_ids = s->prompt.data;
    ctx.n_prompt = s->prompt.len;
    ctx.gen_tok = s->tok;
    ctx.gen_vocab = model_config(s->gen)->vocab_size;
    if (o->closing_ids) {
        ctx.closing_given = 1;
        if (strcmp(o->closing_ids, "none") != 0 &&
            args_parse_int_list("--closing-ids", o->closing_ids, 0, INT32_MAX, &s->closing,
                                &s->n_closing, err) != 0)
            return -1;
        ctx.closing_ids = s->closing;
        ctx.n_closing = s->n_closing;
    }
    if (o->method == SEARCH_CLI_GENERATE) return reward_open(generate_source(), &ctx, &s->rs, err);
    ctx.entry = o->reward_entry;
    ctx.args = o->reward_entry ? &o->reward_args : NULL;
    return reward_open(o->reward_source, &ctx, &s->rs, err);
}

/* With a tokenizer, only ids it can decode are sampled: a model's rows may
 * outnumber its tokens (padded vocabularies), and an undecodable id would
 * lose the whole run when the answer is printed. */
static int mask_undecodable(Session *s, SearchParams *p, SrError *err) {
    if (!s->tok || !s->gen) return 0; /* no tokenizer, or a replay: no logits to mask */
    int vocab = model_config(s->gen)->vocab_size, missing = 0;
    s->sampleable = sr_malloc_array((size_t)vocab, 1, err);
    if (!s->sampleable) return -1;
    for (int id = 0; id < vocab; id++) {
        s->sampleable[id] = (unsigned char)tokenizer_can_decode(s->tok, id);
        missing += !s->sampleable[id];
    }
    if (missing == 0) {
        free(s->sampleable);
        s->sampleable = NULL;
    }
    p->sampleable = s->sampleable;
    return 0;
}

static int fill_params(Session *s, const Opts *o, SearchParams *p, SrError *err) {
    memset(p, 0, sizeof *p);
    p->max_new = (int)o->max_new;
    p->seed = o->seed;
    p->sampling.temperature = o->temperature;
    p->sampling.top_k = (int)o->top_k;
    p->sampling.top_p = o->top_p;
    p->stop_ids = s->stops.data;
    p->n_stop = s->stops.len;
    p->max_batch = (int)o->max_batch;
    p->kv_budget = o->kv_budget;
    p->budget_candidates = (int)o->budget_candidates;
    if (o->kv_budget && o->budget_candidates)
        return sr_fail(err, "give at most one of --kv-budget and --kv-budget-candidates");
    if (o->prompt_kv && strcmp(o->prompt_kv, "shared") != 0 &&
        strcmp(o->prompt_kv, "per-candidate") != 0)
        return sr_fail(err, "--prompt-kv: '%s' is not shared or per-candidate", o->prompt_kv);
    p->prompt_kv_per_candidate = o->prompt_kv && strcmp(o->prompt_kv, "per-candidate") == 0;
    p->select = o->select;
    p->label = METHOD_NAMES[o->method];
    if (s->replaying) p->cand_limit = s->cand_limit, p->cand_limit_source = o->record;
    /* batch mode draws one line per prompt instead (batch_main) */
    int show = o->progress > 0 || (o->progress == 0 && isatty(STDERR_FILENO));
    progress_init(&s->progress, show && !o->prompts && !o->explain, METHOD_NAMES[o->method],
                  "steps");
    p->progress = &s->progress;
    if (o->method == SEARCH_CLI_GENERATE) p->n = 1, p->kv_budget = SIZE_MAX;
    if (o->method == SEARCH_CLI_BON || o->method == SEARCH_CLI_RECORD) p->n = (int)o->n;
    if (o->method == SEARCH_CLI_SPR) {
        p->policy = o->policy;
        p->policy_args = o->policy_args;
    } else {
        if (!(p->policy = policy_find("none", err))) return -1;
        if (policy_args_init(p->policy, &p->policy_args, err) != 0) return -1;
    }
    return mask_undecodable(s, p, err);
}

static int decode_response(Session *s, const SearchCandidate *c, SrError *err) {
    if (s->replaying) { /* the answer ran to its recorded end: the recorded text */
        const RecordCand *k = &s->rec.cands[c->index];
        if (!s->rec.has_text) return 0;
        if (!(s->response = sr_malloc_array(k->text_len + 1, 1, err))) return -1;
        memcpy(s->response, k->text, k->text_len + 1);
        s->response_len = k->text_len;
        return 0;
    }
    if (!s->tok) return 0;
    return tokenizer_decode(s->tok, c->tokens.data, c->tokens.len, &s->response,
                            &s->response_len, err);
}

static void print_ids(const SearchCandidate *c) {
    for (int i = 0; i < c->tokens.len; i++) printf(i ? " %d" : "%d", c->tokens.data[i]);
    printf("\n");
}

/* Every candidate's outcome (the experiments compare methods candidate by
 * candidate): final or last partial score, where it was cut, its NLL, and its
 * gold score when the judge is loaded. NULL on allocation failure. */
static cJSON *candidates_json(Session *s, SrError *err) {
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; arr && i < s->res.n; i++) {
        const SearchCandidate *c = &s->res.cands[i];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "i", c->index);
        cJSON_AddNumberToObject(e, "len", c->tokens.len);
        cJSON_AddBoolToObject(e, "stop", c->stop_id >= 0);
        cJSON_AddBoolToObject(e, "finished", c->state == CAND_FINISHED);
        cJSON_AddBoolToObject(e, "scored", c->scored);
        cJSON_AddNumberToObject(e, "score", c->score);
        cJSON_AddNumberToObject(e, "rejected_at", c->rejected_at);
        cJSON_AddNumberToObject(e, "nll", c->nll_sum);
        cJSON_AddNumberToObject(e, "n_sampled", c->tokens.len + (c->stop_id >= 0));
        char *text = NULL;
        size_t len = 0;
        if (s->replaying && s->rec.has_gold) {
            cJSON_AddNumberToObject(e, "gold", s->rec.cands[c->index].gold[c->tokens.len]);
        } else if (s->gold && s->tok) {
            SrError derr;
            if (tokenizer_decode(s->tok, c->tokens.data, c->tokens.len, &text, &len, &derr) == 0)
                cJSON_AddNumberToObject(e, "gold", gold_score(s->gold, text, len));
            else /* not decodable: no text to judge, but the run is kept */
                cJSON_AddNullToObject(e, "gold");
            free(text);
        } else {
            cJSON_AddNullToObject(e, "gold");
        }
        cJSON_AddItemToArray(arr, e);
    }
    if (!arr) sr_fail(err, "--json: out of memory");
    return arr;
}

/* "model"/"reward": {"path", "hash"}; hash as "fnv1a64:<16 hex>" of the
 * checkpoint folder (record_hash_model), or null. A replay reports the
 * record's, so that its JSON is the live run's. */
static cJSON *model_ref_json(const char *path, uint64_t hash) {
    cJSON *m = cJSON_CreateObject();
    char hex[32];
    snprintf(hex, sizeof hex, "fnv1a64:%016llx", (unsigned long long)hash);
    if (path && *path) cJSON_AddStringToObject(m, "path", path);
    else cJSON_AddNullToObject(m, "path");
    if (path && *path) cJSON_AddStringToObject(m, "hash", hex);
    else cJSON_AddNullToObject(m, "hash");
    return m;
}

/* cJSON_CreateIntArray gives NULL (the key would vanish) for no ids */
static cJSON *ids_json(const int *ids, int n) {
    return n > 0 ? cJSON_CreateIntArray(ids, n) : cJSON_CreateArray();
}

/* The generator's (and, want_rm, the reward model's) content hash, read
 * from the files once per session. */
static int session_hashes(Session *s, const Opts *o, int want_rm, SrError *err) {
    if (!s->gen_hashed && record_hash_model(o->model, &s->gen_hash, err) != 0) return -1;
    s->gen_hashed = 1;
    if (want_rm && !s->rm_hashed && record_hash_model(o->reward, &s->rm_hash, err) != 0)
        return -1;
    s->rm_hashed |= want_rm;
    return 0;
}

/* params.reward.params: the source's argument values, only for a source
 * that declares parameters (the others' output stays as it always was). A
 * replay gives the record's, as the live run printed them. */
static int add_reward_args(Session *s, const Opts *o, cJSON *r, SrError *err) {
    cJSON *args = NULL;
    if (s->replaying) {
        if (!s->rec.rs_args) return 0;
        if (sr_json_parse(s->rec.rs_args, strlen(s->rec.rs_args), o->record, NULL, &args, err) != 0)
            return -1;
    } else {
        if (!o->reward_entry || o->reward_entry->n_params == 0) return 0;
        args = reward_cli_json(o->reward_entry, &o->reward_args);
    }
    if (!args) return sr_fail(err, "--json: out of memory");
    cJSON_AddItemToObject(r, "params", args);
    return 0;
}

/* Every parameter of the run (docs/output-schema.md): what reproduces it. */
static cJSON *params_json(Session *s, const Opts *o, const SearchParams *p, SrError *err) {
    uint64_t gen_hash = 0, rm_hash = 0;
    const char *gen_path = o->model, *rm_path = NULL;
    int model_src = o->method != SEARCH_CLI_GENERATE &&
                    (reward_needs(o->reward_entry) & REWARD_NEEDS_MODEL);
    if (s->replaying) {
        gen_path = s->rec.gen_path, gen_hash = s->rec.gen_hash;
        rm_path = s->rec.rm_path, rm_hash = s->rec.rm_hash;
    } else {
        int want_rm = model_src && o->reward;
        if (session_hashes(s, o, want_rm, err) != 0) return NULL;
        gen_hash = s->gen_hash;
        if (want_rm) rm_path = o->reward, rm_hash = s->rm_hash;
    }
    cJSON *j = cJSON_CreateObject();
    if (!j) return sr_fail(err, "--json: out of memory"), NULL;
    cJSON_AddItemToObject(j, "model", model_ref_json(gen_path, gen_hash));
    if (o->method == SEARCH_CLI_GENERATE) {
        cJSON_AddNullToObject(j, "reward");
    } else {
        cJSON *r = model_ref_json(rm_path, rm_hash);
        cJSON_AddStringToObject(r, "source", s->rs->name);
        cJSON_AddStringToObject(r, "detail", s->rs->detail);
        /* --closing-ids changes every score, so it is part of what repeats
         * the run: the ids as given ([] for none), null for the default */
        if (s->replaying && s->rec.rs_closing_len == 0 && s->rec.has_rm_cfg)
            /* a record keeps how many closing ids there were, not which:
             * none is the one case it can tell (a record format change
             * would be needed for the rest) */
            cJSON_AddItemToObject(r, "closing_ids", cJSON_CreateArray());
        else if (o->closing_ids && !s->replaying)
            cJSON_AddItemToObject(r, "closing_ids", ids_json(s->closing, s->n_closing));
        else
            cJSON_AddNullToObject(r, "closing_ids");
        cJSON_AddItemToObject(j, "reward", r);
        if (add_reward_args(s, o, r, err) != 0) {
            cJSON_Delete(j);
            return NULL;
        }
    }
    cJSON *sm = cJSON_AddObjectToObject(j, "sampling");
    /* as digits: a double would round seeds above 2^53 (the run could not
     * be repeated from its own output) */
    char seed[24];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)p->seed);
    cJSON_AddRawToObject(sm, "seed", seed);
    cJSON_AddNumberToObject(sm, "temperature", p->sampling.temperature);
    cJSON_AddNumberToObject(sm, "top_k", p->sampling.top_k);
    cJSON_AddNumberToObject(sm, "top_p", p->sampling.top_p);
    cJSON_AddNumberToObject(sm, "max_new", p->max_new);
    cJSON_AddItemToObject(sm, "stop_ids", ids_json(p->stop_ids, p->n_stop));
    if (p->n > 0) cJSON_AddNumberToObject(j, "N", p->n);
    else cJSON_AddNullToObject(j, "N");
    cJSON *b = cJSON_AddObjectToObject(j, "budget");
    if (o->kv_budget) cJSON_AddNumberToObject(b, "kv_budget_given", (double)o->kv_budget);
    else cJSON_AddNullToObject(b, "kv_budget_given");
    if (o->budget_candidates) cJSON_AddNumberToObject(b, "kv_budget_candidates",
                                                      (double)o->budget_candidates);
    else cJSON_AddNullToObject(b, "kv_budget_candidates");
    cJSON_AddNumberToObject(b, "max_batch", p->max_batch);
    cJSON_AddStringToObject(b, "prompt_kv", p->prompt_kv_per_candidate ? "per-candidate"
                                                                       : "shared");
    cJSON_AddNumberToObject(b, "kv_block", kv_block_size());
    cJSON_AddItemToObject(j, "policy", policy_cli_json(p->policy, &p->policy_args));
    cJSON *sel = select_cli_json(&p->select); /* absent for argmax: older output unchanged */
    if (sel) cJSON_AddItemToObject(j, "select", sel);
    return j;
}

/* j[key] = text as valid UTF-8 (JSON text must be), and j[key_replaced] =
 * how many bytes were not and became U+FFFD (the ids are exact). NULL text:
 * null and 0. */
static int add_text(cJSON *j, const char *key, const char *key_replaced, const char *text,
                    size_t len, SrError *err) {
    size_t replaced = 0;
    if (!text) {
        cJSON_AddNullToObject(j, key);
    } else {
        char *clean = utf8_sanitize(text, len, &replaced, err);
        if (!clean) return -1;
        cJSON_AddStringToObject(j, key, clean);
        free(clean);
    }
    cJSON_AddNumberToObject(j, key_replaced, (double)replaced);
    return 0;
}

/* The run's object to --json (pretty), or in batch mode as one compact line
 * of the output with "id" first. */
static int emit_json(Session *s, const Opts *o, cJSON *j, SrError *err) {
    if (!s->out) return json_write_file(o->json, j, err);
    cJSON *id = cJSON_CreateString(s->id);
    if (!id) return sr_fail(err, "--json: out of memory");
    cJSON_AddItemToObject(j, "id", id);
    cJSON_InsertItemInArray(j, 0, cJSON_DetachItemViaPointer(j, id));
    cJSON_AddStringToObject(j, "fingerprint", s->fp);
    char *line = cJSON_PrintUnformatted(j);
    if (!line) return sr_fail(err, "--json: out of memory");
    int rc = batch_out_write(s->out, line, err);
    free(line);
    return rc;
}

static int write_json(Session *s, const Opts *o, const SearchParams *p, double gold, int has_gold,
                      SrError *err) {
    const SearchCandidate *c = &s->res.cands[s->res.best];
    cJSON *j = output_begin("result");
    cJSON *params = j ? params_json(s, o, p, err) : NULL;
    if (!params) {
        cJSON_Delete(j);
        return j ? -1 : sr_fail(err, "--json: out of memory");
    }
    cJSON_AddStringToObject(j, "method", METHOD_NAMES[o->method]);
    cJSON_AddItemToObject(j, "params", params);
    size_t prompt_len = o->prompt ? strlen(o->prompt) : 0;
    if (add_text(j, "prompt", "prompt_replaced_bytes", o->prompt, prompt_len, err) != 0) {
        cJSON_Delete(j);
        return -1;
    }
    cJSON_AddItemToObject(j, "prompt_ids", cJSON_CreateIntArray(s->prompt.data, s->prompt.len));
    if (add_text(j, "response", "response_replaced_bytes", s->response, s->response_len,
                 err) != 0) {
        cJSON_Delete(j);
        return -1;
    }
    cJSON_AddItemToObject(j, "response_ids", cJSON_CreateIntArray(c->tokens.data, c->tokens.len));
    cJSON_AddStringToObject(j, "stop_reason", c->stop_id >= 0 ? "stop_id" : "max_new");
    cJSON_AddNumberToObject(j, "reward", c->score);
    if (has_gold) cJSON_AddNumberToObject(j, "gold", gold);
    else cJSON_AddNullToObject(j, "gold");
    cJSON_AddNumberToObject(j, "candidate", c->index);
    cJSON *st = search_stats_json(&s->res.stats, 0);
    if (st) cJSON_AddItemToObject(j, "stats", st);
    if (st) cJSON_AddItemToObject(st, "wave_costs", search_wave_costs_json(&s->res));
    cJSON *cands = candidates_json(s, err);
    if (!cands) {
        cJSON_Delete(j);
        return -1;
    }
    cJSON_AddItemToObject(j, "candidates", cands);
    if (s->replaying) cJSON_AddBoolToObject(j, "replayed", 1);
    add_sampling_source(j, o);
    int rc = emit_json(s, o, j, err);
    cJSON_Delete(j);
    return rc;
}

static void print_text(Session *s, const Opts *o, double gold, int has_gold) {
    const SearchCandidate *c = &s->res.cands[s->res.best];
    const SearchStats *st = &s->res.stats;
    if (s->response) {
        fwrite(s->response, 1, s->response_len, stdout);
        printf("\n");
    } else {
        print_ids(c);
    }
    if (o->method == SEARCH_CLI_GENERATE) return;
    printf("reward: %.6f (%s, candidate %d of %d)\n", c->score, s->rs->name, c->index, s->res.n);
    if (has_gold) printf("gold: %.3f\n", gold);
    search_stats_print(stdout, st);
    if (s->replaying) printf("replayed from %s (no model was run)\n", o->record);
}

static int finish(Session *s, const Opts *o, const SearchParams *p, SrError *err) {
    if (s->res.best < 0) return sr_fail(err, "%s: no candidate finished", METHOD_NAMES[o->method]);
    const SearchCandidate *c = &s->res.cands[s->res.best];
    SrError derr = {{0}};
    if (decode_response(s, c, &derr) != 0) {
        /* the run is done: give its ids rather than lose it (the sampling
         * mask above makes this unreachable with the run's own tokenizer) */
        fprintf(stderr, "specrej: warning: %s; the response is given as ids\n", derr.msg);
        s->response = NULL;
    }
    if (o->method == SEARCH_CLI_GENERATE && o->print_ids) {
        print_ids(c);
        return 0;
    }
    double gold = 0;
    int has_gold = 0;
    if (s->replaying) {
        if ((has_gold = s->rec.has_gold)) gold = s->rec.cands[c->index].gold[c->tokens.len];
    } else if (s->response && o->method != SEARCH_CLI_GENERATE) {
        /* a judge that cannot be loaded is an error, never a silent null gold */
        char def[4096];
        if (!s->gold && ((!o->lexicon && gold_default_lexicon(def, sizeof def, err) != 0) ||
                         gold_load(o->lexicon ? o->lexicon : def, &s->gold, err) != 0))
            return -1;
        gold = gold_score(s->gold, s->response, s->response_len);
        has_gold = 1;
    }
    if (o->json || s->out) return write_json(s, o, p, gold, has_gold, err);
    print_text(s, o, gold, has_gold);
    return 0;
}

/* The same name, or two names of one existing file. */
static int same_file(const char *a, const char *b) {
    struct stat x, y;
    if (strcmp(a, b) == 0) return 1;
    return stat(a, &x) == 0 && stat(b, &y) == 0 && x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}

/* ---- record and replay (issue 14; replay.h) ------------------------------ */

static int parse_replay_opts(Opts *o, SrError *err) {
    if (!o->record) return sr_fail(err, "--record: required (a file written by specrej record)");
    const char *fixed = o->model ? "--model" : o->prompt ? "--prompt" : o->prompt_ids ? "--prompt-ids"
                        : o->reward ? "--reward" : o->reward_source ? "--reward-source"
                        : o->tokenizer ? "--tokenizer" : o->reward_tokenizer ? "--reward-tokenizer"
                        : o->stop_ids ? "--stop-ids" : o->closing_ids ? "--closing-ids"
                        : o->lexicon ? "--lexicon"
                        : reward_cli_given(&o->rcli) ? "--reward-arg"
                        : strcmp(o->template_name, "auto") ? "--template"
                        : strcmp(o->reward_template, "auto") ? "--reward-template"
                        : o->system ? "--system" : o->thinking ? "--thinking" : NULL;
    if (fixed) return sr_fail(err, "replay: %s is fixed by the record (%s)", fixed, o->record);
    int spr = policy_cli_given(&o->pcli);
    if (spr && o->n)
        return sr_fail(err, "replay: give one of --alpha/--policy (Speculative Rejection) and -N "
                            "(Best-of-N)");
    if (!spr && !o->n)
        return sr_fail(err, "replay: give --alpha A or --policy NAME (Speculative Rejection) or "
                            "-N N (Best-of-N)");
    o->replay = 1;
    o->method = o->n ? SEARCH_CLI_BON : SEARCH_CLI_SPR;
    if (spr && policy_cli_resolve(&o->pcli, NULL, &o->policy, &o->policy_args, err) != 0)
        return -1;
    return 0;
}

/* The record fixes sampling, seed and length: a replay can take them only
 * as recorded. */
static int replay_check(const Opts *o, const Record *r, SrError *err) {
    if (o->seed_given && o->seed != r->seed)
        return sr_fail(err, "--seed: %llu differs from the record's %llu (%s)",
                       (unsigned long long)o->seed,
                       (unsigned long long)r->seed, o->record);
    if (o->temperature >= 0 && o->temperature != r->temperature)
        return sr_fail(err, "--temperature: %.17g differs from the record's %.17g (%s)",
                       o->temperature,
                       r->temperature, o->record);
    if (o->top_k >= 0 && o->top_k != r->top_k)
        return sr_fail(err, "--top-k: %lld differs from the record's %d (%s)", o->top_k, r->top_k,
                       o->record);
    if (o->top_p >= 0 && o->top_p != r->top_p)
        return sr_fail(err, "--top-p: %.17g differs from the record's %.17g (%s)", o->top_p,
                       r->top_p,
                       o->record);
    if (o->max_new >= 0 && o->max_new != r->max_new)
        return sr_fail(err, "--max-new: %lld differs from the record's %d (%s)", o->max_new,
                       r->max_new, o->record);
    if (o->n > r->n_cands)
        return sr_fail(err, "-N: %lld exceeds the %d candidates of %s (record with a larger -N)",
                       o->n, r->n_cands, o->record);
    const char *mode = r->prompt_kv_per_candidate ? "per-candidate" : "shared";
    if (o->prompt_kv && strcmp(o->prompt_kv, mode) != 0)
        return sr_fail(err, "--prompt-kv: %s was recorded with %s prompt KV, whose attention "
                            "rounds differently (record again with --prompt-kv %s)",
                       o->record, mode, o->prompt_kv);
    return 0;
}

static int check_outputs(const Opts *o, const char *extra, SrError *err);

static int replay_setup(Session *s, Opts *o, SrError *err) {
    s->replaying = 1;
    if (record_load(o->record, &s->rec, err) != 0) return -1;
    const Record *r = &s->rec;
    if (check_outputs(o, r->gen_path, err) != 0) return -1;
    if (replay_check(o, r, err) != 0) return -1;
    o->seed = r->seed, o->temperature = r->temperature, o->top_k = r->top_k;
    o->top_p = r->top_p, o->max_new = r->max_new;
    o->prompt_kv = r->prompt_kv_per_candidate ? "per-candidate" : "shared";
    o->prompt = r->prompt_text; /* for --json; NULL in an id-only record */
    if (intvec_extend(&s->prompt, r->prompt, r->n_prompt, err) != 0) return -1;
    if (intvec_extend(&s->stops, r->stops, r->n_stops, err) != 0) return -1;
    if (replay_open(&s->replay, r, o->record, err) != 0) return -1;
    s->cand_limit = r->n_cands;
    /* The generator's tokenizer, when it is still where it was recorded,
     * gives the trace and --explain each candidate's text so far, as in the
     * live run; without it they have ids only. */
    SrError terr;
    char dir[4200];
    if (r->has_text && tokenizer_load(model_tokenizer_path(r->gen_path, dir, sizeof dir),
                                      r->gen_cfg.vocab_size, &s->tok, &terr) != 0)
        s->tok = NULL;
    s->rs = s->replay.rs;
    return 0;
}

static char *dup_str(const char *x, SrError *err) {
    size_t n = x ? strlen(x) : 0;
    char *d = sr_malloc_array(n + 1, 1, err);
    if (d) memcpy(d, x ? x : "", n + 1);
    return d;
}

static int *dup_ids(const int *x, int n, SrError *err) {
    int *d = sr_malloc_array((size_t)(n > 0 ? n : 1), sizeof *d, err);
    if (d && n > 0) memcpy(d, x, (size_t)n * sizeof *d);
    return d;
}

/* Text and gold of every candidate, as a live run's --json computes them:
 * the gold score of the decoded prefix at every length 0..len. */
static int record_text_gold(Session *s, const Opts *o, Record *r, SrError *err) {
    if (!s->tok) return 0;
    char def[4096];
    const char *lexicon = o->lexicon ? o->lexicon : def;
    if (!o->lexicon && gold_default_lexicon(def, sizeof def, err) != 0) return -1;
    if (!s->gold && gold_load(lexicon, &s->gold, err) != 0) return -1;
    r->has_gold = 1;
    if (record_hash_file(lexicon, &r->lexicon_hash, err) != 0) return -1;
    r->has_text = 1;
    for (int i = 0; i < r->n_cands; i++) {
        RecordCand *k = &r->cands[i];
        if (tokenizer_decode(s->tok, k->tokens, k->len, &k->text, &k->text_len, err) != 0)
            return -1;
        if (!r->has_gold) continue;
        if (!(k->gold = sr_malloc_array((size_t)k->len + 1, sizeof *k->gold, err))) return -1;
        for (int t = 0; t <= k->len; t++) {
            char *text = NULL;
            size_t len = 0;
            if (tokenizer_decode(s->tok, k->tokens, t, &text, &len, err) != 0) return -1;
            k->gold[t] = gold_score(s->gold, text, len);
            free(text);
        }
    }
    return 0;
}

static int record_header(Session *s, const Opts *o, const SearchPlan *plan, Record *r,
                         SrError *err) {
    r->seed = o->seed;
    r->temperature = o->temperature, r->top_p = o->top_p, r->top_k = (int)o->top_k;
    r->max_new = (int)o->max_new, r->max_new_eff = plan->max_new;
    r->prompt_kv_per_candidate = o->prompt_kv && strcmp(o->prompt_kv, "per-candidate") == 0;
    r->n_stops = s->stops.len, r->n_prompt = s->prompt.len;
    if (!(r->stops = dup_ids(s->stops.data, s->stops.len, err))) return -1;
    if (!(r->prompt = dup_ids(s->prompt.data, s->prompt.len, err))) return -1;
    if (!o->prompt_ids && !(r->prompt_text = dup_str(o->prompt, err))) return -1;
    if (!(r->gen_path = dup_str(o->model, err))) return -1;
    if (session_hashes(s, o, 0, err) != 0) return -1;
    r->gen_hash = s->gen_hash;
    r->gen_cfg = *model_config(s->gen);
    const RewardSource *rs = s->rs;
    if (!(r->rs_name = dup_str(rs->name, err)) || !(r->rs_detail = dup_str(rs->detail, err)))
        return -1;
    int model_src = (reward_needs(o->reward_entry) & REWARD_NEEDS_MODEL) != 0;
    if (o->reward_entry->n_params > 0) {
        cJSON *args = reward_cli_json(o->reward_entry, &o->reward_args);
        r->rs_args = args ? cJSON_PrintUnformatted(args) : NULL;
        cJSON_Delete(args);
        if (!r->rs_args) return sr_fail(err, "record: out of memory");
    }
    if (!(r->rm_path = dup_str(model_src ? o->reward : "", err))) return -1;
    if (model_src) {
        Model *rm = NULL;
        /* the shapes behind the source's KV bytes and FLOPs: config only
         * would do, but loading is what validates them */
        if (session_hashes(s, o, 1, err) != 0) return -1;
        r->rm_hash = s->rm_hash;
        if (!s->rm && model_load(o->reward, &rm, err) != 0) return -1;
        r->rm_cfg = *model_config(s->rm ? s->rm : rm);
        model_free(rm);
        r->has_rm_cfg = 1;
    }
    RewardFootprint fp;
    reward_footprint(rs, &fp);
    r->rs_kv_bytes_per_token = fp.kv_bytes_per_token;
    r->rs_reserve_bytes = fp.reserve_bytes;
    r->rs_prefix_len = fp.prefix_len, r->rs_closing_len = fp.closing_len;
    r->rs_max_response = fp.max_response;
    return 0;
}

/* The run on a prepared session and its output: --json or text (or the
 * batch line), --trace committed last so that a failed run leaves none. */
static int search_and_finish(Session *s, Opts *o, SearchParams *p, SrError *err) {
    /* an unwritable path fails now, not after the run */
    if (o->json && atomic_probe(o->json, err) != 0) return -1;
    if (o->json && o->trace && same_file(o->json, o->trace))
        return sr_fail(err, "--trace: %s is also the --json file (each needs its own)", o->trace);
    if (o->trace) {
        if (trace_open(&s->trace, o->trace, err) != 0) return -1;
        cJSON *params = params_json(s, o, p, err);
        if (!params || trace_header(&s->trace, METHOD_NAMES[o->method], params, o->prompt,
                                    s->prompt.data, s->prompt.len, err) != 0)
            return -1;
        p->on_decision = trace_decision;
        p->user = &s->trace;
        s->trace.tok = s->tok;
    }
    Explainer ex = {stderr, s->tok, p->on_decision, p->user};
    if (o->explain) p->on_decision = explain_decision, p->user = &ex;
    if ((s->replaying ? search_run_gen(&s->replay.gen, s->rs, s->prompt.data, s->prompt.len, p,
                                       &s->res, err)
                      : search_run(s->gen, s->rs, s->prompt.data, s->prompt.len, p, &s->res,
                                   err)) != 0)
        return -1;
    if (o->explain && explain_answer(&ex, &s->res, err) != 0) return -1;
    if (finish(s, o, p, err) != 0) return -1;
    if (o->trace && trace_finish(&s->trace, &s->res, err) != 0) return -1;
    return 0;
}

/* One record file: Best-of-N on the session's prompt (o->prompt or
 * o->prompt_ids) with every prefix scored, written to path. */
static int record_one(Session *s, const Opts *o, const char *path, SrError *err) {
    SearchParams p;
    RecordTap tap = {0};
    Record rec = {0};
    SearchPlan plan;
    int rc = -1;
    if (load_prompt(s, o, err) != 0 || open_reward(s, o, err) != 0) {
        rc = PROMPT_CANNOT_RUN;
        goto done;
    }
    RewardFootprint fp;
    reward_footprint(s->rs, &fp);
    if ((reward_needs(o->reward_entry) & REWARD_NEEDS_MODEL) && fp.kv_bytes_per_token == 0) {
        sr_fail(err, "record: %s has another tokenizer than the generator; a bridged reward "
                     "model rescores from re-encoded text, which a record cannot replay", o->reward);
        goto done;
    }
    if (fill_params(s, o, &p, err) != 0) goto done;
    p.policy = &record_policy;
    /* only the effective max_new is needed here; it does not depend on the KV mode */
    if (search_plan(s->gen, s->rs, s->prompt.len, p.max_new, p.policy, &p.policy_args,
                    !p.prompt_kv_per_candidate, &plan, err) != 0)
        goto done;
    if (record_tap_init(&tap, s->gen, (int)o->n, plan.max_new, err) != 0) goto done;
    p.on_decision = record_tap_decision;
    p.user = &tap;
    { /* an unwritable path fails now, not after the run */
        AtomicFile probe;
        if (atomic_open(&probe, path, err) != 0) goto done;
        atomic_abort(&probe);
    }
    if (search_run_gen(&tap.gen, s->rs, s->prompt.data, s->prompt.len, &p, &s->res, err) != 0)
        goto done;
    if (record_tap_fill(&tap, &s->res, &rec, err) != 0) goto done;
    if (record_header(s, o, &plan, &rec, err) != 0) goto done;
    if (record_text_gold(s, o, &rec, err) != 0) goto done;
    if (record_write(path, &rec, err) != 0) goto done;
    const SearchStats *st = &s->res.stats;
    long long tokens = 0;
    for (int i = 0; i < rec.n_cands; i++) tokens += rec.cands[i].len;
    printf("recorded %d candidates (%lld response tokens, max_new %d) to %s\n", rec.n_cands,
           tokens, rec.max_new_eff, path);
    printf("cost: generator %.4g FLOPs, reward %.4g FLOPs (every prefix scored), %.3fs\n",
           st->gen_flops, st->rm_flops,
           st->seconds_generation + st->seconds_scoring + st->seconds_other);
    fflush(stdout);
    rc = 0;
done:
    record_free(&rec);
    record_tap_free(&tap);
    return rc;
}

/* ---- batch mode (issue 16; batch.h) --------------------------------------- */

/* record --prompts: DIR/ID.rec per prompt, so that replay and compare read
 * them as they read any record (a record holds one prompt). */
static int record_path(const char *dir, const char *id, char *out, size_t cap, SrError *err) {
    size_t n = strlen(id);
    int ok = n > 0 && n <= 200 && id[0] != '.';
    for (size_t i = 0; ok && i < n; i++) {
        char c = id[i];
        ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '.' || c == '_' || c == '-';
    }
    if (!ok)
        return sr_fail(err, "--prompts: id '%s' cannot name a record file (record needs ids of "
                            "letters, digits, '.', '_', '-', not starting with '.')", id);
    snprintf(out, cap, "%s/%s.rec", dir, id);
    return 0;
}

/* Every record path is checked before the first run: a name that cannot be
 * a file, or (without --resume) a record there already, stops the batch
 * before it costs anything. */
static int record_batch_check(const Opts *o, const BatchPrompts *bp, SrError *err) {
    struct stat st;
    if (stat(o->output, &st) != 0 && mkdir(o->output, 0777) != 0)
        return sr_fail(err, "--output: %s: cannot create the folder", o->output);
    if (stat(o->output, &st) != 0 || !S_ISDIR(st.st_mode))
        return sr_fail(err, "--output: %s: not a folder (record --prompts writes ID.rec files "
                            "into one)", o->output);
    for (int i = 0; i < bp->n; i++) {
        char path[4400];
        if (record_path(o->output, bp->items[i].id, path, sizeof path, err) != 0) return -1;
        if (!o->resume && stat(path, &st) == 0)
            return sr_fail(err, "--output: %s exists (--resume skips the prompts already "
                                "recorded; remove it to record again)", path);
    }
    return 0;
}

/* Whether prompt i was done by an earlier run (--resume). */
static int batch_done(const Opts *o, const Session *s, const BatchPrompt *q) {
    if (o->method != SEARCH_CLI_RECORD) return batch_out_has(s->out, q->id);
    char path[4400];
    struct stat st;
    return record_path(o->output, q->id, path, sizeof path, NULL) == 0 && stat(path, &st) == 0;
}

static int run_prompt(Session *s, Opts *o, SrError *err);

/* Flags that say where a batch reads and writes, not what it computes:
 * left out of the fingerprint, so a resumed run may move its files. */
static int batch_only_flag(const char *a, int *takes_value) {
    /* --shard picks which prompts run, not what a line holds: a shard's
     * lines equal the unsharded run's */
    static const char *const VAL[] = {"--prompts", "-f", "--output", "-o", "--threads", "-t",
                                      "--shard"};
    static const char *const SW[] = {"--resume", "--progress", "--no-progress"};
    *takes_value = 0;
    for (size_t i = 0; i < sizeof SW / sizeof SW[0]; i++)
        if (strcmp(a, SW[i]) == 0) return 1;
    for (size_t i = 0; i < sizeof VAL / sizeof VAL[0]; i++) {
        size_t n = strlen(VAL[i]);
        if (strncmp(a, VAL[i], n) == 0 && a[n] == '=') return 1;
        if (strcmp(a, VAL[i]) == 0) return *takes_value = 1, 1;
    }
    return 0;
}

/* What made a batch line: FNV-1a 64 over the command, its flags as given
 * (batch_only_flag's aside), the models' content hashes, the prompt's text
 * and its seed. --resume keeps a line only when this matches, so that a
 * file continued with other flags, another model, an edited prompt or a
 * line of another run is refused instead of silently mixed. */
static int batch_fingerprint(Session *s, const Opts *o, const BatchPrompt *q, uint64_t seed,
                             char out[32], SrError *err) {
    int want_rm = o->reward && (reward_needs(o->reward_entry) & REWARD_NEEDS_MODEL);
    if (session_hashes(s, o, want_rm, err) != 0) return -1;
    uint64_t h = record_fnv1a(RECORD_FNV_OFFSET, "specrej-batch-1", 16);
    h = record_fnv1a(h, METHOD_NAMES[o->method], strlen(METHOD_NAMES[o->method]) + 1);
    for (int i = 1; i < o->argc; i++) {
        int skip_value;
        if (batch_only_flag(o->argv[i], &skip_value)) {
            i += skip_value;
            continue;
        }
        h = record_fnv1a(h, o->argv[i], strlen(o->argv[i]) + 1);
    }
    uint64_t hashes[2] = {s->gen_hash, want_rm ? s->rm_hash : 0};
    h = record_fnv1a(h, hashes, sizeof hashes);
    h = record_fnv1a(h, q->text, strlen(q->text) + 1);
    uint64_t sd = q->has_seed ? q->seed : seed;
    h = record_fnv1a(h, &sd, sizeof sd);
    snprintf(out, 32, "fnv1a64:%016llx", (unsigned long long)h);
    return 0;
}

typedef struct FpCtx {
    Session *s;
    const Opts *o;
    const BatchPrompts *bp;
    uint64_t seed;
} FpCtx;

static int fp_of(void *user, int i, char out[32], SrError *err) {
    FpCtx *c = user;
    return batch_fingerprint(c->s, c->o, &c->bp->items[i], c->seed, out, err);
}

/* A prompt that cannot run (too long for a context, not encodable) gets a
 * line of its own saying why, and the batch goes on. */
static int batch_error_line(Session *s, const Opts *o, const char *why, SrError *err) {
    cJSON *j = output_begin("error");
    if (!j) return sr_fail(err, "--output: out of memory");
    cJSON_AddStringToObject(j, "method", METHOD_NAMES[o->method]);
    cJSON_AddStringToObject(j, "error", why);
    int rc = emit_json(s, o, j, err);
    cJSON_Delete(j);
    return rc;
}

/* One prompt of the batch: the flags as given, this prompt's text and seed. */
static int batch_one(Session *s, Opts *o, const BatchPrompt *q, uint64_t seed, SrError *err) {
    session_reset_run(s);
    o->prompt = q->text;
    o->seed = q->has_seed ? q->seed : seed;
    s->id = q->id;
    if (o->method != SEARCH_CLI_RECORD && batch_fingerprint(s, o, q, seed, s->fp, err) != 0)
        return -1;
    if (o->method != SEARCH_CLI_RECORD) return run_prompt(s, o, err);
    char path[4400];
    if (record_path(o->output, q->id, path, sizeof path, err) != 0) return -1;
    return record_one(s, o, path, err);
}

static int batch_main(Session *s, Opts *o, SrError *err) {
    BatchPrompts bp;
    BatchOut out;
    Progress pr;
    progress_init(&pr, o->progress > 0 || (o->progress == 0 && isatty(STDERR_FILENO)),
                  METHOD_NAMES[o->method], "prompts");
    if (batch_prompts_load(o->prompts, &bp, err) != 0) return -1;
    if (o->shard_n) batch_prompts_shard(&bp, o->shard_i, o->shard_n);
    int rc = -1, skipped = 0, ran = 0, failed_prompts = 0;
    uint64_t seed = o->seed;
    memset(&out, 0, sizeof out);
    out.fd = -1;
    if (o->method == SEARCH_CLI_RECORD ? record_batch_check(o, &bp, err) != 0
                                       : batch_out_open(&out, o->output, o->resume, err) != 0)
        goto done;
    s->out = o->method == SEARCH_CLI_RECORD ? NULL : &out;
    if (o->reward && (reward_needs(o->reward_entry) & REWARD_NEEDS_MODEL) &&
        model_load(o->reward, &s->rm, err) != 0)
        goto done;
    FpCtx fc = {s, o, &bp, seed};
    if (o->method != SEARCH_CLI_RECORD && batch_out_check(&out, &bp, fp_of, &fc, err) != 0)
        goto done;
    for (int i = 0; i < bp.n; i++) {
        if (batch_done(o, s, &bp.items[i])) {
            skipped++;
            continue;
        }
        progress_update(&pr, skipped + ran, bp.n);
        SrError e = {{0}};
        int r = batch_one(s, o, &bp.items[i], seed, &e);
        if (r == PROMPT_CANNOT_RUN) {
            failed_prompts++;
            if (o->method == SEARCH_CLI_RECORD)
                fprintf(stderr, "specrej: prompt '%s' not recorded: %s\n", bp.items[i].id, e.msg);
            else if (batch_error_line(s, o, e.msg, err) != 0)
                goto done;
        } else if (r != 0) {
            sr_fail(err, "prompt '%s': %s", bp.items[i].id, e.msg);
            goto done;
        }
        ran++;
        progress_update(&pr, skipped + ran, bp.n);
    }
    rc = 0;
done:
    progress_finish(&pr, skipped + ran, bp.n); /* ends the line before any message */
    if (rc == 0 && skipped > 0)
        fprintf(stderr, "specrej: --resume: %d prompts were already done, %d ran now\n", skipped,
                ran);
    if (rc == 0 && failed_prompts > 0)
        fprintf(stderr, "specrej: %d prompts could not run (%s)\n", failed_prompts,
                o->method == SEARCH_CLI_RECORD ? "see above" : "their lines say why: \"kind\": "
                                                              "\"error\"");
    s->out = NULL;
    batch_out_close(&out, rc != 0);
    batch_prompts_free(&bp);
    return rc;
}

/* The single run's checks, the run and its output, on the session's
 * loaded models (o->prompt or o->prompt_ids). */
static int run_prompt(Session *s, Opts *o, SrError *err) {
    SearchParams p;
    if (load_prompt(s, o, err) != 0) return PROMPT_CANNOT_RUN;
    if (open_reward(s, o, err) != 0) return PROMPT_CANNOT_RUN; /* a known source from here on */
    if (fill_params(s, o, &p, err) != 0) return -1;
    return search_and_finish(s, o, &p, err);
}

/* No output may be one of the run's inputs (issue 23: a replay's --json
 * naming its own record replaced it): every output path is compared, by
 * device and inode, with every file the run reads, before anything is
 * written. extra: one more input (a replay's recorded generator path). */
static int check_outputs(const Opts *o, const char *extra, SrError *err) {
    /* a checkpoint file reads the tokenizer files of its folder
     * (model_tokenizer_path); a folder's files are all inputs anyway */
    char dirs[2][4200], tok[4][4300];
    const char *models[2] = {o->model, extra};
    for (int k = 0; k < 2; k++) {
        const char *d = models[k] ? model_tokenizer_path(models[k], dirs[k], sizeof dirs[k]) : NULL;
        int file = d && d == dirs[k];
        snprintf(tok[2 * k], sizeof tok[0], "%s/tokenizer.json", file ? d : "");
        snprintf(tok[2 * k + 1], sizeof tok[0], "%s/tokenizer.bin", file ? d : "");
        if (!file) tok[2 * k][0] = tok[2 * k + 1][0] = 0;
    }
    char lex[4200] = "";
    SrError lerr; /* no data folder: no default lexicon to protect */
    if (!o->lexicon && gold_default_lexicon(lex, sizeof lex, &lerr) != 0) lex[0] = 0;
    const char *in[] = {o->model, o->tokenizer, o->reward, o->reward_tokenizer,
                        o->lexicon ? o->lexicon : lex, o->prompts, o->record,
                        extra, tok[0], tok[1], tok[2], tok[3]};
    int n = (int)(sizeof in / sizeof in[0]);
    if (output_not_input("--json", o->json, in, n, err) != 0) return -1;
    if (output_not_input("--trace", o->trace, in, n, err) != 0) return -1;
    return output_not_input("--output", o->output, in, n, err);
}

/* -t/--threads: every parallel loop (OpenMP) from here on. */
static void set_threads(const Opts *o) {
#ifdef _OPENMP
    if (o->threads > 0) omp_set_num_threads((int)o->threads);
#else
    (void)o;
#endif
}

/* -n below this looks like vLLM's n (a sample count) more than a cap. */
#define SHORT_N_NOTE 32

static void note_short_n(const Opts *o) {
    if (!o->short_n || o->max_new >= SHORT_N_NOTE || o->method == SEARCH_CLI_GENERATE ||
        !isatty(STDERR_FILENO))
        return;
    fprintf(stderr, "specrej: note: -n %lld caps each response at %lld tokens (-n is --max-new); "
                    "the candidate count is -N\n", o->max_new, o->max_new);
}

int search_cli_main(SearchCliMethod method, int argc, char **argv, SrError *err) {
    Opts o = {0};
    o.method = method;
    o.argc = argc, o.argv = argv;
    if (parse_opts(&o, argc, argv, err) != 0) return ARGS_USAGE;
    if (o.help) {
        usage(method);
        return 0;
    }
    set_threads(&o);
    if (check_outputs(&o, NULL, err) != 0) return -1;
    if (!o.replay && sampling_defaults(&o, err) != 0) return -1;
    note_short_n(&o);
    Session s = {0};
    int rc = -1;
    if (o.replay) {
        SearchParams p;
        if (replay_setup(&s, &o, err) == 0 && fill_params(&s, &o, &p, err) == 0)
            rc = search_and_finish(&s, &o, &p, err);
    } else if (model_load(o.model, &s.gen, err) == 0) {
        if (o.prompts) rc = batch_main(&s, &o, err);
        else if (method == SEARCH_CLI_RECORD) rc = record_one(&s, &o, o.output, err);
        else rc = run_prompt(&s, &o, err);
    }
    if (rc == PROMPT_CANNOT_RUN) rc = -1;
    session_free(&s);
    return rc;
}
