/* policy_list.h - the registry: one line X(NAME) per src/search/policy_NAME.c,
 * in the order --help lists them. Read only by policy.c (no include guard:
 * it is expanded twice there). */
X(quantile)
X(schedule)
X(none)
X(topk)
X(margin)
X(adaptive)
X(resample)
X(tree)
X(segment)
X(stop)
