/*
 * The runner's payload, as far as it is reachable outside main.c: the
 * JSON parsed the way runner_read() parses it, the "stdin" string,
 * files_load() on "files", and languages_plan() for "language".  The
 * runInstructions and command forms (runner_instructions(),
 * runner_commands()) are static in main.c and not fuzzed here.
 *
 * Beyond not crashing: the files accepted are ones files_write() may
 * write (names checked, no two clashing, within the limits), and every
 * command of a plan is well-quoted shell in which the main file is one
 * word, whatever its name.
 */
#include "config.h"

#include <string.h>

#include "runner.h"
#include "fuzz.h"

/* runner_read(): one JSON value, then only whitespace. */
static struct json_object *
fuzz_parse(const char *text, size_t len)
{
	struct json_object *root;
	struct json_tokener *tok;
	size_t off;

	fuzz_assert((tok = json_tokener_new()) != NULL);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	    JSON_TOKENER_VALIDATE_UTF8);
	root = json_tokener_parse_ex(tok, text, (int)len);
	off = root != NULL ? json_tokener_get_parse_end(tok) : len;
	json_tokener_free(tok);
	for (; off < len; off++)
		if (strchr(" \t\r\n", text[off]) == NULL) {
			json_object_put(root);
			return NULL;
		}
	return root;
}

static void
fuzz_check_files(struct json_object *array, const struct runner_files *files)
{
	char why[RUNNER_ERRLEN];
	struct json_object *v;
	size_t i, j, total = 0;

	fuzz_assert(files->count == json_object_array_length(array));
	fuzz_assert(files->count <= FILES_MAX);
	fuzz_assert(files->v != NULL);
	for (i = 0; i < files->count; i++) {
		fuzz_assert(files_check_name(files->v[i].name, why,
		    sizeof(why)) == 0);
		fuzz_assert(strlen(files->v[i].name) <= FILES_NAME_MAX);
		for (j = 0; j < i; j++)
			fuzz_assert(files_check_clash(files->v[j].name,
			    files->v[i].name) == 0);
		/* Borrowed from the payload, not copied. */
		fuzz_assert(json_object_object_get_ex(
		    json_object_array_get_idx(array, i), "content", &v));
		fuzz_assert(files->v[i].content == json_object_get_string(v));
		fuzz_assert(files->v[i].len ==
		    (size_t)json_object_get_string_len(v));
		total += files->v[i].len;
	}
	fuzz_assert(total <= FILES_CONTENT_MAX);
}

/*
 * Splits command as sh would split a simple command made of plain text,
 * '...' and \x, and says whether one word is word.  A quote left open
 * means a file name escaped its quoting.
 */
static int
fuzz_has_word(const char *command, const char *word)
{
	size_t len = strlen(command), n = 0, wlen = strlen(word);
	const char *p;
	char *buf;
	int found = 0, in_word = 0;

	fuzz_assert((buf = malloc(len + 1)) != NULL);
	for (p = command; ; p++) {
		if (*p == '\0' || *p == ' ') {
			if (in_word && n == wlen && memcmp(buf, word, n) == 0)
				found = 1;
			n = 0;
			in_word = 0;
			if (*p == '\0')
				break;
			continue;
		}
		in_word = 1;
		if (*p == '\'') {
			for (p++; *p != '\''; p++) {
				fuzz_assert(*p != '\0');
				buf[n++] = *p;
			}
		} else if (*p == '\\') {
			p++;
			fuzz_assert(*p != '\0');
			buf[n++] = *p;
		} else
			buf[n++] = *p;
	}
	free(buf);
	return found;
}

static void
fuzz_check_plan(const struct runner_plan *plan,
    const struct runner_files *files)
{
	const char *main_file = files->v[0].name, *cmd;
	char *dashed = NULL;
	int found = 0;
	size_t i;

	/* A name that starts with '-' is given as ./NAME, never an option. */
	if (main_file[0] == '-') {
		fuzz_assert((dashed = malloc(strlen(main_file) + 3)) != NULL);
		snprintf(dashed, strlen(main_file) + 3, "./%s", main_file);
	}
	fuzz_assert(plan->nbuild <= 2);
	fuzz_assert(plan->run != NULL);
	for (i = 0; i <= plan->nbuild; i++) {
		cmd = i < plan->nbuild ? plan->build[i] : plan->run;
		fuzz_assert(cmd != NULL);
		fuzz_assert(strncmp(cmd, "exec ", 5) == 0);
		if (fuzz_has_word(cmd, dashed != NULL ? dashed : main_file))
			found = 1;
	}
	fuzz_assert(found);
	free(dashed);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_object *root, *v, *array = NULL;
	struct runner_files files;
	struct runner_plan plan;
	char err[RUNNER_ERRLEN];
	const char *language;

	if ((root = fuzz_parse((const char *)data, size)) == NULL)
		return 0;
	if (!json_object_is_type(root, json_type_object))
		goto done;
	/* "stdin" may hold NUL bytes: it is written, not used as a C string. */
	if (json_object_object_get_ex(root, "stdin", &v) && v != NULL &&
	    !json_object_is_type(v, json_type_string))
		goto done;
	json_object_object_get_ex(root, "files", &array);
	err[0] = '\0';
	if (files_load(array, &files, err, sizeof(err)) == -1) {
		fuzz_assert(err[0] != '\0');
		fuzz_assert(files.v == NULL && files.count == 0);
		goto done;
	}
	fuzz_check_files(array, &files);
	if (json_object_object_get_ex(root, "language", &v) &&
	    files_check_string(v, 0) == 0) {
		language = json_object_get_string(v);
		err[0] = '\0';
		if (languages_plan(language, &files, &plan, err,
		    sizeof(err)) == 0)
			fuzz_check_plan(&plan, &files);
		else {
			fuzz_assert(err[0] != '\0');
			fuzz_assert(plan.build == NULL && plan.run == NULL);
		}
		languages_free(&plan);
	}
	files_free(&files);
done:
	json_object_put(root);
	return 0;
}
