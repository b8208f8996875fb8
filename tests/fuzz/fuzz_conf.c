/*
 * The INI loader: conf_load() on the input written to a file.  iniparser
 * reads files only, so the input goes to runbox.ini in a private
 * directory, where a relative access_token_file finds nothing; in /dev/shm
 * when there is one, as a file rewritten on disk costs milliseconds a
 * run (ext4 flushes a truncated file on close).  It is removed at exit,
 * but not after a crash, which runs no atexit handler.  Beyond not
 * crashing: a refusal names the file; a configuration accepted holds what
 * conf_check() promises the rest of runboxd.
 */
#include "config.h"

#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runbox.h"
#include "fuzz.h"

#define KIB 1024LL

static char fuzz_dir[PATH_MAX];
static char fuzz_path[PATH_MAX];

static void
fuzz_cleanup(void)
{
	unlink(fuzz_path);
	rmdir(fuzz_dir);
}

static void
fuzz_setup(void)
{
	const char *tmp = getenv("TMPDIR");
	struct stat st;

	if (stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) &&
	    access("/dev/shm", W_OK) == 0)
		tmp = "/dev/shm";
	else if (tmp == NULL || *tmp == '\0')
		tmp = "/tmp";
	snprintf(fuzz_dir, sizeof(fuzz_dir), "%s/runbox-fuzz-conf.XXXXXX",
	    tmp);
	fuzz_assert(mkdtemp(fuzz_dir) != NULL);
	snprintf(fuzz_path, sizeof(fuzz_path), "%s/runbox.ini", fuzz_dir);
	atexit(fuzz_cleanup);
}

static void
fuzz_write(const uint8_t *data, size_t size)
{
	ssize_t n;
	int fd;

	fuzz_assert((fd = open(fuzz_path, O_WRONLY | O_CREAT | O_TRUNC |
	    O_CLOEXEC, 0600)) != -1);
	while (size > 0) {
		fuzz_assert((n = write(fd, data, size)) > 0);
		data += n;
		size -= (size_t)n;
	}
	fuzz_assert(close(fd) == 0);
}

static void
fuzz_check_limits(const struct conf *c, const struct limits *l)
{
	fuzz_assert(l->nofile_soft <= l->nofile_hard);
	fuzz_assert(l->nproc_soft <= l->nproc_hard);
	fuzz_assert(c->log_max_size >= 6 * l->output_size + 64 * KIB);
}

/* What conf_check() promises about a configuration it accepts. */
static void
fuzz_accepted(const struct conf *c)
{
	long long longest = 0;
	size_t i;

	fuzz_assert(c->access_token != NULL && c->access_token[0] != '\0');
	/* Every live container has a uid of its own, never root's. */
	fuzz_assert(c->uid_first > 0 &&
	    c->uid_last - c->uid_first + 1 >= RUN_UIDS);
	fuzz_assert(c->work_dir[0] == '/' && c->tmp_dir[0] == '/');
	fuzz_assert(strcmp(c->work_dir, c->tmp_dir) != 0);
	fuzz_assert(c->nimages >= 1);
	fuzz_check_limits(c, &c->limits);
	for (i = 0; i < c->nimages; i++) {
		fuzz_assert(c->images[i].key != NULL);
		fuzz_assert(c->images[i].name != NULL);
		fuzz_assert(c->images[i].name[0] != '\0');
		fuzz_assert(c->images[i].runtime != NULL &&
		    c->images[i].runtime[0] != '\0');
		fuzz_check_limits(c, &c->images[i].limits);
		fuzz_assert(c->images[i].limits.execution_time <=
		    c->images[i].limits.run_deadline);
		if (c->images[i].limits.run_deadline > longest)
			longest = c->images[i].limits.run_deadline;
		/* Every image allowed is the one a client gets by its name. */
		fuzz_assert(conf_find_image(c, c->images[i].name) ==
		    &c->images[i]);
	}
	/* What run_budget() plans for: the longest run an image allows. */
	fuzz_assert(c->max_run_time == longest);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[1024];
	struct conf c;

	if (fuzz_path[0] == '\0')
		fuzz_setup();
	fuzz_write(data, size);
	err[0] = '\0';
	if (conf_load(fuzz_path, &c, err, sizeof(err)) == -1) {
		fuzz_assert(strncmp(err, fuzz_path, strlen(fuzz_path)) == 0);
		fuzz_assert(err[strlen(fuzz_path)] == ':');
		fuzz_assert(c.path == NULL && c.images == NULL);
		return 0;
	}
	fuzz_accepted(&c);
	conf_free(&c);
	fuzz_assert(c.path == NULL && c.images == NULL);
	return 0;
}
