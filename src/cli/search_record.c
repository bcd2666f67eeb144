/* search_record.c - record and replay (search_record.h; issue 14,
 * src/search/replay.h): a replay's session from its record, and a record
 * run: Best-of-N with every prefix scored, written to a record file. */
#define _POSIX_C_SOURCE 200809L
#include "cli/search_record.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "search/replay.h"
#include "text/tokenizer.h"


int search_replay_setup(SearchSession *s, SearchOpts *o, SrError *err) {
    s->replaying = 1;
    if (record_load(o->record, &s->rec, err) != 0) return -1;
    const Record *r = &s->rec;
    if (search_opts_check_outputs(o, r->gen_path, err) != 0) return -1;
    if (search_opts_replay_check(o, r, err) != 0) return -1;
    o->seed = r->seed, o->temperature = r->temperature, o->top_k = r->top_k;
    o->top_p = r->top_p, o->max_new = r->max_new;
    o->prompt_kv = r->prompt_kv_per_candidate ? "per-candidate" : "shared";
    o->prompt = r->prompt_text; /* for --json; NULL in an id-only record */
    if (intvec_extend(&s->prompt, r->prompt, r->n_prompt, err) != 0) return -1;
    if (intvec_extend(&s->stops, r->stops, r->n_stops, err) != 0) return -1;
    if (replay_open(&s->replay, r, o->record, (int)o->kv_block, err) != 0) return -1;
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
static int record_text_gold(SearchSession *s, const SearchOpts *o, Record *r, SrError *err) {
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

static int record_header(SearchSession *s, const SearchOpts *o, const SearchPlan *plan, Record *r,
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
    /* the options that change the ids or the scores beyond sampling (version 3) */
    const char *run[] = {model_weights_name(o->load.weights),
                         strcmp(o->template_name, "auto") != 0 ? o->template_name : NULL,
                         o->system, o->thinking};
    char **dst[] = {&r->run_weights, &r->run_template, &r->run_system, &r->run_thinking};
    for (size_t i = 0; i < sizeof run / sizeof run[0]; i++)
        if (run[i] && !(*dst[i] = dup_str(run[i], err))) return -1;
    const char *kvd = model_weights_name(o->load.kv_dtype); /* as given (version 5) */
    if (kvd && !(r->run_kv_dtype = dup_str(kvd, err))) return -1;
    if (o->closing_ids) { /* as given, "none" as no ids (version 4) */
        r->has_closing_ids = 1, r->n_closing_ids = s->n_closing;
        if (!(r->closing_ids = dup_ids(s->closing, s->n_closing, err))) return -1;
    }
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
        if (!s->rm && model_load_with(o->reward, &o->load, &rm, err) != 0) return -1;
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


/* One record file: Best-of-N on the session's prompt (o->prompt or
 * o->prompt_ids) with every prefix scored, written to path. */
int search_record_one(SearchSession *s, const SearchOpts *o, const char *path, SrError *err) {
    SearchParams p;
    RecordTap tap = {0};
    Record rec = {0};
    SearchPlan plan;
    int rc = -1;
    if (session_load_prompt(s, o, err) != 0 || session_open_reward(s, o, err) != 0) {
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
    if (session_fill_params(s, o, &p, err) != 0) goto done;
    p.policy = &record_policy;
    /* only the effective max_new is needed here; it does not depend on the KV mode */
    if (search_plan(s->gen, s->rs, s->prompt.len, p.max_new, p.policy, &p.policy_args,
                    !p.prompt_kv_per_candidate, p.kv_block, &plan, err) != 0)
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

