/* search_report.c - a finished run's output (search_report.h): the answer
 * as text, its --json object (or batch mode's line) with every parameter
 * that repeats the run, and the params of the --trace header. */
#define _POSIX_C_SOURCE 200809L
#include "cli/search_report.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/utf8.h"
#include "cli/policy_cli.h"
#include "cli/reward_cli.h"
#include "cli/search_output.h"
#include "cli/select_cli.h"
#include "runtime/kvcache.h"

/* {"temperature": "flag" | "generation_config" | "default" | "record",
 * "top_k", "top_p", "max_new"}: which source set each sampling value of the
 * run ("record": a replay's are the record's). */
static void add_sampling_source(cJSON *j, const SearchOpts *o) {
    int rec = !o->src_temperature;
    cJSON *s = cJSON_AddObjectToObject(j, "sampling_source");
    cJSON_AddStringToObject(s, "temperature", rec ? "record" : o->src_temperature);
    cJSON_AddStringToObject(s, "top_k", rec ? "record" : o->src_top_k);
    cJSON_AddStringToObject(s, "top_p", rec ? "record" : o->src_top_p);
    cJSON_AddStringToObject(s, "max_new", rec ? "record" : o->src_max_new);
}

static int decode_response(SearchSession *s, const SearchCandidate *c, SrError *err) {
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
static cJSON *candidates_json(SearchSession *s, SrError *err) {
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
        if (c->parent >= 0) { /* only forks carry these, so other runs' output is unchanged */
            cJSON_AddNumberToObject(e, "parent", c->parent);
            cJSON_AddNumberToObject(e, "forked_at", c->forked_at);
        }
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
/* params.reward.params: the source's argument values, only for a source
 * that declares parameters (the others' output stays as it always was). A
 * replay gives the record's, as the live run printed them. */
static int add_reward_args(SearchSession *s, const SearchOpts *o, cJSON *r, SrError *err) {
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

/* "weights", "kv_dtype", "template", "system", "thinking": the options that change the
 * prompt's ids or the scores beyond sampling, each only when given (absent:
 * the checkpoint's own storage, auto, none, the template's own), so the
 * output of a run without them is as it always was. A replay gives the
 * record's. */
static int add_run_opts(SearchSession *s, const SearchOpts *o, cJSON *j, SrError *err) {
    const char *w = model_weights_name(o->load.weights), *t = NULL, *sys = o->system,
               *th = o->thinking;
    if (strcmp(o->template_name, "auto") != 0) t = o->template_name;
    const char *kvd = model_weights_name(o->load.kv_dtype);
    if (s->replaying)
        w = s->rec.run_weights, t = s->rec.run_template, sys = s->rec.run_system,
        th = s->rec.run_thinking, kvd = s->rec.run_kv_dtype;
    if (w) cJSON_AddStringToObject(j, "weights", w);
    if (kvd) cJSON_AddStringToObject(j, "kv_dtype", kvd);
    if (t) cJSON_AddStringToObject(j, "template", t);
    if (sys) {
        size_t replaced; /* JSON text is UTF-8; the flag's bytes may not be */
        char *clean = utf8_sanitize(sys, strlen(sys), &replaced, err);
        if (!clean) return -1;
        cJSON_AddStringToObject(j, "system", clean);
        free(clean);
    }
    if (th) cJSON_AddBoolToObject(j, "thinking", strcmp(th, "on") == 0);
    return 0;
}

/* Every parameter of the run (docs/output-schema.md): what reproduces it. */
cJSON *search_report_params(SearchSession *s, const SearchOpts *o, const SearchParams *p, SrError *err) {
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
        if (s->replaying && s->rec.has_closing_ids) /* a version 4 record */
            cJSON_AddItemToObject(r, "closing_ids",
                                  ids_json(s->rec.closing_ids, s->rec.n_closing_ids));
        else if (s->replaying && s->rec.rs_closing_len == 0 && s->rec.has_rm_cfg)
            /* an older record keeps how many closing ids there were, not
             * which: none is the one case it can tell */
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
    cJSON_AddNumberToObject(b, "kv_block", kv_block_resolve(p->kv_block));
    if (p->cand_allowance > 0) /* absent without one: older output unchanged */
        cJSON_AddNumberToObject(b, "candidate_allowance", p->cand_allowance);
    cJSON_AddItemToObject(j, "policy", policy_cli_json(p->policy, &p->policy_args));
    cJSON *sel = select_cli_json(&p->select); /* absent for argmax: older output unchanged */
    if (sel) cJSON_AddItemToObject(j, "select", sel);
    if (add_run_opts(s, o, j, err) != 0) {
        cJSON_Delete(j);
        return NULL;
    }
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
int search_report_emit(SearchSession *s, const SearchOpts *o, cJSON *j, SrError *err) {
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

static int write_json(SearchSession *s, const SearchOpts *o, const SearchParams *p, double gold, int has_gold,
                      SrError *err) {
    const SearchCandidate *c = &s->res.cands[s->res.best];
    cJSON *j = output_begin("result");
    cJSON *params = j ? search_report_params(s, o, p, err) : NULL;
    if (!params) {
        cJSON_Delete(j);
        return j ? -1 : sr_fail(err, "--json: out of memory");
    }
    cJSON_AddStringToObject(j, "method", SEARCH_METHOD_NAMES[o->method]);
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
    int rc = search_report_emit(s, o, j, err);
    cJSON_Delete(j);
    return rc;
}

static void print_text(SearchSession *s, const SearchOpts *o, double gold, int has_gold) {
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

int search_report_finish(SearchSession *s, const SearchOpts *o, const SearchParams *p, SrError *err) {
    if (s->res.best < 0) return sr_fail(err, "%s: no candidate finished", SEARCH_METHOD_NAMES[o->method]);
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

