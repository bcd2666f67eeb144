/* param_cli.c - parameter flags, their errors, help and JSON for any
 * registry of parameter owners (param_cli.h). */
#include "cli/param_cli.h"

#include <stdio.h>
#include <string.h>

#include "cli/args.h"

/* The parameter an owner of r declares with the flag arg ("--alpha", or
 * "--alpha=0.5" where args.h takes that form), or NULL. */
static const PolicyParam *flag_param(const ParamRegistry *r, const char *arg) {
    size_t n = strcspn(arg, "=");
    for (int i = 0; i < r->count(); i++) {
        ParamOwner o = r->at(i);
        for (int k = 0; k < o.n_params; k++) {
            const char *f = o.params[k].flag;
            if (f && strlen(f) == n && strncmp(f, arg, n) == 0) return &o.params[k];
        }
    }
    return NULL;
}

static int add_arg(ParamCli *pc, const ParamRegistry *r, const char *label, const char *name,
                   size_t name_len, const char *value, SrError *err) {
    if (pc->n_args == PARAM_CLI_MAX_ARGS)
        return sr_fail(err, "%s: more than %d %s parameters given", label, PARAM_CLI_MAX_ARGS,
                       r->many);
    pc->args[pc->n_args++] = (ParamCliArg){label, name, name_len, value};
    return 0;
}

int param_cli_take(ParamCli *pc, const ParamRegistry *r, int argc, char **argv, int *i,
                   SrError *err) {
    const char *v = NULL;
    int rc;
    if ((rc = args_take_value(argc, argv, i, r->arg_flag, NULL, &v, err)) != 0) {
        if (rc < 0) return -1;
        const char *eq = strchr(v, '=');
        if (!eq || eq == v)
            return sr_fail(err, "%s: '%s' is not name=value (e.g. %s)", r->arg_flag, v,
                           r->example);
        return add_arg(pc, r, r->arg_flag, v, (size_t)(eq - v), eq + 1, err) ? -1 : 1;
    }
    const PolicyParam *q = flag_param(r, argv[*i]);
    if (!q || (rc = args_take_value(argc, argv, i, q->flag, NULL, &v, err)) == 0) return 0;
    if (rc < 0) return -1;
    return add_arg(pc, r, q->flag, q->name, strlen(q->name), v, err) ? -1 : 1;
}

int param_cli_takes(const ParamOwner *o, const ParamCliArg *g) {
    for (int k = 0; k < o->n_params; k++)
        if (strlen(o->params[k].name) == g->name_len &&
            strncmp(o->params[k].name, g->name, g->name_len) == 0)
            return 1;
    return 0;
}

static int not_taken(const ParamRegistry *r, const ParamOwner *o, const ParamCliArg *g,
                     const char *label, SrError *err) {
    char others[256] = "", own[256] = "";
    for (int i = 0; i < r->count(); i++) {
        ParamOwner x = r->at(i);
        if (param_cli_takes(&x, g))
            snprintf(others + strlen(others), sizeof others - strlen(others), "%s%s",
                     others[0] ? ", " : "", x.name);
    }
    if (others[0])
        return sr_fail(err, "%s: has no effect with %s %s (only with %s %s)", label,
                       r->choose_flag, o->name, r->choose_flag, others);
    for (int k = 0; k < o->n_params; k++)
        snprintf(own + strlen(own), sizeof own - strlen(own), "%s%s", k ? ", " : "",
                 o->params[k].name);
    return sr_fail(err, "%s: no %s takes a parameter '%.*s' (%s takes %s)", label, r->kind,
                   (int)g->name_len, g->name, o->name, own[0] ? own : "none");
}

int param_cli_apply(const ParamCli *pc, const ParamRegistry *r, const ParamOwner *o,
                    PolicyArgs *a, SrError *err) {
    if (param_args_init(o, a, err) != 0) return -1;
    for (int j = 0; j < pc->n_args; j++) {
        const ParamCliArg *g = &pc->args[j];
        char name[64], label[96];
        snprintf(name, sizeof name, "%.*s", (int)g->name_len, g->name);
        if (strcmp(g->label, r->arg_flag) == 0)
            snprintf(label, sizeof label, "%s %s", r->arg_flag, name);
        else
            snprintf(label, sizeof label, "%s", g->label);
        if (!param_cli_takes(o, g)) return not_taken(r, o, g, label, err);
        if (param_args_set(o, a, name, g->value, label, err) != 0) return -1;
    }
    return param_args_check(o, a, err);
}

static const char *type_name(PolicyParamType t) {
    switch (t) {
    case POLICY_INT: return "int";
    case POLICY_DOUBLE: return "number";
    case POLICY_INT_LIST: return "list of ints";
    default: return "list of numbers";
    }
}

void param_cli_describe(const PolicyParam *q, char *buf, size_t cap) {
    char def[80], range[64];
    if (q->def) snprintf(def, sizeof def, "default %s", q->def);
    else snprintf(def, sizeof def, "required, e.g. %s", q->example);
    if (q->hi >= POLICY_NO_MAX) snprintf(range, sizeof range, ">= %.15g", q->lo);
    else snprintf(range, sizeof range, "in [%.15g, %.15g%c", q->lo, q->hi, q->hi_open ? ')' : ']');
    snprintf(buf, cap, "%s%s%s%s: %s %s, %s", q->name, q->flag ? " (" : "", q->flag ? q->flag : "",
             q->flag ? ")" : "", type_name(q->type), range, def);
}

cJSON *param_cli_json(const ParamOwner *o, const PolicyArgs *a) {
    cJSON *args = cJSON_CreateObject();
    for (int k = 0; args && k < o->n_params; k++) {
        const PolicyParam *q = &o->params[k];
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
