/* search_plan.c - the driver's budget arithmetic (search_internal.h): what
 * one candidate costs at a length, how many a wave holds, and whether one
 * more step of everyone fits. The planners and the caches count in the
 * same whole blocks (kv_bytes_for), so a plan that fits never fails a
 * reserve; a fork's shared blocks cost nothing until a step copies them
 * (kv_copy_bytes), and that step is checked with the copies in. */
#include "search/search_internal.h"

/* Prompt positions a candidate's slot is charged for: all of them when each
 * candidate copies the prompt, none when it shares them (kv_share_prefix:
 * they are charged once, to the prompt's own slot). */
static int own_prompt_positions(int len, int share_prompt) { return share_prompt ? 0 : len; }

/* The source's bytes for one new candidate scored at r tokens, beyond the
 * scratch it needs whatever the candidates (reward.h: bytes_needed). */
static size_t source_per_candidate(const RewardSource *rs, int r, int share_prompt) {
    RewardCand fresh = {0};
    const RewardCand *one = &fresh;
    return reward_bytes_needed(rs, share_prompt, 1, &one, &r) -
           reward_bytes_needed(rs, share_prompt, 0, NULL, NULL);
}

/* KV bytes of one candidate that has sampled r >= 1 tokens and is being
 * scored: generator slot prompt + r - 1 (the last token is not fed yet),
 * plus what the source says it needs, prompts as charged, the generator's
 * slot in whole blocks (kv_bytes_for: the cache charges what it allocates). */
static size_t per_candidate(int block, size_t g, int n_prompt, const RewardSource *rs, int r,
                            int share_prompt) {
    int positions = own_prompt_positions(n_prompt, share_prompt) + r - 1;
    /* A candidate scored after its first token holds no position of its own
     * yet (the prompt is shared, the token not fed); plan one block for it
     * anyway, so that no candidate is free and the budget still bounds the
     * batch (a zero here divided the budget by zero in size_waves). */
    if (positions < 1) positions = 1;
    return kv_bytes_for(block, g, positions) + source_per_candidate(rs, r, share_prompt);
}

int search_plan_cfg(const ModelConfig *cfg, const RewardSource *rs, int n_prompt, int max_new,
                    const Policy *policy, const PolicyArgs *pa, int share_prompt, int kv_block,
                    SearchPlan *plan, SrError *err) {
    if (kv_block && kv_block_check(kv_block, err) != 0) return -1;
    if (n_prompt < 1) return sr_fail(err, "prompt: empty (the generator needs at least one token)");
    if (n_prompt >= cfg->max_seq_len)
        return sr_fail(err, "prompt: %d tokens leave no room in the generator's context of %d",
                       n_prompt, cfg->max_seq_len);
    int eff = max_new;
    if (eff > cfg->max_seq_len - n_prompt + 1) eff = cfg->max_seq_len - n_prompt + 1;
    if (eff > reward_max_response(rs)) eff = reward_max_response(rs);
    if (eff < 1) return sr_fail(err, "prompt: no room left for a response");
    size_t g = kv_bytes_per_token(cfg);
    plan->max_new = eff;
    int block = plan->kv_block = kv_block_resolve(kv_block);
    /* the prompt's slot, the source's held bytes and its scoring scratch */
    plan->fixed = kv_bytes_for(block, g, n_prompt) + reward_held_bytes(rs) +
                  reward_bytes_needed(rs, share_prompt, 0, NULL, NULL);
    plan->per_cand_full = per_candidate(block, g, n_prompt, rs, eff, share_prompt);
    int len = policy->plan_length(pa, eff);
    if (len < 1) len = 1;
    if (len > eff) len = eff;
    plan->per_cand_plan = per_candidate(block, g, n_prompt, rs, len, share_prompt);
    /* The one guard for every divisor of the planner: size_waves divides
     * the budget by per_cand_plan, and a model whose KV holds no bytes (a
     * hostile record's config, kv_bytes_per_token 0) would make it 0 */
    if (plan->per_cand_plan == 0 || plan->per_cand_full == 0)
        return sr_fail(err, "model: its KV cache holds 0 bytes per token (a config with no "
                            "layers or heads): nothing to plan a budget with");
    return 0;
}

int search_plan(const Model *gen, const RewardSource *rs, int n_prompt, int max_new,
                const Policy *policy, const PolicyArgs *pa, int share_prompt, int kv_block,
                SearchPlan *plan, SrError *err) {
    return search_plan_cfg(model_config(gen), rs, n_prompt, max_new, policy, pa, share_prompt,
                           kv_block, plan, err);
}

int search_size_waves(Run *R, int *n_total, SrError *err) {
    const SearchParams *p = R->p;
    SearchPlan *pl = &R->plan;
    size_t k = p->budget_candidates > 0 ? (size_t)p->budget_candidates
                                        : (size_t)SEARCH_DEFAULT_BUDGET_CANDIDATES;
    size_t unit = pl->fixed + k * pl->per_cand_full;
    size_t limit = p->kv_budget ? p->kv_budget : unit;
    if (limit < pl->fixed + pl->per_cand_full)
        return sr_fail(err, "--kv-budget: %zu bytes cannot hold one candidate at full length "
                            "(%d tokens): need at least %zu bytes",
                       limit, pl->max_new, pl->fixed + pl->per_cand_full);
    size_t fit = (limit - pl->fixed) / pl->per_cand_plan;
    if (p->max_batch > 0 && fit > (size_t)p->max_batch) fit = (size_t)p->max_batch;
    if (fit > (1u << 20)) fit = 1u << 20;
    R->room = (int)fit; /* a branching policy's forks may fill what the budget holds */
    /* the candidates planned (0: one wave of what fits) */
    int want = p->n > 0                      ? p->n
               : p->policy->plan_candidates ? p->policy->plan_candidates(&p->policy_args, (int)fit)
                                            : 0;
    if (p->cand_allowance > 0 && (want > 0 ? want : (int)fit) > p->cand_allowance)
        want = p->cand_allowance;
    if (want > 0 && fit > (size_t)want) fit = (size_t)want;
    R->cap = (int)fit;
    if (!p->policy->branch) R->room = R->cap;
    *n_total = want > 0 ? want : R->cap;
    if (p->cand_limit > 0 && *n_total > p->cand_limit && p->n == 0 && p->policy->plan_candidates)
        return sr_fail(err, "%s: this run plans %d candidates (policy %s), the record holds %d "
                            "(record with -N %d or more, or plan at most %d with the policy's "
                            "parameters)",
                       p->cand_limit_source ? p->cand_limit_source : "generator", *n_total,
                       p->policy->name, p->cand_limit, *n_total, p->cand_limit);
    if (p->cand_limit > 0 && *n_total > p->cand_limit)
        return sr_fail(err, "%s: this run needs %d candidates, the record holds %d (record with "
                            "-N %d or more, or cap the run with --max-batch %d)",
                       p->cand_limit_source ? p->cand_limit_source : "generator", *n_total,
                       p->cand_limit, *n_total, p->cand_limit);
    kv_budget_init(&R->budget, limit, pl->kv_block);
    R->res->stats.kv_budget = limit;
    R->res->stats.initial_batch = R->cap;
    R->res->stats.max_new_effective = pl->max_new;
    return 0;
}

/* Bytes a slot of bytes-per-token b is charged more at 'to' own positions
 * than at 'from' (whole blocks: kv_bytes_for). */
static size_t growth(int block, size_t b, int from, int to) {
    return kv_bytes_for(block, b, to) - kv_bytes_for(block, b, from);
}

/* The generator's share: a live candidate of r response tokens holds its
 * own prompt positions + r - 1 (r = 0, one rewound to the start: none, and
 * it is not fed), charged in whole blocks, plus the blocks the step copies
 * because a fork shares them; the source's from the source (the live at
 * r + 1 tokens, the finished not yet scored at their own length). */
size_t search_bytes_after_step(const Run *R) {
    size_t need = R->budget.used, g = kv_bytes_per_token(R->cfg);
    int og = own_prompt_positions(R->n_prompt, R->share), n = 0, n_slots = 0;
    for (int i = 0; i < R->n_batch; i++) {
        SearchCandidate *s = R->batch[i];
        if (s->state == CAND_LIVE) {
            int r = s->tokens.len;
            if (r > 0) need += growth(R->plan.kv_block, g, og + r - 1, og + r);
            if (R->forked) R->slots[n_slots++] = s->gslot;
            R->rw[n] = &s->rw, R->lens[n++] = r + 1;
        } else if (!s->scored) {
            R->rw[n] = &s->rw, R->lens[n++] = s->tokens.len;
        }
    }
    if (n_slots > 0) need += kv_copy_bytes(R->kv, n_slots, R->slots);
    return need + reward_bytes_needed(R->rs, R->share, n, (const RewardCand *const *)R->rw,
                                      R->lens);
}
