/* progress.c - one progress line on stderr, redrawn in place at a bounded
 * rate (progress.h). */
#define _POSIX_C_SOURCE 200809L
#include "base/progress.h"

#include <stdio.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void progress_init(Progress *p, int enabled, const char *label, const char *unit) {
    *p = (Progress){0};
    p->enabled = enabled;
    p->label = label ? label : "run";
    p->unit = unit ? unit : "steps";
}

static void fmt_time(double s, char *buf, size_t cap) {
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, cap, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else if (t >= 60) snprintf(buf, cap, "%ldm%02lds", t / 60, t % 60);
    else snprintf(buf, cap, "%lds", t);
}

/* note: what ends the line instead of "ETA ..." (NULL: the ETA). */
static void draw(Progress *p, long long done, long long total, double t, const char *note) {
    double dt = t - p->t_start, rate = dt > 0 ? (double)(done - p->done0) / dt : 0;
    char eta[40] = "ETA ?";
    if (total > 0 && rate > 0 && done <= total)
        fmt_time((double)(total - done) / rate, eta + 4, sizeof eta - 4);
    char el[32];
    fmt_time(dt, el, sizeof el);
    if (total > 0)
        fprintf(stderr, "\r%s: %lld/%lld %s (%.0f%%), %.1f %s/s, %s elapsed, %s   ", p->label,
                done, total, p->unit, 100.0 * (double)done / (double)total, rate, p->unit, el,
                note ? note : eta);
    else
        fprintf(stderr, "\r%s: %lld %s, %.1f %s/s, %s elapsed%s%s   ", p->label, done, p->unit,
                rate, p->unit, el, note ? ", " : "", note ? note : "");
    fflush(stderr);
    p->t_drawn = t;
    p->drawn = 1;
}

void progress_update(Progress *p, long long done, long long total) {
    if (!p || !p->enabled) return;
    double t = now();
    if (!p->started) {
        p->started = 1, p->t_start = t, p->done0 = done;
        p->t_drawn = t - 1.0; /* the first update draws */
    }
    if (t - p->t_drawn >= 1.0 / PROGRESS_HZ) draw(p, done, total, t, NULL);
}

void progress_finish(Progress *p, long long done, long long total, const char *note) {
    if (!p || !p->enabled || !p->started) return;
    draw(p, done, total, now(), note);
    fputc('\n', stderr);
    p->started = 0;
    p->drawn = 0;
}
