/* reward_cli.c - reward-source flags, help and the run's record of its
 * arguments, from the sources' declarations (reward_cli.h); the parameter
 * flags through param_cli.h, shared with the policies. */
#include "cli/reward_cli.h"

#include <string.h>

#include "cli/args.h"
#include "search/policy_args.h"

static ParamOwner owner_at(int i) { return reward_owner(reward_at(i)); }

static const ParamRegistry SOURCES = {"--reward-arg",  "weight=0.5",    "--reward-source",
                                      "reward source", "reward-source", reward_count,
                                      owner_at};

int reward_cli_take(RewardCli *rc, int argc, char **argv, int *i, SrError *err) {
    return param_cli_take(&rc->params, &SOURCES, argc, argv, i, err);
}

int reward_cli_given(const RewardCli *rc) { return rc->params.n_args > 0; }

int reward_cli_resolve(const RewardCli *rc, const RewardEntry *e, PolicyArgs *a, SrError *err) {
    ParamOwner o = reward_owner(e);
    return param_cli_apply(&rc->params, &SOURCES, &o, a, err);
}

/* "needs a reward model (--reward), the generator's tokenizer": from the
 * declared needs, so --help never lags the code. */
static void needs_text(const RewardEntry *e, char *buf, size_t cap) {
    static const struct {
        unsigned bit;
        const char *text;
    } NEEDS[] = {{REWARD_NEEDS_MODEL, "a reward model (--reward)"},
                 {REWARD_NEEDS_TOKENIZER, "the generator's tokenizer"},
                 {REWARD_NEEDS_LEXICON, "a lexicon (--lexicon)"},
                 {REWARD_NEEDS_LOGPROBS, "the generator's log-probabilities"},
                 {REWARD_NEEDS_DISTRIBUTION, "the generator's next-token distributions"},
                 {REWARD_NEEDS_HIDDEN, "the generator's hidden states"},
                 {REWARD_NEEDS_PEERS, "the other candidates (scores are relative)"}};
    unsigned needs = reward_needs(e);
    buf[0] = 0;
    for (size_t i = 0; i < sizeof NEEDS / sizeof NEEDS[0]; i++)
        if (needs & NEEDS[i].bit)
            snprintf(buf + strlen(buf), cap - strlen(buf), "%s%s", buf[0] ? ", " : "",
                     NEEDS[i].text);
    if (!buf[0]) snprintf(buf, cap, "nothing");
}

/* Sources as "  - NAME", their details 24 columns in: a layout apart from the
 * policies' (4 and 6 columns), which tools read from spr --help. */
void reward_cli_usage(FILE *f) {
    fprintf(f, "  --reward-arg N=V      set the reward source's parameter N (repeatable); a\n"
               "                        parameter with a flag of its own may be set by that flag\n"
               "  reward sources (--reward-source; the first is the default):\n");
    for (int i = 0; i < reward_count(); i++) {
        const RewardEntry *e = reward_at(i);
        char needs[256];
        needs_text(e, needs, sizeof needs);
        fprintf(f, "  - %-20s%s\n", e->name, e->summary);
        if (e->wraps) fprintf(f, "%24swraps: %s\n", "", e->wraps);
        fprintf(f, "%24sneeds: %s\n", "", needs);
        for (int k = 0; k < e->n_params; k++) {
            char line[256];
            param_cli_describe(&e->params[k], line, sizeof line);
            fprintf(f, "%24s%s: %s\n", "", line, e->params[k].help);
        }
    }
}

cJSON *reward_cli_json(const RewardEntry *e, const PolicyArgs *a) {
    ParamOwner o = reward_owner(e);
    return param_cli_json(&o, a);
}

void reward_cli_modelless(char *buf, size_t cap) {
    buf[0] = 0;
    for (int i = 0; i < reward_count(); i++)
        if (!(reward_needs(reward_at(i)) & REWARD_NEEDS_MODEL))
            snprintf(buf + strlen(buf), cap - strlen(buf), "%s%s", buf[0] ? "|" : "",
                     reward_at(i)->name);
}
