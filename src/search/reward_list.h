/* reward_list.h - the registry of reward sources: one line X(NAME) per
 * src/search/reward_NAME.c, in the order --help lists them. The first is
 * the default of --reward-source. Read only by reward.c (no include guard:
 * it is expanded three times there). */
X(model)
X(selflik)
X(gold)
X(selfcertainty)
X(confidence)
X(opening)
X(consistency)
