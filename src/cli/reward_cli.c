/* reward_cli.c - reward-source flags, help and the run's record of its
 * arguments, from the sources' declarations (reward_cli.h). */
#include "cli/reward_cli.h"

#include <string.h>

#include "cli/args.h"
#include "search/policy_args.h"

/* The parameter a registered source declares with the flag arg ("--x" or
 * "--x=1"), or NULL. */
static const PolicyParam *flag_param(const char *arg) {
    size_t n = strcspn(arg, "=");
    for (int i = 0; i < reward_count(); i++) {
        const RewardEntry *e = reward_at(i);
        for (int k = 0; k < e->n_params; k++) {
            const char *f = e->params[k].flag;
            if (f && strlen(f) == n && strncmp(f, arg, n) == 0) return &e->params[k];
        }
    }
    return NULL;
}

static int add_arg(RewardCli *rc, const char *label, const char *name, size_t name_len,
                   const char *value, SrError *err) {
    if (rc->n_args == REWARD_CLI_MAX_ARGS)
        return sr_fail(err, "%s: more than %d reward-source parameters given", label,
                       REWARD_CLI_MAX_ARGS);
    rc->args[rc->n_args++] = (RewardCliArg){label, name, name_len, value};
    return 0;
}

int reward_cli_take(RewardCli *rc, int argc, char **argv, int *i, SrError *err) {
    const char *v = NULL;
    int r;
    if ((r = args_take_value(argc, argv, i, "--reward-arg", NULL, &v, err)) != 0) {
        if (r < 0) return -1;
        const char *eq = strchr(v, '=');
        if (!eq || eq == v)
            return sr_fail(err, "--reward-arg: '%s' is not name=value (e.g. weight=0.5)", v);
        return add_arg(rc, "--reward-arg", v, (size_t)(eq - v), eq + 1, err) ? -1 : 1;
    }
    const PolicyParam *q = flag_param(argv[*i]);
    if (!q || (r = args_take_value(argc, argv, i, q->flag, NULL, &v, err)) == 0) return 0;
    if (r < 0) return -1;
    return add_arg(rc, q->flag, q->name, strlen(q->name), v, err) ? -1 : 1;
}

int reward_cli_given(const RewardCli *rc) { return rc->n_args > 0; }

static int takes(const RewardEntry *e, const RewardCliArg *g) {
    for (int k = 0; k < e->n_params; k++)
        if (strlen(e->params[k].name) == g->name_len &&
            strncmp(e->params[k].name, g->name, g->name_len) == 0)
            return 1;
    return 0;
}

/* "--reward-arg weight: has no effect with --reward-source model (only with
 * --reward-source lenpen)", or, for a name no source takes, what this one
 * takes. */
static int not_taken(const RewardEntry *e, const RewardCliArg *g, const char *label,
                     SrError *err) {
    char others[256] = "", own[256] = "";
    for (int i = 0; i < reward_count(); i++)
        if (takes(reward_at(i), g))
            snprintf(others + strlen(others), sizeof others - strlen(others), "%s%s",
                     others[0] ? ", " : "", reward_at(i)->name);
    if (others[0])
        return sr_fail(err, "%s: has no effect with --reward-source %s (only with "
                            "--reward-source %s)", label, e->name, others);
    for (int k = 0; k < e->n_params; k++)
        snprintf(own + strlen(own), sizeof own - strlen(own), "%s%s", k ? ", " : "",
                 e->params[k].name);
    return sr_fail(err, "%s: no reward source takes a parameter '%.*s' (%s takes %s)", label,
                   (int)g->name_len, g->name, e->name, own[0] ? own : "none");
}

int reward_cli_resolve(const RewardCli *rc, const RewardEntry *e, PolicyArgs *a, SrError *err) {
    ParamOwner o = reward_owner(e);
    if (param_args_init(&o, a, err) != 0) return -1;
    for (int j = 0; j < rc->n_args; j++) {
        const RewardCliArg *g = &rc->args[j];
        char name[64], label[96];
        snprintf(name, sizeof name, "%.*s", (int)g->name_len, g->name);
        if (strcmp(g->label, "--reward-arg") == 0)
            snprintf(label, sizeof label, "--reward-arg %s", name);
        else
            snprintf(label, sizeof label, "%s", g->label);
        if (!takes(e, g)) return not_taken(e, g, label, err);
        if (param_args_set(&o, a, name, g->value, label, err) != 0) return -1;
    }
    return param_args_check(&o, a, err);
}

static const char *type_name(PolicyParamType t) {
    switch (t) {
    case POLICY_INT: return "int";
    case POLICY_DOUBLE: return "number";
    case POLICY_INT_LIST: return "list of ints";
    default: return "list of numbers";
    }
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
                 {REWARD_NEEDS_HIDDEN, "the generator's hidden states"}};
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
            const PolicyParam *q = &e->params[k];
            char def[80], range[64];
            if (q->def) snprintf(def, sizeof def, "default %s", q->def);
            else snprintf(def, sizeof def, "required, e.g. %s", q->example);
            if (q->hi >= 1e30) snprintf(range, sizeof range, ">= %.15g", q->lo);
            else snprintf(range, sizeof range, "in [%.15g, %.15g%c", q->lo, q->hi,
                          q->hi_open ? ')' : ']');
            fprintf(f, "%24s%s%s%s%s: %s %s, %s: %s\n", "", q->name, q->flag ? " (" : "",
                    q->flag ? q->flag : "", q->flag ? ")" : "", type_name(q->type), range, def,
                    q->help);
        }
    }
}

cJSON *reward_cli_json(const RewardEntry *e, const PolicyArgs *a) {
    cJSON *args = cJSON_CreateObject();
    for (int k = 0; args && k < e->n_params; k++) {
        const PolicyParam *q = &e->params[k];
        if (q->type == POLICY_INT || q->type == POLICY_DOUBLE) {
            cJSON_AddNumberToObject(args, q->name, a->num[k]);
            continue;
        }
        int n;
        const double *v = policy_list(a, k, &n);
        cJSON_AddItemToObject(args, q->name, cJSON_CreateDoubleArray(v, n));
    }
    return args;
}

void reward_cli_modelless(char *buf, size_t cap) {
    buf[0] = 0;
    for (int i = 0; i < reward_count(); i++)
        if (!(reward_needs(reward_at(i)) & REWARD_NEEDS_MODEL))
            snprintf(buf + strlen(buf), cap - strlen(buf), "%s%s", buf[0] ? "|" : "",
                     reward_at(i)->name);
}
