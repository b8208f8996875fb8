/*
 * Compile once, run many: the comparison of a test's output with the one
 * expected, and the work dir put back between tests.
 */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runner.h"
#include "tap.h"

static int
match(const char *out, const char *expected)
{
	return tests_match(out, strlen(out), expected, strlen(expected));
}

static void
test_match(void)
{
	ok(match("3\n", "3"), "a final newline is ignored");
	ok(match("1 2  \n3\t\n\n\n", "1 2\n3"),
	    "white space at the end of lines and of the whole is ignored");
	ok(!match("1  2\n", "1 2\n"), "white space inside a line counts");
	ok(!match("4\n", "5\n"), "another number is wrong");
	ok(!match("1\n\n2\n", "1\n2\n"), "an empty line inside counts");
	ok(!match("1\n2\n", "1\n"), "a line more is wrong");
	ok(!match("", "1"), "nothing for something is wrong");
	ok(match("", "\n \n"), "nothing for white space is right");
}

static int
put(const char *path, const char *content, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	ssize_t n;

	if (fd == -1)
		return -1;
	n = write(fd, content, strlen(content));
	close(fd);
	return n == (ssize_t)strlen(content) ? 0 : -1;
}

static int
holds(const char *path, const char *content)
{
	char buf[64];
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY)) == -1)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return 0;
	buf[n] = '\0';
	return strcmp(buf, content) == 0;
}

static void
test_snapshot(void)
{
	char dir[] = "/tmp/runbox-snapshot.XXXXXX", err[RUNNER_ERRLEN];
	struct snapshot s;
	struct stat st;
	int top;

	if (mkdtemp(dir) == NULL || (top = open(".", O_RDONLY)) == -1 ||
	    chdir(dir) == -1) {
		ok(0, "a scratch directory");
		return;
	}
	ok(put("main.c", "int main;", 0644) == 0 && mkdir("lib", 0755) == 0 &&
	    put("lib/a.h", "A", 0600) == 0 && put("a.out", "ELF", 0755) == 0 &&
	    symlink("lib/a.h", "link") == 0 && mkdir("ro", 0755) == 0 &&
	    put("ro/k", "K", 0644) == 0 && chmod("ro", 0555) == 0,
	    "a built work dir");
	ok(snapshot_take(&s, err, sizeof(err)) == 0, "it is kept (%s)", err);
	/* A test changes a file, writes new ones, locks a directory. */
	ok(put("main.c", "changed", 0644) == 0 && put("new", "x", 0644) == 0 &&
	    mkdir("newdir", 0755) == 0 && put("newdir/f", "y", 0644) == 0 &&
	    chmod("newdir", 0) == 0 && unlink("a.out") == 0 &&
	    chmod(".", 0500) == 0, "a test's changes");
	ok(snapshot_restore(&s, err, sizeof(err)) == 0, "it is put back (%s)",
	    err);
	ok(holds("main.c", "int main;") && holds("lib/a.h", "A") &&
	    holds("ro/k", "K") && holds("link", "A"),
	    "every file holds what it held");
	ok(access("new", F_OK) == -1 && access("newdir", F_OK) == -1,
	    "files the test wrote are gone");
	ok(stat("a.out", &st) == 0 && (st.st_mode & 07777) == 0755 &&
	    stat("ro", &st) == 0 && (st.st_mode & 07777) == 0555 &&
	    stat(".", &st) == 0 && (st.st_mode & 0200),
	    "modes are put back, of files and directories");
	ok(snapshot_restore(&s, err, sizeof(err)) == 0 && holds("ro/k", "K"),
	    "it can be put back again, over a read-only directory");
	snapshot_free(&s);
	chmod("ro", 0755);
	if (fchdir(top) == 0) {
		char cmd[64];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0)
			ok(0, "the scratch directory is removed");
	}
	close(top);
}

int
main(void)
{
	test_match();
	test_snapshot();
	return tap_done();
}
