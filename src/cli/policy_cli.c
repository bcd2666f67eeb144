/* policy_cli.c - policy flags, help and record from the declarations
 * (policy_cli.h); the parameter flags through param_cli.h, shared with the
 * reward sources. */
#include "cli/policy_cli.h"

#include <string.h>

#include "cli/args.h"
#include "search/policy_args.h"

static ParamOwner owner_at(int i) { return policy_owner(policy_at(i)); }

static const ParamRegistry POLICIES = {"--policy-arg", "alpha=0.5", "--policy", "policy",
                                       "policy", policy_count, owner_at};

int policy_cli_take(PolicyCli *pc, int argc, char **argv, int *i, SrError *err) {
    const char *v = NULL;
    int r;
    if ((r = args_take_value(argc, argv, i, "--policy", NULL, &v, err)) != 0)
        return r < 0 ? -1 : (pc->policy = v, 1);
    return param_cli_take(&pc->params, &POLICIES, argc, argv, i, err);
}

int policy_cli_given(const PolicyCli *pc) { return pc->policy || pc->params.n_args > 0; }

/* Without --policy: the first policy that takes every given parameter. */
static const Policy *infer(const PolicyCli *pc, const char *fallback, SrError *err) {
    if (pc->params.n_args == 0) return policy_find(fallback ? fallback : policy_at(0)->name, err);
    for (int i = 0; i < policy_count(); i++) {
        ParamOwner o = owner_at(i);
        int all = 1;
        for (int j = 0; all && j < pc->params.n_args; j++)
            all = param_cli_takes(&o, &pc->params.args[j]);
        if (all) return policy_at(i);
    }
    return policy_at(0); /* resolve names the parameter it does not take */
}

int policy_cli_resolve(const PolicyCli *pc, const char *fallback, const Policy **out,
                       PolicyArgs *a, SrError *err) {
    const Policy *p = pc->policy ? policy_find(pc->policy, err) : infer(pc, fallback, err);
    if (!p) return -1;
    ParamOwner o = policy_owner(p);
    *out = p;
    return param_cli_apply(&pc->params, &POLICIES, &o, a, err);
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
            char line[256];
            param_cli_describe(&p->params[k], line, sizeof line);
            fprintf(f, "      %s\n          %s\n", line, p->params[k].help);
        }
    }
}

cJSON *policy_cli_json(const Policy *p, const PolicyArgs *a) {
    ParamOwner o = policy_owner(p);
    cJSON *obj = cJSON_CreateObject(), *args = param_cli_json(&o, a);
    if (!obj || !args) {
        cJSON_Delete(obj), cJSON_Delete(args);
        return NULL;
    }
    cJSON_AddStringToObject(obj, "name", p->name);
    cJSON_AddItemToObject(obj, "params", args);
    return obj;
}
