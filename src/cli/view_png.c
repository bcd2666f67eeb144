/* view_png.c - a PNG of the view page for slides, rendered by headless
 * Chromium (view_png.h). */
#define _POSIX_C_SOURCE 200809L
#define _XOPEN_SOURCE 700 /* nftw */
#include "cli/view_png.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/fileio.h"

extern char **environ;

/* Temporary folder names: $TMPDIR plus a suffix. */
#define PATH_CAP 1024

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

/* Runs browser with args, its output to /dev/null; its exit status, or -1
 * with errno when it could not start. */
static int run_quiet(const char *browser, char *const *argv) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    int rc = posix_spawnp(&pid, browser, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        errno = rc;
        return -1;
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Runs the first browser that starts; 0 when it exits 0. */
static int screenshot(const char *dir, const char *page, const char *out, int width, int height,
                      SrError *err) {
    char url[PATH_CAP + 64], arg[PATH_CAP + 64], profile[PATH_CAP + 64], window[64];
    snprintf(window, sizeof window, "--window-size=%d,%d", width, height);
    snprintf(url, sizeof url, "file://%s", page);
    snprintf(arg, sizeof arg, "--screenshot=%s", out);
    snprintf(profile, sizeof profile, "--user-data-dir=%s/profile", dir);
    const char *env = getenv("SPECREJ_CHROMIUM");
    const char *const names[] = {env && *env ? env : "chromium", "chromium-browser",
                                 "google-chrome"};
    int n = env && *env ? 1 : 3;
    for (int k = 0; k < n; k++) {
        char *argv[] = {(char *)names[k], "--headless", "--no-sandbox", "--disable-gpu",
                        "--disable-quic", "--no-first-run", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync",
                        "--disable-crash-reporter", "--hide-scrollbars", window, profile, arg,
                        url, NULL};
        int rc = run_quiet(names[k], argv);
        if (rc < 0 && errno == ENOENT) continue;
        if (rc < 0) return sr_fail(err, "view: cannot start %s: %s", names[k], strerror(errno));
        if (rc != 0)
            return sr_fail(err, "view: %s exited %d taking the screenshot (write the page with "
                                "-o run.html and open it in a browser instead)", names[k], rc);
        return 0;
    }
    return sr_fail(err, "view: a PNG needs headless Chromium, and %s is not on PATH (apt-get "
                        "install chromium, or set SPECREJ_CHROMIUM; or write -o run.html)",
                   names[0]);
}

static int write_page(const char *page, const char *html, SrError *err) {
    FILE *f = fopen(page, "w");
    if (!f) return sr_fail(err, "view: %s: %s", page, strerror(errno));
    int ok = fputs(html, f) >= 0;
    ok = fclose(f) == 0 && ok;
    return ok ? 0 : sr_fail(err, "view: %s: write failed", page);
}

/* Copies the browser's file into the output (the two may sit on different
 * file systems, so no rename). */
static int copy_into(const char *shot, AtomicFile *af, SrError *err) {
    char *bytes;
    size_t len;
    if (file_read_all(shot, (size_t)1 << 30, &bytes, &len, err) != 0)
        return sr_fail(err, "view: the browser wrote no image (write -o run.html instead)");
    int ok = len > 0 && fwrite(bytes, 1, len, af->fp) == len;
    free(bytes);
    return ok ? 0 : sr_fail(err, "%s: write failed", af->final_path);
}

int view_png_write(const char *html, const char *png_path, int width, int height, SrError *err) {
    AtomicFile af;
    if (atomic_open(&af, png_path, err) != 0) return -1;
    const char *tmp = getenv("TMPDIR");
    char dir[PATH_CAP];
    int n = snprintf(dir, sizeof dir, "%s/specrej_view_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (n < 0 || (size_t)n >= sizeof dir || !mkdtemp(dir)) {
        atomic_abort(&af);
        return sr_fail(err, "view: cannot make a temporary folder in %s: %s",
                       tmp && *tmp ? tmp : "/tmp", strerror(errno));
    }
    /* the browser picks the image format by the name's extension */
    char page[PATH_CAP + 16], shot[PATH_CAP + 16];
    snprintf(page, sizeof page, "%s/page.html", dir);
    snprintf(shot, sizeof shot, "%s/shot.png", dir);
    int rc = write_page(page, html, err);
    if (rc == 0) rc = screenshot(dir, page, shot, width, height, err);
    if (rc == 0) rc = copy_into(shot, &af, err);
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    if (rc != 0) {
        atomic_abort(&af);
        return -1;
    }
    return atomic_commit(&af, err);
}
