/* search_opts.c - the flags of generate, bon, spr, record and replay
 * (search_opts.h): parsing, every check that needs no model, the sampling
 * defaults of generation_config.json, a replay's flags against its record,
 * and outputs against inputs. */
#define _POSIX_C_SOURCE 200809L
#include "cli/search_opts.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/datadir.h"
#include "base/json.h"
#include "cli/args.h"
#include "cli/search_output.h"
#include "runtime/kvcache.h"
#include "search/policy_args.h"
#include "search/reward.h"
#include "text/gold.h"

const char *const SEARCH_METHOD_NAMES[] = {"generate", "bon", "spr", "record", "replay"};


/* --json's value is optional: a path, "-", or nothing (stdout). */
static int parse_json_flag(SearchOpts *o, int argc, char **argv, int *i) {
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
static int parse_switch(SearchOpts *o, const char *a) {
    if (args_is_flag(a, "--help", "-h")) return o->help = 1;
    if (args_is_flag(a, "--progress", NULL)) return o->progress = 1;
    if (args_is_flag(a, "--no-progress", NULL)) return o->progress = -1, 1;
    if (o->method != SEARCH_CLI_REPLAY && args_is_flag(a, "--resume", NULL)) return o->resume = 1;
    if (o->method == SEARCH_CLI_GENERATE && args_is_flag(a, "--print-ids", NULL))
        return o->print_ids = 1;
    return 0;
}

/* --shard I/N: 1 <= I <= N <= 2^20. */
static int parse_shard(SearchOpts *o, const char *v, SrError *err) {
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

static int parse_flag(SearchOpts *o, int argc, char **argv, int *i, SrError *err) {
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
    if (o->method != SEARCH_CLI_REPLAY &&
        ((r = args_take_weights(argc, argv, i, &o->load.weights, err)) != 0 ||
         (r = args_take_kv_dtype(argc, argv, i, &o->load.kv_dtype, err)) != 0))
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
    return sr_fail(err, "%s: unknown flag '%s' (see specrej %s --help)", SEARCH_METHOD_NAMES[o->method],
                   argv[*i], SEARCH_METHOD_NAMES[o->method]);
}

/* A flag that would have no effect in this run is refused, so that nobody
 * believes a setting was used. */
static int check_no_effect(const SearchOpts *o, SrError *err) {
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

/* --prompt given the name of a file: almost always meant as --prompts (the
 * path would silently become the prompt text). Refused, with the way to say
 * either thing. */
static int check_prompt_not_file(const SearchOpts *o, SrError *err) {
    struct stat st;
    if (!o->prompt || strlen(o->prompt) > 4096 || stat(o->prompt, &st) != 0 || !S_ISREG(st.st_mode))
        return 0;
    return sr_fail(err, "--prompt: '%s' is a file; --prompts %s runs the prompts in it, "
                        "--prompt \"$(cat %s)\" runs its text as one prompt", o->prompt,
                   o->prompt, o->prompt);
}

/* Batch mode's flags make sense only together. */
static int check_batch(const SearchOpts *o, SrError *err) {
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
static int resolve_reward(SearchOpts *o, SrError *err) {
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
static int check_usage(const SearchOpts *o, SrError *err) {
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

static int parse_replay_opts(SearchOpts *o, SrError *err);

int search_opts_parse(SearchOpts *o, int argc, char **argv, SrError *err) {
    /* -1: not given (a replay takes the record's; others the model's
     * generation_config.json or the defaults, sampling_defaults) */
    o->max_new = -1, o->top_k = -1, o->temperature = -1, o->top_p = -1;
    o->max_batch = 1000;
    o->load.weights = MODEL_WEIGHTS_AUTO, o->load.kv_dtype = MODEL_KV_DEFAULT;
    o->template_name = "auto", o->reward_template = "auto";
    for (int i = 1; i < argc; i++)
        if (parse_flag(o, argc, argv, &i, err) != 0) return -1;
    if (o->help) return 0;
    SrError ignored; /* the range is checked above; the message says the rest */
    if (o->kv_block && kv_block_check((int)o->kv_block, &ignored) != 0)
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
    if (o->method == SEARCH_CLI_RECORD && (reward_needs(o->reward_entry) & REWARD_NEEDS_PEERS))
        return sr_fail(err, "record: --reward-source %s scores each candidate relative to the "
                            "others scored with it; per-prefix scores cannot be recorded",
                       o->reward_entry->name);
    if (o->prompts && search_opts_shared_total(o) > 0 && o->shard_n)
        return sr_fail(err, "--policy-arg total: candidates shared in file order need the whole "
                            "file (not with --shard; --resume continues a run cut short)");
    if (check_usage(o, err) != 0) return -1;
    return check_no_effect(o, err);
}

int search_opts_shared_total(const SearchOpts *o) {
    if (o->method != SEARCH_CLI_SPR || !o->policy) return 0;
    int k = policy_param_index(o->policy, "total");
    return k < 0 || !o->policy_args.set[k] ? 0 : (int)o->policy_args.num[k];
}

/* generation_config.json's sampling keys (transformers' names) as
 * defaults: a flag wins over the file, the file over specrej's defaults;
 * o->src_* record which won for --json ("sampling_source"). do_sample false
 * means greedy, as in transformers. A key of the wrong type or range is an
 * error naming the file, not a silent fallback. */
/* ---- record and replay (issue 14; replay.h) ------------------------------ */

static int parse_replay_opts(SearchOpts *o, SrError *err) {
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
int search_opts_replay_check(const SearchOpts *o, const Record *r, SrError *err) {
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

int search_opts_sampling(SearchOpts *o, SrError *err) {
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

/* The tokenizer of a model given without --tokenizer: its folder, or for a
 * checkpoint file (a llama2.c .bin, a .safetensors) the folder it lies in,
 * where tokenizer.json or tokenizer.bin is looked for. Reading the
 * checkpoint itself as a tokenizer gave "model.bin: token 1 has length
 * 33554432". */
const char *model_tokenizer_path(const char *model, char *buf, size_t cap) {
    struct stat st;
    if (stat(model, &st) != 0 || S_ISDIR(st.st_mode)) return model;
    const char *slash = strrchr(model, '/');
    if (!slash) snprintf(buf, cap, ".");
    else snprintf(buf, cap, "%.*s", (int)(slash - model) > 0 ? (int)(slash - model) : 1, model);
    return buf;
}

/* No output may be one of the run's inputs (issue 23: a replay's --json
 * naming its own record replaced it): every output path is compared, by
 * device and inode, with every file the run reads, before anything is
 * written. extra: one more input (a replay's recorded generator path). */
int search_opts_check_outputs(const SearchOpts *o, const char *extra, SrError *err) {
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
