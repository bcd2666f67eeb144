/* search_session.c - what a run holds (search_session.h): the models, the
 * tokenizer, the gold judge, the prompt and stop ids, the reward source,
 * the search parameters, and the models' content hashes. */
#define _POSIX_C_SOURCE 200809L
#include "cli/search_session.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/args.h"
#include "search/policy_args.h"
#include "search/record.h"
#include "text/template.h"

/* Frees what one prompt's run made, keeping the models, the tokenizer and
 * the gold judge for the next prompt. */
void session_reset_run(SearchSession *s) {
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

void session_free(SearchSession *s) {
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

int session_load_prompt(SearchSession *s, const SearchOpts *o, SrError *err) {
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

int session_open_reward(SearchSession *s, const SearchOpts *o, SrError *err) {
    RewardContext ctx = {0};
    ctx.path = o->reward;
    ctx.model = s->rm;
    ctx.load = &o->load;
    ctx.tokenizer_path = o->reward_tokenizer;
    ctx.lexicon = o->lexicon;
    ctx.template_name = o->reward_template;
    ctx.chat = &o->chat;
    ctx.prompt_text = o->prompt_ids ? NULL : o->prompt;
    ctx.prompt_ids = s->prompt.data;
    ctx.n_prompt = s->prompt.len;
    ctx.gen_tok = s->tok;
    ctx.gen_vocab = model_config(s->gen)->vocab_size;
    ctx.kv_block = (int)o->kv_block;
    ctx.max_new = o->max_new > 0 && o->max_new < INT32_MAX ? (int)o->max_new : 0;
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
static int mask_undecodable(SearchSession *s, SearchParams *p, SrError *err) {
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

int session_fill_params(SearchSession *s, const SearchOpts *o, SearchParams *p, SrError *err) {
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
    p->cand_allowance = o->cand_allowance;
    if (o->kv_budget && o->budget_candidates)
        return sr_fail(err, "give at most one of --kv-budget and --kv-budget-candidates");
    if (o->prompt_kv && strcmp(o->prompt_kv, "shared") != 0 &&
        strcmp(o->prompt_kv, "per-candidate") != 0)
        return sr_fail(err, "--prompt-kv: '%s' is not shared or per-candidate", o->prompt_kv);
    p->prompt_kv_per_candidate = o->prompt_kv && strcmp(o->prompt_kv, "per-candidate") == 0;
    p->select = o->select;
    p->kv_block = (int)o->kv_block;
    p->label = SEARCH_METHOD_NAMES[o->method];
    if (s->replaying) p->cand_limit = s->cand_limit, p->cand_limit_source = o->record;
    /* batch mode draws one line per prompt instead (batch_main) */
    int show = o->progress > 0 || (o->progress == 0 && isatty(STDERR_FILENO));
    progress_init(&s->progress, show && !o->prompts && !o->explain, SEARCH_METHOD_NAMES[o->method],
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

/* The generator's (and, want_rm, the reward model's) content hash, read
 * from the files once per session. */
int session_hashes(SearchSession *s, const SearchOpts *o, int want_rm, SrError *err) {
    if (!s->gen_hashed && record_hash_model(o->model, &s->gen_hash, err) != 0) return -1;
    s->gen_hashed = 1;
    if (want_rm && !s->rm_hashed && record_hash_model(o->reward, &s->rm_hash, err) != 0)
        return -1;
    s->rm_hashed |= want_rm;
    return 0;
}
