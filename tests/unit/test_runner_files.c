/*
 * files.c: which file names a payload may use, how the "files" array is
 * checked, and how files are written.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runner.h"
#include "tap.h"

static int
name_ok(const char *name)
{
	char err[RUNNER_ERRLEN];

	return files_check_name(name, err, sizeof(err)) == 0;
}

/* True if name is rejected with a reason that contains why. */
static int
name_rejected(const char *name, const char *why)
{
	char err[RUNNER_ERRLEN] = "";

	return files_check_name(name, err, sizeof(err)) == -1 &&
	    strstr(err, why) != NULL;
}

/* Loads a payload's "files" array given as JSON text. */
static int
load(const char *json, struct runner_files *files, char *err, size_t errlen)
{
	struct json_object *array = json_tokener_parse(json);
	int rc;

	rc = files_load(array, files, err, errlen);
	/* The names are borrowed, so only the count survives the put. */
	json_object_put(array);
	return rc;
}

static void
test_names(void)
{
	char name[FILES_NAME_MAX + 2];

	ok(name_ok("main.py"), "a plain name is accepted");
	ok(name_ok("src/lib/util.py"), "a name in subdirectories is accepted");
	ok(name_ok("a.b.c"), "a name with several dots is accepted");
	ok(name_ok(".hidden"), "a dot file is accepted");
	ok(name_ok("..foo") && name_ok("a..b"),
	    "a component that only contains '..' is accepted");
	ok(name_ok("my file's \"name\".txt"),
	    "spaces and quotes are accepted (commands quote names)");
	ok(name_ok("-o"), "a name that looks like an option is accepted");
	memset(name, 'a', FILES_NAME_MAX);
	name[FILES_NAME_MAX] = '\0';
	ok(name_ok(name), "a name of exactly %d bytes is accepted",
	    FILES_NAME_MAX);

	ok(name_rejected("/etc/passwd", "absolute path"),
	    "an absolute path is rejected");
	ok(name_rejected("../x", "'..' component"),
	    "a leading '..' is rejected");
	ok(name_rejected("a/../../x", "'..' component"),
	    "a '..' in the middle is rejected");
	ok(name_rejected("a/..", "'..' component"),
	    "a trailing '..' is rejected");
	ok(name_rejected("..", "'..' component"), "'..' alone is rejected");
	ok(name_rejected("a//b", "empty path component"),
	    "an empty component is rejected");
	ok(name_rejected("a/", "empty path component"),
	    "a trailing '/' is rejected");
	ok(name_rejected("", "empty name"), "an empty name is rejected");
	ok(name_rejected(".", "'.' component"), "'.' is rejected");
	ok(name_rejected("a/./b", "'.' component"),
	    "a '.' component is rejected");
	ok(name_rejected("a\nb", "control character"),
	    "a newline in a name is rejected");
	ok(name_rejected("a\x7f", "control character"),
	    "DEL in a name is rejected");
	name[FILES_NAME_MAX] = 'a';
	name[FILES_NAME_MAX + 1] = '\0';
	ok(name_rejected(name, "name too long"),
	    "a name of %d bytes is rejected", FILES_NAME_MAX + 1);
}

/* True if files_check_string(json, max) returns want. */
static int
string_is(const char *json, size_t max, int want)
{
	struct json_object *v = json_tokener_parse(json);
	int rc;

	rc = files_check_string(v, max);
	json_object_put(v);
	return rc == want;
}

static void
test_strings(void)
{
	ok(string_is("\"abc\"", 0, 0), "a string without a bound passes");
	ok(string_is("\"\"", 0, 0), "an empty string passes");
	ok(string_is("\"abc\"", 3, 0), "a string of exactly max bytes passes");
	ok(string_is("\"abcd\"", 3, -1), "a string of max + 1 bytes fails");
	ok(string_is("\"\u00e9\u00e9\"", 3, -1),
	    "the bound counts bytes, not characters");
	ok(string_is("\"a\\u0000b\"", 0, -1), "a NUL byte in the middle fails");
	ok(string_is("\"ab\\u0000\"", 10, -1), "a trailing NUL byte fails");
	ok(string_is("7", 0, -1) && string_is("null", 0, -1) &&
	    string_is("[\"a\"]", 0, -1), "a value that is not a string fails");
}

static void
test_clashes(void)
{
	ok(files_check_clash("a", "a") == -1, "one name twice clashes");
	ok(files_check_clash("a", "a/b") == -1 &&
	    files_check_clash("a/b", "a") == -1,
	    "a file and a file under it clash, in either order");
	ok(files_check_clash("a", "a/b/c") == -1,
	    "a file clashes with a file deeper under it");
	ok(files_check_clash("a/b", "a/c") == 0,
	    "two files in one directory do not clash");
	ok(files_check_clash("a", "ab") == 0 &&
	    files_check_clash("ab", "a/b") == 0,
	    "names that only share a prefix do not clash");
	ok(files_check_clash("a.c", "a") == 0, "a longer name in the same "
	    "directory does not clash");
}

/* True if the JSON text loads as a files array of count entries. */
static int
loads(const char *json, size_t count)
{
	char err[RUNNER_ERRLEN] = "";
	struct runner_files files;
	size_t loaded;

	if (load(json, &files, err, sizeof(err)) == -1)
		return 0;
	loaded = files.count;
	files_free(&files);
	return loaded == count;
}

/* True if the JSON text is rejected with a reason that contains why. */
static int
load_rejected(const char *json, const char *why)
{
	char err[RUNNER_ERRLEN] = "";
	struct runner_files files;

	return load(json, &files, err, sizeof(err)) == -1 &&
	    strstr(err, why) != NULL;
}

static void
test_load(void)
{
	char err[RUNNER_ERRLEN] = "", *json;
	struct runner_files files;
	size_t i, off;
	int rc;

	ok(loads("[{\"name\": \"main.py\", \"content\": \"x\"},"
	    " {\"name\": \"lib/u.py\", \"content\": \"\"}]", 2),
	    "a valid files array loads every entry");
	ok(loads("[]", 0), "an empty files array loads");
	rc = files_load(NULL, &files, err, sizeof(err));
	ok(rc == -1 && strstr(err, "missing") != NULL,
	    "a missing files array is rejected");
	ok(load_rejected("{}", "not an array"),
	    "files that is not an array is rejected");
	ok(load_rejected("[\"main.py\"]", "files[0]: not an object"),
	    "an entry that is not an object is rejected");
	ok(load_rejected("[{\"name\": \"a\", \"content\": \"\"},"
	    " {\"name\": \"../a\", \"content\": \"\"}]", "files[1].name: '..'"),
	    "a bad name is reported with its index");
	ok(load_rejected("[{\"name\": \"a\\u0000b\", \"content\": \"\"}]",
	    "NUL byte"), "a name with a NUL byte is rejected");
	ok(load_rejected("[{\"name\": 1, \"content\": \"\"}]",
	    "files[0].name: missing or not a string"),
	    "a name that is not a string is rejected");
	ok(load_rejected("[{\"name\": \"a\", \"content\": 1}]",
	    "files[0].content: missing or not a string"),
	    "content that is not a string is rejected");
	ok(load_rejected("[{\"name\": \"a\"}]", "files[0].content"),
	    "a missing content is rejected");
	ok(load_rejected("[{\"name\": \"a\", \"content\": \"\"},"
	    " {\"name\": \"a\", \"content\": \"\"}]", "same as"),
	    "a duplicate name is rejected");
	ok(load_rejected("[{\"name\": \"a/b\", \"content\": \"\"},"
	    " {\"name\": \"a\", \"content\": \"\"}]", "directory of"),
	    "a file named like another file's directory is rejected");
	ok(loads("[{\"name\": \"ab\", \"content\": \"\"},"
	    " {\"name\": \"a/b\", \"content\": \"\"}]", 2),
	    "a name that only shares a prefix is accepted");

	if ((json = malloc((FILES_MAX + 1) * 32 + 2)) == NULL) {
		ok(0, "memory for a long files array");
		return;
	}
	off = 0;
	json[off++] = '[';
	for (i = 0; i < FILES_MAX; i++)
		off += (size_t)sprintf(json + off,
		    "%s{\"name\":\"f%zu\",\"content\":\"\"}", i ? "," : "", i);
	strcpy(json + off, "]");
	ok(loads(json, FILES_MAX), "exactly %d files are accepted", FILES_MAX);
	strcpy(json + off, ",{\"name\":\"last\",\"content\":\"\"}]");
	ok(load_rejected(json, "more than"), "more than %d files are rejected",
	    FILES_MAX);
	free(json);
}

static void
test_write(void)
{
	char dir[] = "/tmp/test_runner_files.XXXXXX", err[RUNNER_ERRLEN] = "";
	char buf[16] = "";
	struct json_object *array;
	struct runner_files files;
	struct stat st;
	FILE *fp;
	int rc;

	if (mkdtemp(dir) == NULL || chdir(dir) == -1) {
		ok(0, "a temporary work dir can be made");
		return;
	}
	array = json_tokener_parse("[{\"name\": \"main.py\", "
	    "\"content\": \"hi\\u0000\"}, "
	    "{\"name\": \"src/lib/u.py\", \"content\": \"x\"}]");
	rc = files_load(array, &files, err, sizeof(err));
	if (rc == 0)
		rc = files_write(&files, err, sizeof(err));
	ok(rc == 0, "valid files are written");
	ok(stat("src/lib", &st) == 0 && S_ISDIR(st.st_mode),
	    "the directories in a name are created");
	ok(stat("main.py", &st) == 0 && (st.st_mode & 0777) == 0644 &&
	    st.st_size == 3,
	    "a file is written with mode 0644 and all its bytes");
	if ((fp = fopen("src/lib/u.py", "r")) != NULL) {
		if (fgets(buf, sizeof(buf), fp) == NULL)
			buf[0] = '\0';
		fclose(fp);
	}
	ok(strcmp(buf, "x") == 0, "a nested file holds its content");
	if (rc == 0)
		files_free(&files);
	json_object_put(array);
	unlink("main.py");
	unlink("src/lib/u.py");
	rmdir("src/lib");
	rmdir("src");
	if (chdir("/") == 0)
		rmdir(dir);
}

int
main(void)
{
	test_names();
	test_strings();
	test_clashes();
	test_load();
	test_write();
	return tap_done();
}
