/* policy_cli.c - policy flags, help and record from the declarations
 * (policy_cli.h). */
#include "cli/policy_cli.h"

#include <string.h>

#include "cli/args.h"
#include "search/policy_args.h"

/* The parameter a registered policy declares with the flag arg ("--alpha",
 * or "--alpha=0.5" where args.h takes that form), or NULL. */
static const PolicyParam *flag_param(const char *arg) {
    size_t n = strcspn(arg, "=");
    for (int i = 0; i < policy_count(); i++) {
        const Policy *p = policy_at(i);
        for (int k = 0; k < p->n_params; k++) {
            const char *f = p->params[k].flag;
            if (f && strlen(f) == n && strncmp(f, arg, n) == 0) return &p->params[k];
        }
    }
    return NULL;
}

static int add_arg(PolicyCli *pc, const char *label, const char *name, size_t name_len,
                   const char *value, SrError *err) {
    if (pc->n_args == POLICY_CLI_MAX_ARGS)
        return sr_fail(err, "%s: more than %d policy parameters given", label,
                       POLICY_CLI_MAX_ARGS);
    pc->args[pc->n_args++] = (PolicyCliArg){label, name, value, name_len};
    return 0;
}

int policy_cli_take(PolicyCli *pc, int argc, char **argv, int *i, SrError *err) {
    const char *v = NULL;
    int r;
    if ((r = args_take_value(argc, argv, i, "--policy", NULL, &v, err)) != 0)
        return r < 0 ? -1 : (pc->policy = v, 1);
    if ((r = args_take_value(argc, argv, i, "--policy-arg", NULL, &v, err)) != 0) {
        if (r < 0) return -1;
        const char *eq = strchr(v, '=');
        if (!eq || eq == v)
            return sr_fail(err, "--policy-arg: '%s' is not name=value (e.g. alpha=0.5)", v);
        return add_arg(pc, "--policy-arg", v, (size_t)(eq - v), eq + 1, err) ? -1 : 1;
    }
    const PolicyParam *q = flag_param(argv[*i]);
    if (!q || (r = args_take_value(argc, argv, i, q->flag, NULL, &v, err)) == 0) return 0;
    if (r < 0) return -1;
    return add_arg(pc, q->flag, q->name, strlen(q->name), v, err) ? -1 : 1;
}

int policy_cli_given(const PolicyCli *pc) { return pc->policy || pc->n_args > 0; }

static int takes(const Policy *p, const PolicyCliArg *g) {
    for (int k = 0; k < p->n_params; k++)
        if (strlen(p->params[k].name) == g->name_len &&
            strncmp(p->params[k].name, g->name, g->name_len) == 0)
            return 1;
    return 0;
}

/* "--schedule: has no effect with --policy quantile (only with --policy
 * schedule)", or, for a name no policy takes, which names this one takes. */
static int not_taken(const Policy *p, const PolicyCliArg *g, SrError *err) {
    char label[96], others[256] = "", own[256] = "";
    if (strcmp(g->label, "--policy-arg") == 0)
        snprintf(label, sizeof label, "--policy-arg %.*s", (int)g->name_len, g->name);
    else
        snprintf(label, sizeof label, "%s", g->label);
    for (int i = 0; i < policy_count(); i++)
        if (takes(policy_at(i), g))
            snprintf(others + strlen(others), sizeof others - strlen(others), "%s%s",
                     others[0] ? ", " : "", policy_at(i)->name);
    if (others[0])
        return sr_fail(err, "%s: has no effect with --policy %s (only with --policy %s)", label,
                       p->name, others);
    for (int k = 0; k < p->n_params; k++)
        snprintf(own + strlen(own), sizeof own - strlen(own), "%s%s", k ? ", " : "",
                 p->params[k].name);
    return sr_fail(err, "%s: no policy takes a parameter '%.*s' (%s takes %s)", label,
                   (int)g->name_len, g->name, p->name, own[0] ? own : "none");
}

/* Without --policy: the first policy that takes every given parameter. */
static const Policy *infer(const PolicyCli *pc, const char *fallback, SrError *err) {
    if (pc->n_args == 0) return policy_find(fallback ? fallback : policy_at(0)->name, err);
    for (int i = 0; i < policy_count(); i++) {
        int all = 1;
        for (int j = 0; all && j < pc->n_args; j++) all = takes(policy_at(i), &pc->args[j]);
        if (all) return policy_at(i);
    }
    return policy_at(0); /* resolve names the parameter it does not take */
}

int policy_cli_resolve(const PolicyCli *pc, const char *fallback, const Policy **out,
                       PolicyArgs *a, SrError *err) {
    const Policy *p = pc->policy ? policy_find(pc->policy, err) : infer(pc, fallback, err);
    if (!p) return -1;
    if (policy_args_init(p, a, err) != 0) return -1;
    for (int j = 0; j < pc->n_args; j++) {
        const PolicyCliArg *g = &pc->args[j];
        if (!takes(p, g)) return not_taken(p, g, err);
        char name[64], label[96];
        snprintf(name, sizeof name, "%.*s", (int)g->name_len, g->name);
        if (strcmp(g->label, "--policy-arg") == 0)
            snprintf(label, sizeof label, "--policy-arg %s", name);
        else
            snprintf(label, sizeof label, "%s", g->label);
        if (policy_args_set(p, a, name, g->value, label, err) != 0) return -1;
    }
    *out = p;
    return policy_args_check(p, a, err);
}

static const char *type_name(PolicyParamType t) {
    switch (t) {
    case POLICY_INT: return "int";
    case POLICY_DOUBLE: return "number";
    case POLICY_INT_LIST: return "list of ints";
    default: return "list of numbers";
    }
}

void policy_cli_usage(FILE *f) {
    fprintf(f, "  --policy NAME         the rejection policy (default: the first below that\n"
               "                        takes every parameter given)\n"
               "  --policy-arg N=V      set the policy's parameter N (repeatable); a parameter\n"
               "                        with a flag of its own may be set by that flag too\n"
               "  policies and their parameters:\n");
    for (int i = 0; i < policy_count(); i++) {
        const Policy *p = policy_at(i);
        fprintf(f, "    %-20s%s\n", p->name, p->summary);
        for (int k = 0; k < p->n_params; k++) {
            const PolicyParam *q = &p->params[k];
            char def[80], range[64];
            if (q->def) snprintf(def, sizeof def, "default %s", q->def);
            else snprintf(def, sizeof def, "required, e.g. %s", q->example);
            if (q->hi >= 1e30) snprintf(range, sizeof range, ">= %.15g", q->lo);
            else snprintf(range, sizeof range, "in [%.15g, %.15g%c", q->lo, q->hi,
                          q->hi_open ? ')' : ']');
            fprintf(f, "      %s%s%s%s: %s %s, %s\n", q->name, q->flag ? " (" : "",
                    q->flag ? q->flag : "", q->flag ? ")" : "", type_name(q->type), range, def);
            fprintf(f, "          %s\n", q->help);
        }
    }
}

cJSON *policy_cli_json(const Policy *p, const PolicyArgs *a) {
    cJSON *o = cJSON_CreateObject(), *args = cJSON_CreateObject();
    if (!o || !args) {
        cJSON_Delete(o), cJSON_Delete(args);
        return NULL;
    }
    cJSON_AddStringToObject(o, "name", p->name);
    cJSON_AddItemToObject(o, "params", args);
    for (int k = 0; k < p->n_params; k++) {
        const PolicyParam *q = &p->params[k];
        if (q->type == POLICY_INT || q->type == POLICY_DOUBLE) {
            cJSON_AddNumberToObject(args, q->name, a->num[k]);
            continue;
        }
        int n;
        const double *v = policy_list(a, k, &n);
        cJSON_AddItemToObject(args, q->name, cJSON_CreateDoubleArray(v, n));
    }
    return o;
}
