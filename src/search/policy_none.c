/* none: Best-of-N. Never decide; waves are sized to run to the end. */
#include "search/policy.h"
#include "search/policy_rules.h"

const Policy policy_none = {
    .name = "none",
    .summary = "no rejection (Best-of-N)",
    .plan_length = policy_plan_to_end,
    .decide = policy_decide_never,
    .keep = policy_keep_all,
};
