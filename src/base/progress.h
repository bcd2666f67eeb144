/* progress.h - one progress line on stderr: done/total, rate and ETA,
 * redrawn in place at most PROGRESS_HZ times a second (a redraw per token
 * made long runs slower and their logs unreadable).
 *
 * The caller decides whether there is a line at all (commands: stderr is a
 * terminal, or --progress) and owns the Progress value; a disabled one
 * costs one branch per update. Nothing here ever writes to stdout. */
#ifndef SPECREJ_PROGRESS_H
#define SPECREJ_PROGRESS_H

#define PROGRESS_HZ 4

typedef struct Progress {
    int enabled;
    const char *label; /* e.g. "bon" */
    const char *unit;  /* e.g. "steps", "prompts" */
    double t_start, t_drawn;
    long long done0;   /* done at the first update: the rate counts this run's work */
    int started, drawn;
} Progress;

void progress_init(Progress *p, int enabled, const char *label, const char *unit);
/* done of total units so far (total 0: unknown); redraws when due. */
void progress_update(Progress *p, long long done, long long total);
/* Draws the last state and ends the line (if anything was drawn). note,
 * unless NULL, ends the line in place of the ETA: a few words on why the
 * run ended where it did (e.g. a policy stopped it before its planned
 * total, which the caller then passes as done, so the numbers agree). */
void progress_finish(Progress *p, long long done, long long total, const char *note);

#endif
