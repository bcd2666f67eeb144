#define _POSIX_C_SOURCE 200809L
#include "cli/search_cli.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/args.h"
#include "text/gold.h"
#include "runtime/model.h"
#include "search/policy.h"
#include "search/record.h"
#include "search/replay.h"
#include "search/reward.h"
#include "search/search.h"
#include "cli/search_output.h"
#include "text/template.h"
#include "text/tokenizer.h"
#include "base/utf8.h"

static const char *const METHOD_NAMES[] = {"generate", "bon", "spr", "record", "replay"};

typedef struct Opts {
    SearchCliMethod method;
    const char *model, *tokenizer, *reward, *reward_tokenizer, *reward_source;
    const char *prompt, *prompt_ids, *stop_ids, *closing_ids;
    const char *template_name, *reward_template, *lexicon, *json, *trace, *policy, *schedule;
    const char *prompt_kv;
    long long n, max_batch, first_decision, max_new, seed, top_k, budget_candidates;
    double alpha, temperature, top_p;
    size_t kv_budget;
    int print_ids, alpha_given, first_decision_given, help;
    /* record and replay (issue 14) */
    const char *output, *record;
    int replay, no_progress;        /* method is then the simulated one (bon or spr) */
} Opts;

static void usage_replay(void) {
    printf("usage: specrej replay --record FILE (--alpha A [spr flags] | -N N) [flags]\n"
           "  Simulates the spr (--alpha) or bon (-N) run on the record's prompt, models and\n"
           "  sampling without running a model; its --json and --trace are the live run's\n"
           "  (timings aside; --json adds \"replayed\": true).\n"
           "  --record FILE         a file written by specrej record (required)\n"
           "  -N N                  Best-of-N with the record's first N candidates\n"
           "  --alpha A             Speculative Rejection at rejection rate A in [0, 1)\n"
           "  --policy NAME         %s (default quantile)\n"
           "  --schedule 8,16,...   decision lengths for --policy schedule\n"
           "  --first-decision T    the initial batch fits T new tokens (default 8)\n"
           "  --kv-budget BYTES, --kv-budget-candidates K, --max-batch B   as for spr\n"
           "  --prompt-kv MODE      the record's (shared or per-candidate); the other is\n"
           "                        refused: its attention rounds differently\n"
           "  --json [PATH|-], --trace FILE   as for spr\n"
           "  --no-progress         no progress line on stderr\n"
           "  --seed, --temperature, --top-k, --top-p, --max-new: the record's; giving\n"
           "  another value is refused (the record holds that run only)\n",
           policy_names());
}

static void usage(SearchCliMethod m) {
    const char *name = METHOD_NAMES[m];
    if (m == SEARCH_CLI_REPLAY) {
        usage_replay();
        return;
    }
    printf("usage: specrej %s --model PATH (--prompt TEXT | --prompt-ids 1,2,3) [flags]\n", name);
    if (m == SEARCH_CLI_RECORD)
        printf("  --output FILE         the record file to write (required)\n");
    if (m == SEARCH_CLI_BON || m == SEARCH_CLI_RECORD)
        printf("  -N N                  candidates (required)\n");
    if (m == SEARCH_CLI_SPR) {
        printf("  --alpha A             rejection rate in [0, 1) (required)\n"
               "  --policy NAME         %s (default quantile)\n"
               "  --schedule 8,16,...   decision lengths for --policy schedule\n"
               "  --first-decision T    the initial batch fits T new tokens (default 8)\n",
               policy_names());
    }
    if (m != SEARCH_CLI_GENERATE)
        printf("  --reward PATH         reward-model checkpoint\n"
               "  --reward-source S     %s (default model)\n"
               "  --reward-tokenizer P  the reward model's tokenizer if not in its folder\n"
               "  --reward-template T   the reward model's template (default auto)\n"
               "  --kv-budget BYTES     generator + reward KV cache bytes (default: what holds\n"
               "                        32 candidates at full length), e.g. 64M\n"
               "  --kv-budget-candidates K  the budget that holds K candidates at full\n"
               "                        length (the paper's unit: one GPU = Best-of-K)\n"
               "  --max-batch B         cap on candidates at once (default 1000)\n"
               "  --prompt-kv MODE      shared (default): the prompt's KV is stored once and\n"
               "                        charged once; per-candidate: every candidate copies\n"
               "                        it and is charged for it, as the authors' code does\n"
               "  --lexicon PATH        gold judge lexicon (default " GOLD_DEFAULT_LEXICON ")\n"
               "  --closing-ids IDS     id-only runs: ids closing a response for the reward\n"
               "                        model (default its eos id; 'none' for none)\n",
               reward_names());
    if (m != SEARCH_CLI_GENERATE && m != SEARCH_CLI_RECORD) /* record refuses them */
        printf("  --json [PATH|-]       one JSON object with the answer and costs\n"
               "  --trace FILE          JSON lines, one per decision point\n");
    printf("  -n, --max-new N       response cap (default 128)\n"
           "  --temperature T       default 1 (0 = greedy)\n"
           "  --top-k K             default 50 (0 = off)\n"
           "  --top-p P             default 1 (off)\n"
           "  --seed S              default 1\n"
           "  --template NAME       plain, chatml, llama3, auto (default auto)\n"
           "  --tokenizer PATH      if not in the model folder\n"
           "  --stop-ids IDS        stop ids (default: the tokenizer's, else config eos)\n");
    if (m == SEARCH_CLI_GENERATE) printf("  --print-ids           print the generated ids\n");
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
#define DBL(flag, field, lo, hi, incl) \
    if ((r = args_take_value(argc, argv, i, flag, NULL, &v, err)) != 0) \
        return r < 0 ? -1 : args_parse_double(flag, v, lo, hi, incl, &o->field, err);
    STR("--model", "-m", model)
    STR("--tokenizer", NULL, tokenizer)
    STR("--prompt", "-p", prompt)
    STR("--prompt-ids", NULL, prompt_ids)
    STR("--stop-ids", NULL, stop_ids)
    STR("--template", NULL, template_name)
    INT("--max-new", "-n", max_new, 1, 1 << 20)
    INT("--seed", NULL, seed, 0, INT64_MAX)
    INT("--top-k", NULL, top_k, 0, INT32_MAX)
    DBL("--temperature", temperature, 0, 1e6, 1)
    DBL("--top-p", top_p, 1e-9, 1, 1)
    if (o->method == SEARCH_CLI_GENERATE) {
        if (strcmp(argv[*i], "--print-ids") == 0) return o->print_ids = 1, 0;
    } else {
        STR("--reward", NULL, reward)
        STR("--reward-tokenizer", NULL, reward_tokenizer)
        STR("--reward-source", NULL, reward_source)
        STR("--reward-template", NULL, reward_template)
        STR("--closing-ids", NULL, closing_ids)
        STR("--lexicon", NULL, lexicon)
        STR("--trace", NULL, trace)
        STR("--prompt-kv", NULL, prompt_kv)
        INT("--max-batch", NULL, max_batch, 1, 1 << 20)
        INT("--kv-budget-candidates", NULL, budget_candidates, 1, 1 << 20)
        if ((r = args_take_value(argc, argv, i, "--kv-budget", NULL, &v, err)) != 0)
            return r < 0 ? -1 : args_parse_bytes("--kv-budget", v, &o->kv_budget, err);
        if (strcmp(argv[*i], "--json") == 0) {
            /* Optional value: a path, "-", or nothing (stdout). */
            if (*i + 1 < argc && argv[*i + 1][0] != '-') o->json = argv[++*i];
            else if (*i + 1 < argc && strcmp(argv[*i + 1], "-") == 0) o->json = argv[++*i];
            else o->json = "-";
            return 0;
        }
    }
    if (o->method == SEARCH_CLI_BON || o->method == SEARCH_CLI_RECORD ||
        o->method == SEARCH_CLI_REPLAY)
        INT("-N", NULL, n, 1, 1 << 20) /* memory grows with N */
    if (o->method == SEARCH_CLI_RECORD) STR("--output", "-o", output)
    if (o->method == SEARCH_CLI_REPLAY) STR("--record", NULL, record)
    if (o->method == SEARCH_CLI_REPLAY && strcmp(argv[*i], "--no-progress") == 0)
        return o->no_progress = 1, 0;
    if (o->method == SEARCH_CLI_SPR || o->method == SEARCH_CLI_REPLAY) {
        if ((r = args_take_value(argc, argv, i, "--alpha", NULL, &v, err)) != 0) {
            o->alpha_given = 1;
            return r < 0 ? -1 : args_parse_double("--alpha", v, 0, 1, 0, &o->alpha, err);
        }
        STR("--policy", NULL, policy)
        STR("--schedule", NULL, schedule)
        if (strcmp(argv[*i], "--first-decision") == 0) o->first_decision_given = 1;
        INT("--first-decision", NULL, first_decision, 1, 1 << 20)
    }
    if (strcmp(argv[*i], "--help") == 0 || strcmp(argv[*i], "-h") == 0) return o->help = 1, 0;
#undef STR
#undef INT
#undef DBL
    return sr_fail(err, "%s: unknown flag '%s' (see specrej %s --help)", METHOD_NAMES[o->method],
                   argv[*i], METHOD_NAMES[o->method]);
}

/* A flag that would have no effect in this run is refused, so that nobody
 * believes a setting was used. */
static int check_no_effect(const Opts *o, SrError *err) {
    if (o->method == SEARCH_CLI_SPR && o->schedule && o->policy && strcmp(o->policy, "schedule") != 0)
        return sr_fail(err, "--schedule: has no effect with --policy %s (only with --policy "
                            "schedule)", o->policy);
    if (o->method == SEARCH_CLI_GENERATE || strcmp(o->reward_source, "model") == 0) return 0;
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

static int parse_opts(Opts *o, int argc, char **argv, SrError *err) {
    /* -1: not given (a replay takes the record's) */
    o->max_new = -1, o->seed = -1, o->top_k = -1, o->temperature = -1, o->top_p = -1;
    o->max_batch = 1000, o->first_decision = 8;
    o->template_name = "auto", o->reward_template = "auto";
    for (int i = 1; i < argc; i++)
        if (parse_flag(o, argc, argv, &i, err) != 0) return -1;
    if (o->help) return 0;
    if (o->method == SEARCH_CLI_REPLAY) return parse_replay_opts(o, err);
    if (o->max_new < 0) o->max_new = 128;
    if (o->seed < 0) o->seed = 1;
    if (o->top_k < 0) o->top_k = 50;
    if (o->temperature < 0) o->temperature = 1;
    if (o->top_p < 0) o->top_p = 1;
    if (o->method == SEARCH_CLI_RECORD) {
        if (!o->output) return sr_fail(err, "--output: required (the record file to write)");
        if (o->json || o->trace)
            return sr_fail(err, "record: --json and --trace belong to replay (the record run "
                                "scores every candidate at every length)");
    }
    if (!o->model) return sr_fail(err, "--model: required");
    if (!o->prompt == !o->prompt_ids)
        return sr_fail(err, "give exactly one of --prompt TEXT and --prompt-ids IDS");
    if ((o->method == SEARCH_CLI_BON || o->method == SEARCH_CLI_RECORD) && o->n < 1)
        return sr_fail(err, "-N: required (>= 1)");
    if (o->method == SEARCH_CLI_SPR && !o->alpha_given)
        return sr_fail(err, "--alpha: required (a rejection rate in [0, 1))");
    if (o->method != SEARCH_CLI_GENERATE && !o->reward_source)
        o->reward_source = "model";
    if (o->method != SEARCH_CLI_GENERATE && !o->reward && strcmp(o->reward_source, "model") == 0)
        return sr_fail(err, "--reward: required (or --reward-source selflik|gold)");
    return 0;
}

/* Everything a run holds; freed in one place. */
typedef struct Session {
    Model *gen;
    Tokenizer *tok;
    RewardSource *rs;
    GoldJudge *gold;
    IntVec prompt, stops;
    int *list, n_list, *closing, n_closing, *schedule, n_schedule;
    SearchResult res;
    TraceWriter trace;
    char *response;
    size_t response_len;
    unsigned char *sampleable; /* NULL when the tokenizer decodes every id */
    Record rec;        /* replay: the record, and its generator and source */
    Replay replay;
    int replaying;
} Session;

static void session_free(Session *s) {
    search_result_free(&s->res);
    trace_abort(&s->trace);
    if (s->replaying) {
        replay_close(&s->replay); /* owns s->rs */
        s->rs = NULL;
        record_free(&s->rec);
    }
    reward_close(s->rs);
    gold_free(s->gold);
    tokenizer_free(s->tok);
    model_free(s->gen);
    intvec_free(&s->prompt);
    intvec_free(&s->stops);
    free(s->list), free(s->closing), free(s->schedule), free(s->response), free(s->sampleable);
}

static int load_prompt(Session *s, const Opts *o, SrError *err) {
    const ModelConfig *cfg = model_config(s->gen);
    SrError tok_err = {{0}};
    const char *tp = o->tokenizer ? o->tokenizer : o->model;
    if (tokenizer_load(tp, cfg->vocab_size, &s->tok, &tok_err) != 0) {
        s->tok = NULL;
        if (o->prompt || o->tokenizer) return sr_fail(err, "%s", tok_err.msg);
    }
    if (o->prompt_ids) {
        if (args_parse_int_list("--prompt-ids", o->prompt_ids, 0, cfg->vocab_size - 1, &s->list,
                                &s->n_list, err) != 0)
            return -1;
        if (intvec_extend(&s->prompt, s->list, s->n_list, err) != 0) return -1;
    } else {
        TemplateKind k;
        if (template_parse(o->template_name, s->tok, &k, err) != 0) return -1;
        if (template_prompt_ids(s->tok, k, o->prompt, &s->prompt, err) != 0) return -1;
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

static int open_reward(Session *s, const Opts *o, SrError *err) {
    RewardContext ctx = {0};
    ctx.path = o->reward;
    ctx.tokenizer_path = o->reward_tokenizer;
    ctx.lexicon = o->lexicon;
    ctx.template_name = o->reward_template;
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
    const char *src = o->method == SEARCH_CLI_GENERATE ? "selflik" : o->reward_source;
    return reward_open(src, &ctx, &s->rs, err);
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
    p->seed = (uint64_t)o->seed;
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
    p->label = METHOD_NAMES[o->method];
    p->progress = o->method != SEARCH_CLI_GENERATE && !o->no_progress && isatty(STDERR_FILENO);
    p->policy_params.alpha = o->alpha;
    p->policy_params.first_decision = (int)o->first_decision;
    const char *policy = "none";
    if (o->method == SEARCH_CLI_GENERATE) p->n = 1, p->kv_budget = SIZE_MAX;
    if (o->method == SEARCH_CLI_BON || o->method == SEARCH_CLI_RECORD) p->n = (int)o->n;
    if (o->method == SEARCH_CLI_SPR) {
        policy = o->policy ? o->policy : (o->schedule ? "schedule" : "quantile");
        if (o->schedule &&
            args_parse_int_list("--schedule", o->schedule, 1, 1 << 20, &s->schedule,
                                &s->n_schedule, err) != 0)
            return -1;
        p->policy_params.schedule = s->schedule;
        p->policy_params.n_schedule = s->n_schedule;
    }
    if (!(p->policy = policy_find(policy, err))) return -1;
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
        cJSON_AddBoolToObject(e, "finished", c->finished);
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

static cJSON *wave_costs_json(const SearchResult *r) {
    cJSON *arr = cJSON_CreateArray();
    for (int w = 0; arr && r->wave_stats && w < r->stats.waves; w++) {
        const SearchStats *st = &r->wave_stats[w];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "wave", w + 1);
        cJSON_AddNumberToObject(e, "candidates", st->candidates);
        cJSON_AddNumberToObject(e, "gen_flops", st->gen_flops);
        cJSON_AddNumberToObject(e, "rm_flops", st->rm_flops);
        cJSON_AddNumberToObject(e, "tokens_generated", (double)st->tokens_generated);
        cJSON_AddNumberToObject(e, "tokens_scored", (double)st->tokens_scored);
        cJSON_AddNumberToObject(e, "seconds_generation", st->seconds_generation);
        cJSON_AddNumberToObject(e, "seconds_scoring", st->seconds_scoring);
        cJSON_AddNumberToObject(e, "seconds_total",
                                st->seconds_generation + st->seconds_scoring + st->seconds_other);
        cJSON_AddItemToArray(arr, e);
    }
    return arr;
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

static int write_json(Session *s, const Opts *o, double gold, int has_gold, SrError *err) {
    const SearchCandidate *c = &s->res.cands[s->res.best];
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "method", METHOD_NAMES[o->method]);
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
    cJSON_AddStringToObject(j, "stop", c->stop_id >= 0 ? "stop_id" : "max_new");
    cJSON_AddNumberToObject(j, "reward", c->score);
    cJSON_AddStringToObject(j, "reward_source", s->rs->name);
    cJSON_AddStringToObject(j, "reward_detail", s->rs->detail);
    if (has_gold) cJSON_AddNumberToObject(j, "gold", gold);
    else cJSON_AddNullToObject(j, "gold");
    cJSON_AddNumberToObject(j, "candidate", c->index);
    if (o->method == SEARCH_CLI_SPR) {
        cJSON_AddNumberToObject(j, "alpha", o->alpha);
        cJSON_AddStringToObject(j, "policy", o->policy ? o->policy : (o->schedule ? "schedule" : "quantile"));
    }
    if (o->method == SEARCH_CLI_BON) cJSON_AddNumberToObject(j, "N", (double)o->n);
    cJSON_AddNumberToObject(j, "seed", (double)o->seed);
    cJSON *st = search_stats_json(&s->res.stats);
    if (st) cJSON_AddItemToObject(j, "stats", st);
    if (st) cJSON_AddItemToObject(st, "wave_costs", wave_costs_json(&s->res));
    cJSON *cands = candidates_json(s, err);
    if (!cands) {
        cJSON_Delete(j);
        return -1;
    }
    cJSON_AddItemToObject(j, "candidates", cands);
    if (s->replaying) cJSON_AddBoolToObject(j, "replayed", 1);
    int rc = json_write_file(o->json, j, err);
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
    printf("cost: generator %.4g FLOPs, reward %.4g FLOPs, %lld tokens generated, %lld scored, "
           "%d decision points, peak KV %zu of %zu bytes\n",
           st->gen_flops, st->rm_flops, st->tokens_generated, st->tokens_scored,
           st->decision_points, st->peak_kv_bytes, st->kv_budget);
    printf("time: generation %.3fs, scoring %.3fs, other %.3fs\n", st->seconds_generation,
           st->seconds_scoring, st->seconds_other);
    if (s->replaying) printf("replayed from %s (no model was run)\n", o->record);
}

static int finish(Session *s, const Opts *o, SrError *err) {
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
        SrError gerr = {{0}};
        if (gold_load(o->lexicon ? o->lexicon : GOLD_DEFAULT_LEXICON, &s->gold, &gerr) == 0) {
            gold = gold_score(s->gold, s->response, s->response_len);
            has_gold = 1;
        } else if (o->lexicon) {
            return sr_fail(err, "%s", gerr.msg);
        }
    }
    if (o->json) return write_json(s, o, gold, has_gold, err);
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
                        : strcmp(o->template_name, "auto") ? "--template"
                        : strcmp(o->reward_template, "auto") ? "--reward-template" : NULL;
    if (fixed) return sr_fail(err, "replay: %s is fixed by the record (%s)", fixed, o->record);
    if (o->alpha_given && o->n)
        return sr_fail(err, "replay: give one of --alpha (Speculative Rejection) and -N "
                            "(Best-of-N)");
    if (!o->alpha_given && !o->n)
        return sr_fail(err, "replay: give --alpha A (Speculative Rejection) or -N N (Best-of-N)");
    if (o->n && (o->policy || o->schedule))
        return sr_fail(err, "replay: --policy and --schedule need --alpha (Best-of-N has none)");
    o->replay = 1;
    o->method = o->n ? SEARCH_CLI_BON : SEARCH_CLI_SPR;
    return 0;
}

/* The record fixes sampling, seed and length: a replay can take them only
 * as recorded. */
static int replay_check(const Opts *o, const Record *r, SrError *err) {
    if (o->seed >= 0 && (uint64_t)o->seed != r->seed)
        return sr_fail(err, "--seed: %lld differs from the record's %llu (%s)", o->seed,
                       (unsigned long long)r->seed, o->record);
    if (o->temperature >= 0 && o->temperature != r->temperature)
        return sr_fail(err, "--temperature: %g differs from the record's %g (%s)", o->temperature,
                       r->temperature, o->record);
    if (o->top_k >= 0 && o->top_k != r->top_k)
        return sr_fail(err, "--top-k: %lld differs from the record's %d (%s)", o->top_k, r->top_k,
                       o->record);
    if (o->top_p >= 0 && o->top_p != r->top_p)
        return sr_fail(err, "--top-p: %g differs from the record's %g (%s)", o->top_p, r->top_p,
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

static int replay_setup(Session *s, Opts *o, SrError *err) {
    s->replaying = 1;
    if (record_load(o->record, &s->rec, err) != 0) return -1;
    const Record *r = &s->rec;
    if (replay_check(o, r, err) != 0) return -1;
    o->seed = (long long)r->seed, o->temperature = r->temperature, o->top_k = r->top_k;
    o->top_p = r->top_p, o->max_new = r->max_new;
    o->prompt_kv = r->prompt_kv_per_candidate ? "per-candidate" : "shared";
    o->prompt = r->prompt_text; /* for --json; NULL in an id-only record */
    if (intvec_extend(&s->prompt, r->prompt, r->n_prompt, err) != 0) return -1;
    if (intvec_extend(&s->stops, r->stops, r->n_stops, err) != 0) return -1;
    if (replay_open(&s->replay, r, o->record, err) != 0) return -1;
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
    SrError gerr = {{0}};
    if (gold_load(o->lexicon ? o->lexicon : GOLD_DEFAULT_LEXICON, &s->gold, &gerr) == 0) {
        r->has_gold = 1;
        if (record_hash_file(o->lexicon ? o->lexicon : GOLD_DEFAULT_LEXICON, &r->lexicon_hash,
                             err) != 0)
            return -1;
    } else if (o->lexicon) {
        return sr_fail(err, "%s", gerr.msg);
    }
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
    r->seed = (uint64_t)o->seed;
    r->temperature = o->temperature, r->top_p = o->top_p, r->top_k = (int)o->top_k;
    r->max_new = (int)o->max_new, r->max_new_eff = plan->max_new;
    r->prompt_kv_per_candidate = o->prompt_kv && strcmp(o->prompt_kv, "per-candidate") == 0;
    r->n_stops = s->stops.len, r->n_prompt = s->prompt.len;
    if (!(r->stops = dup_ids(s->stops.data, s->stops.len, err))) return -1;
    if (!(r->prompt = dup_ids(s->prompt.data, s->prompt.len, err))) return -1;
    if (!o->prompt_ids && !(r->prompt_text = dup_str(o->prompt, err))) return -1;
    if (!(r->gen_path = dup_str(o->model, err))) return -1;
    if (record_hash_model(o->model, &r->gen_hash, err) != 0) return -1;
    r->gen_cfg = *model_config(s->gen);
    const RewardSource *rs = s->rs;
    if (!(r->rs_name = dup_str(rs->name, err)) || !(r->rs_detail = dup_str(rs->detail, err)))
        return -1;
    int model_src = strcmp(rs->name, "model") == 0;
    if (!(r->rm_path = dup_str(model_src ? o->reward : "", err))) return -1;
    if (model_src) {
        Model *rm = NULL;
        /* the shapes behind the source's KV bytes and FLOPs: config only
         * would do, but loading is what validates them */
        if (record_hash_model(o->reward, &r->rm_hash, err) != 0) return -1;
        if (model_load(o->reward, &rm, err) != 0) return -1;
        r->rm_cfg = *model_config(rm);
        model_free(rm);
        r->has_rm_cfg = 1;
    }
    r->rs_kv_bytes_per_token = rs->kv_bytes_per_token;
    r->rs_reserve_bytes = rs->reserve_bytes;
    r->rs_prefix_len = rs->prefix_len, r->rs_closing_len = rs->closing_len;
    r->rs_max_response = rs->max_response;
    return 0;
}

static int record_main(Opts *o, SrError *err) {
    Session s = {0};
    SearchParams p;
    RecordTap tap = {0};
    Record rec = {0};
    SearchPlan plan;
    int rc = -1;
    if (model_load(o->model, &s.gen, err) != 0) goto done;
    if (load_prompt(&s, o, err) != 0) goto done;
    if (open_reward(&s, o, err) != 0) goto done;
    if (strcmp(s.rs->name, "model") == 0 && s.rs->kv_bytes_per_token == 0) {
        sr_fail(err, "record: %s has another tokenizer than the generator; a bridged reward "
                     "model rescores from re-encoded text, which a record cannot replay", o->reward);
        goto done;
    }
    if (fill_params(&s, o, &p, err) != 0) goto done;
    p.policy = &record_policy;
    /* only the effective max_new is needed here; it does not depend on the KV mode */
    if (search_plan(s.gen, s.rs, s.prompt.len, p.max_new, p.policy, &p.policy_params,
                    !p.prompt_kv_per_candidate, &plan, err) != 0)
        goto done;
    if (record_tap_init(&tap, s.gen, (int)o->n, plan.max_new, err) != 0) goto done;
    p.on_decision = record_tap_decision;
    p.user = &tap;
    { /* an unwritable path fails now, not after the run */
        AtomicFile probe;
        if (atomic_open(&probe, o->output, err) != 0) goto done;
        atomic_abort(&probe);
    }
    if (search_run_gen(&tap.gen, s.rs, s.prompt.data, s.prompt.len, &p, &s.res, err) != 0)
        goto done;
    if (record_tap_fill(&tap, &s.res, &rec, err) != 0) goto done;
    if (record_header(&s, o, &plan, &rec, err) != 0) goto done;
    if (record_text_gold(&s, o, &rec, err) != 0) goto done;
    if (record_write(o->output, &rec, err) != 0) goto done;
    const SearchStats *st = &s.res.stats;
    long long tokens = 0;
    for (int i = 0; i < rec.n_cands; i++) tokens += rec.cands[i].len;
    printf("recorded %d candidates (%lld response tokens, max_new %d) to %s\n", rec.n_cands,
           tokens, rec.max_new_eff, o->output);
    printf("cost: generator %.4g FLOPs, reward %.4g FLOPs (every prefix scored), %.3fs\n",
           st->gen_flops, st->rm_flops,
           st->seconds_generation + st->seconds_scoring + st->seconds_other);
    rc = 0;
done:
    record_free(&rec);
    record_tap_free(&tap);
    session_free(&s);
    return rc;
}

int search_cli_main(SearchCliMethod method, int argc, char **argv, SrError *err) {
    Opts o = {0};
    o.method = method;
    if (parse_opts(&o, argc, argv, err) != 0) return -1;
    if (o.help) {
        usage(method);
        return 0;
    }
    if (method == SEARCH_CLI_RECORD) return record_main(&o, err);
    Session s = {0};
    SearchParams p;
    int rc = -1;
    if (o.replay) {
        if (replay_setup(&s, &o, err) != 0) goto done;
    } else {
        if (model_load(o.model, &s.gen, err) != 0) goto done;
        if (load_prompt(&s, &o, err) != 0) goto done;
        if (open_reward(&s, &o, err) != 0) goto done; /* a known source from here on */
        if (check_no_effect(&o, err) != 0) goto done;
    }
    if (fill_params(&s, &o, &p, err) != 0) goto done;
    /* an unwritable path fails now, not after the run */
    if (o.json && atomic_probe(o.json, err) != 0) goto done;
    if (o.json && o.trace && same_file(o.json, o.trace)) {
        sr_fail(err, "--trace: %s is also the --json file (each needs its own)", o.trace);
        goto done;
    }
    if (o.trace) {
        if (trace_open(&s.trace, o.trace, err) != 0) goto done;
        p.on_decision = trace_decision;
        p.user = &s.trace;
    }
    if (o.first_decision_given && strcmp(p.policy->name, "quantile") != 0)
        fprintf(stderr, "specrej: warning: --first-decision has no effect with --policy %s "
                        "(the initial batch is sized for its first decision length)\n",
                p.policy->name);
    if ((o.replay ? search_run_gen(&s.replay.gen, s.rs, s.prompt.data, s.prompt.len, &p, &s.res,
                                   err)
                  : search_run(s.gen, s.rs, s.prompt.data, s.prompt.len, &p, &s.res, err)) != 0)
        goto done;
    if (finish(&s, &o, err) != 0) goto done;
    /* committed last: a run that fails (e.g. a bad --lexicon) leaves no trace */
    if (o.trace && trace_finish(&s.trace, &s.res, err) != 0) goto done;
    rc = 0;
done:
    session_free(&s);
    return rc;
}
