/*
 * The payload's files: names checked so that none leaves the work dir,
 * then written below the current directory.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runner.h"

/*
 * Returns 0 if s is a JSON string of at most max bytes (0: any length)
 * without a NUL byte, else -1.  Names and commands become C strings, and
 * a NUL would cut them short of what the client sent.
 */
int
files_check_string(struct json_object *s, size_t max)
{
	size_t len;

	if (!json_object_is_type(s, json_type_string))
		return -1;
	len = (size_t)json_object_get_string_len(s);
	if (max != 0 && len > max)
		return -1;
	return memchr(json_object_get_string(s), '\0', len) == NULL ? 0 : -1;
}

/*
 * Returns 0 if name is a relative path that stays inside the work dir,
 * else -1 with the reason in err.  Pure, so that runboxd can reject a bad
 * payload before it creates a container.  Names are at most
 * FILES_NAME_MAX bytes, which also bounds every component.
 */
int
files_check_name(const char *name, char *err, size_t errlen)
{
	const char *p, *comp;
	size_t len;

	if (*name == '\0') {
		snprintf(err, errlen, "empty name");
		return -1;
	}
	if (strlen(name) > FILES_NAME_MAX) {
		snprintf(err, errlen, "name too long (more than %d bytes)",
		    FILES_NAME_MAX);
		return -1;
	}
	if (*name == '/') {
		snprintf(err, errlen, "absolute path");
		return -1;
	}
	for (p = name; *p != '\0'; p++) {
		/* Names end up in shell commands and in terminal output. */
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			snprintf(err, errlen, "control character in name");
			return -1;
		}
	}
	for (comp = name; ; comp += len + 1) {
		len = strcspn(comp, "/");
		if (len == 0) {
			snprintf(err, errlen, "empty path component");
			return -1;
		}
		if (len == 1 && comp[0] == '.') {
			snprintf(err, errlen, "'.' component");
			return -1;
		}
		if (len == 2 && comp[0] == '.' && comp[1] == '.') {
			snprintf(err, errlen, "'..' component");
			return -1;
		}
		if (comp[len] == '\0')
			return 0;
	}
}

/* Creates the directories leading to the file name, like mkdir -p. */
static int
files_mkdirs(const char *name)
{
	char path[FILES_NAME_MAX + 1];
	const char *slash;

	for (slash = strchr(name, '/'); slash != NULL;
	    slash = strchr(slash + 1, '/')) {
		memcpy(path, name, (size_t)(slash - name));
		path[slash - name] = '\0';
		if (mkdir(path, 0755) == -1 && errno != EEXIST)
			return -1;
	}
	return 0;
}

/* Writes all of content to a new file; -1 with errno set on failure. */
static int
files_write_one(const char *name, const char *content, size_t len)
{
	ssize_t n;
	int fd, saved;

	/* The tmpfs is fresh, but never write through a link. */
	fd = open(name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
	    0644);
	if (fd == -1)
		return -1;
	while (len > 0) {
		if ((n = write(fd, content, len)) == -1) {
			if (errno == EINTR)
				continue;
			saved = errno;
			close(fd);
			errno = saved;
			return -1;
		}
		content += n;
		len -= (size_t)n;
	}
	return close(fd);
}

/* Returns the string member key of entry i. */
static struct json_object *
files_member(struct json_object *entry, size_t i, const char *key, char *err,
    size_t errlen)
{
	struct json_object *val;

	if (!json_object_object_get_ex(entry, key, &val) ||
	    !json_object_is_type(val, json_type_string)) {
		snprintf(err, errlen, "files[%zu].%s: missing or not a string",
		    i, key);
		return NULL;
	}
	return val;
}

/*
 * Returns -1 if two files named a and b cannot both be written: the same
 * name, or one names a directory of the other ("a" and "a/b"), else 0.
 */
int
files_check_clash(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la > lb)
		return files_check_clash(b, a);
	return strncmp(a, b, la) == 0 && (b[la] == '\0' || b[la] == '/') ?
	    -1 : 0;
}

static int
files_load_one(struct json_object *entry, size_t i, struct runner_files *files,
    size_t *total, char *err, size_t errlen)
{
	struct runner_file *f = &files->v[i];
	struct json_object *val;
	char why[RUNNER_ERRLEN];
	size_t j;

	if (!json_object_is_type(entry, json_type_object)) {
		snprintf(err, errlen, "files[%zu]: not an object", i);
		return -1;
	}
	if ((val = files_member(entry, i, "name", err, errlen)) == NULL)
		return -1;
	if (files_check_string(val, 0) == -1) {
		snprintf(err, errlen, "files[%zu].name: NUL byte", i);
		return -1;
	}
	f->name = json_object_get_string(val);
	if (files_check_name(f->name, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "files[%zu].name: %s", i, why);
		return -1;
	}
	for (j = 0; j < i; j++) {
		if (files_check_clash(files->v[j].name, f->name) == -1) {
			snprintf(err, errlen, "files[%zu].name: same as or a "
			    "directory of files[%zu]", i, j);
			return -1;
		}
	}
	if ((val = files_member(entry, i, "content", err, errlen)) == NULL)
		return -1;
	f->content = json_object_get_string(val);
	f->len = (size_t)json_object_get_string_len(val);
	*total += f->len;
	if (*total > FILES_CONTENT_MAX) {
		snprintf(err, errlen, "files: content larger than %d bytes in "
		    "total", FILES_CONTENT_MAX);
		return -1;
	}
	return 0;
}

/*
 * Checks the payload's "files" array (NULL if absent) and fills files with
 * its entries, borrowed from array; the first is the main file.  Returns
 * -1 with the reason in err if any entry is bad.
 */
int
files_load(struct json_object *array, struct runner_files *files, char *err,
    size_t errlen)
{
	struct json_object *entry;
	size_t i, total = 0;

	files->v = NULL;
	files->count = 0;
	if (!json_object_is_type(array, json_type_array)) {
		snprintf(err, errlen, "files: missing or not an array");
		return -1;
	}
	if (json_object_array_length(array) > FILES_MAX) {
		snprintf(err, errlen, "files: more than %d files", FILES_MAX);
		return -1;
	}
	files->count = json_object_array_length(array);
	/* One extra slot so that an empty list still allocates. */
	if ((files->v = calloc(files->count + 1, sizeof(*files->v))) == NULL) {
		snprintf(err, errlen, "files: %s", strerror(errno));
		return -1;
	}
	for (i = 0; i < files->count; i++) {
		entry = json_object_array_get_idx(array, i);
		if (files_load_one(entry, i, files, &total, err,
		    errlen) == -1) {
			files_free(files);
			return -1;
		}
	}
	return 0;
}

/*
 * Writes every file, mode 0644, below the current directory, creating
 * the directories in its name.  Returns -1 with the reason in err.
 */
int
files_write(const struct runner_files *files, char *err, size_t errlen)
{
	const struct runner_file *f;
	size_t i;

	for (i = 0; i < files->count; i++) {
		f = &files->v[i];
		if (files_mkdirs(f->name) == -1 ||
		    files_write_one(f->name, f->content, f->len) == -1) {
			snprintf(err, errlen, "files[%zu]: write: %s", i,
			    strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* Releases what files_load() allocated; the strings belong to the payload. */
void
files_free(struct runner_files *files)
{
	free(files->v);
	files->v = NULL;
	files->count = 0;
}
