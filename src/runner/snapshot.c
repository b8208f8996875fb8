/*
 * The work dir as the build left it, kept in the runner's own memory and
 * put back before each test, so that a test never sees what an earlier
 * one wrote.  A copy on disk would be no safer: the program runs as the
 * runner's uid and could change it; the runner's memory it cannot reach
 * (not dumpable, no ptrace).  Regular files, directories and symbolic
 * links are kept, with their modes and the files' mtimes; anything else
 * (a fifo, a socket) is left out.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runner.h"

#define SNAPSHOT_PATH_MAX 4096

static struct snapshot_entry *
snapshot_add(struct snapshot *s, const char *path, const struct stat *st)
{
	struct snapshot_entry *v, *e;
	size_t cap;

	if (s->count == s->cap) {
		cap = s->cap ? s->cap * 2 : 16;
		if ((v = realloc(s->v, cap * sizeof(*v))) == NULL)
			return NULL;
		s->v = v;
		s->cap = cap;
	}
	e = &s->v[s->count];
	memset(e, 0, sizeof(*e));
	if ((e->path = strdup(path)) == NULL)
		return NULL;
	e->mode = st->st_mode;
	e->mtime = st->st_mtim;
	s->count++;
	return e;
}

/* Reads all of a file or a link's target into e->data. */
static int
snapshot_read(struct snapshot_entry *e, const struct stat *st)
{
	size_t size = (size_t)st->st_size;
	ssize_t n;
	int fd;

	if ((e->data = malloc(size + 1)) == NULL)
		return -1;
	if (S_ISLNK(st->st_mode)) {
		if ((n = readlink(e->path, e->data, size + 1)) == -1)
			return -1;
		if ((size_t)n > size) {
			errno = EAGAIN; /* it changed under us */
			return -1;
		}
		e->len = (size_t)n;
		e->data[n] = '\0';
		return 0;
	}
	if ((fd = open(e->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return -1;
	while (e->len < size && (n = read(fd, e->data + e->len,
	    size - e->len)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			close(fd);
			return -1;
		}
		e->len += (size_t)n;
	}
	close(fd);
	return 0;
}

/* Adds what dir holds, a directory before its contents. */
static int
snapshot_walk(struct snapshot *s, const char *dir, char *err, size_t errlen)
{
	struct snapshot_entry *e;
	char path[SNAPSHOT_PATH_MAX];
	struct dirent *d;
	struct stat st;
	DIR *dp;
	int rc = -1;

	if ((dp = opendir(dir)) == NULL) {
		snprintf(err, errlen, "snapshot: %s: %s", dir, strerror(errno));
		return -1;
	}
	while ((errno = 0, d = readdir(dp)) != NULL) {
		if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0)
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, d->d_name) >=
		    (int)sizeof(path)) {
			snprintf(err, errlen, "snapshot: a path is too long");
			goto done;
		}
		if (lstat(path, &st) == -1)
			goto fail;
		if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode) &&
		    !S_ISLNK(st.st_mode))
			continue;
		if ((e = snapshot_add(s, path, &st)) == NULL ||
		    (!S_ISDIR(st.st_mode) && snapshot_read(e, &st) == -1))
			goto fail;
		if (S_ISDIR(st.st_mode) &&
		    snapshot_walk(s, path, err, errlen) == -1)
			goto done;
	}
	if (errno == 0) {
		rc = 0;
		goto done;
	}
fail:
	snprintf(err, errlen, "snapshot: %.200s: %s", path, strerror(errno));
done:
	closedir(dp);
	return rc;
}

/* Keeps the current directory's tree in s. */
int
snapshot_take(struct snapshot *s, char *err, size_t errlen)
{
	struct stat st;

	memset(s, 0, sizeof(*s));
	if (stat(".", &st) == -1) {
		snprintf(err, errlen, "snapshot: .: %s", strerror(errno));
		return -1;
	}
	s->root_mode = st.st_mode & 07777;
	return snapshot_walk(s, ".", err, errlen);
}

/*
 * Removes everything in the directory dfd, whatever its modes: the
 * program may have taken the write bit off a directory it owns.
 */
static int
snapshot_empty(int dfd)
{
	struct dirent *d;
	struct stat st;
	DIR *dp;
	int fd, rc = 0;

	if (fchmod(dfd, 0700) == -1 || (fd = dup(dfd)) == -1)
		return -1;
	if ((dp = fdopendir(fd)) == NULL) {
		close(fd);
		return -1;
	}
	while ((d = readdir(dp)) != NULL) {
		if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0)
			continue;
		if (fstatat(dfd, d->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1) {
			rc = -1;
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			fd = openat(dfd, d->d_name, O_RDONLY | O_DIRECTORY |
			    O_NOFOLLOW | O_CLOEXEC);
			if (fd == -1 || snapshot_empty(fd) == -1)
				rc = -1;
			if (fd != -1)
				close(fd);
		}
		if (unlinkat(dfd, d->d_name, S_ISDIR(st.st_mode) ?
		    AT_REMOVEDIR : 0) == -1)
			rc = -1;
	}
	closedir(dp);
	return rc;
}

static int
snapshot_write(const struct snapshot_entry *e)
{
	struct timespec times[2];
	size_t off = 0;
	ssize_t n;
	int fd;

	if (S_ISDIR(e->mode))
		return mkdir(e->path, 0700);
	if (S_ISLNK(e->mode))
		return symlink(e->data, e->path);
	if ((fd = open(e->path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) == -1)
		return -1;
	while (off < e->len) {
		if ((n = write(fd, e->data + off, e->len - off)) == -1) {
			if (errno == EINTR)
				continue;
			close(fd);
			return -1;
		}
		off += (size_t)n;
	}
	times[0] = times[1] = e->mtime;
	if (fchmod(fd, e->mode & 07777) == -1 || futimens(fd, times) == -1) {
		close(fd);
		return -1;
	}
	return close(fd);
}

/*
 * Makes the current directory what snapshot_take() saw: everything in it
 * removed, then the tree written again.  Directories get their modes last,
 * deepest first, so that a read-only one can be filled.
 */
int
snapshot_restore(const struct snapshot *s, char *err, size_t errlen)
{
	size_t i;
	int dfd;

	if ((dfd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    snapshot_empty(dfd) == -1) {
		snprintf(err, errlen, "restore: emptying the work dir: %s",
		    strerror(errno));
		if (dfd != -1)
			close(dfd);
		return -1;
	}
	close(dfd);
	for (i = 0; i < s->count; i++) {
		if (snapshot_write(&s->v[i]) == -1) {
			snprintf(err, errlen, "restore: %.200s: %s",
			    s->v[i].path, strerror(errno));
			return -1;
		}
	}
	for (i = s->count; i-- > 0;) {
		if (S_ISDIR(s->v[i].mode) &&
		    chmod(s->v[i].path, s->v[i].mode & 07777) == -1) {
			snprintf(err, errlen, "restore: %.200s: %s",
			    s->v[i].path, strerror(errno));
			return -1;
		}
	}
	if (chmod(".", s->root_mode) == -1) {
		snprintf(err, errlen, "restore: .: %s", strerror(errno));
		return -1;
	}
	return 0;
}

void
snapshot_free(struct snapshot *s)
{
	size_t i;

	for (i = 0; i < s->count; i++) {
		free(s->v[i].path);
		free(s->v[i].data);
	}
	free(s->v);
	memset(s, 0, sizeof(*s));
}
