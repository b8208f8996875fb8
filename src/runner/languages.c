/*
 * How each glot language is built and run: a table of shell command
 * templates, expanded with the payload's (quoted) file names.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runner.h"

#define LANGUAGES_BUILD_MAX 2

/*
 * Templates are simple commands run with sh -c in the work dir.
 * Placeholders:
 *   {main}     the main file
 *   {others}   the other files whose names end in one of exts
 *   {rothers}  the same, last first
 *   {stem}     the main file without its extension ("src/main")
 *   {name}     its base name without extension ("main")
 *   {class}    that name with its first letter upper case if it is ASCII
 *              and longer than one byte ("Main"), the class glot runs
 *
 * With the same files the defaults do what glot's code-runner does: the
 * same main class, the same files in the same order where the compiler
 * cares; runbox's own tools where Debian lacks glot's (gcc, gdc).
 */
struct language {
	const char *name;
	const char *exts; /* space-separated suffixes, needed by {others} */
	const char *build[LANGUAGES_BUILD_MAX];
	const char *run;
};

/*
 * One row per image recipe, images/LANGUAGE/Dockerfile, so that every
 * command here runs in tests/languages.  The one row without a recipe is
 * plaintext: cat is in every image, runbox/tiny's busybox included.  A
 * language that Debian does not package (README.md lists them) has no
 * row: an image of one's own can send runInstructions or a command.
 */
static const struct language languages[] = {
	{ "assembly", NULL,
	    { "nasm -f elf64 -o a.o {main}", "ld -o a.out a.o" }, "./a.out" },
	/* libats (ML strings, lists) needs its library and an allocator. */
	{ "ats", NULL, { "patscc -DATS_MEMALLOC_LIBC -o a.out {main} -latslib" },
	    "./a.out" },
	{ "bash", NULL, { NULL }, "bash {main}" },
	{ "c", ".c", { "gcc -o a.out {main} {others} -lm" }, "./a.out" },
	{ "clisp", NULL, { NULL },
	    "sbcl --noinform --non-interactive --load {main}" },
	/* Debian's clojure script runs clojure.main, not the deps.edn CLI. */
	{ "clojure", NULL, { NULL }, "clojure {main}" },
	/* Copybooks (.cpy) are COPYed, not compiled. */
	{ "cobol", ".cob .cbl", { "cobc -x -o a.out {main} {others}" },
	    "./a.out" },
	{ "coffeescript", NULL, { NULL }, "coffee {main}" },
	{ "cpp", ".cpp .cc .cxx", { "g++ -o a.out {main} {others}" },
	    "./a.out" },
	{ "crystal", NULL, { NULL }, "crystal run {main}" },
	{ "csharp", ".cs", { "mcs -out:a.exe {main} {others}" },
	    "mono a.exe" },
	/* Debian packages GDC (and LDC), not DMD. */
	{ "d", ".d", { "gdc -o a.out {main} {others}" }, "./a.out" },
	{ "elixir", NULL, { NULL }, "elixir {main}" },
	/*
	 * escript skips the main file's first line; other modules are compiled
	 * first (erlc wants at least one file) and load from the work dir.
	 */
	{ "erlang", ".erl",
	    { "sh -c '[ $# -eq 0 ] || exec erlc \"$@\"' erlc {others}" },
	    "escript {main}" },
	/* go build, not go run: the program's own exit status and signals. */
	{ "go", ".go", { "go build -o a.out {main} {others}" }, "./a.out" },
	{ "groovy", NULL, { NULL }, "groovy {main}" },
	{ "guile", NULL, { NULL }, "guile --no-auto-compile -s {main}" },
	/* ghc --make finds the imported modules in the work dir. */
	{ "haskell", NULL, { "ghc -v0 -o a.out {main}" }, "./a.out" },
	/* glot compiles main.java and runs Main. */
	{ "java", ".java", { "javac -d . {main} {others}" },
	    "java -cp . {class}" },
	{ "javascript", NULL, { NULL }, "node {main}" },
	/* The main file's facade class, as glot's kotlin MainKt. */
	{ "kotlin", ".kt",
	    { "kotlinc {main} {others} -include-runtime -d a.jar" },
	    "java -cp a.jar {class}Kt" },
	{ "lua", NULL, { NULL }, "lua {main}" },
	{ "nim", NULL,
	    { "nim compile --hints:off --nimcache:.nimcache -o:a.out {main}" },
	    "./a.out" },
	{ "nix", NULL, { NULL }, "nix-instantiate --eval {main}" },
	/*
	 * OCaml links in order, so dependencies before the main file; glot
	 * passes the others last first.
	 */
	{ "ocaml", ".ml", { "ocamlfind ocamlopt -package str,unix -linkpkg "
	    "-o a.out {rothers} {main}" }, "./a.out" },
	/* fpc reports on stdout; -l- -v0e: no banner, errors only. */
	{ "pascal", NULL, { "fpc -l- -v0e -oa.out {main} >&2" }, "./a.out" },
	{ "perl", NULL, { NULL }, "perl {main}" },
	{ "php", NULL, { NULL }, "php {main}" },
	{ "plaintext", NULL, { NULL }, "cat {main}" },
	{ "python", NULL, { NULL }, "python3 {main}" },
	{ "raku", NULL, { NULL }, "raku {main}" },
	{ "ruby", NULL, { NULL }, "ruby {main}" },
	{ "rust", NULL, { "rustc -o a.out {main}" }, "./a.out" },
	/* As in glot, the main file holds object Main, whatever its name. */
	{ "scala", ".scala", { "scalac -d . {main} {others}" },
	    "scala -cp . Main" },
	/*
	 * Debian's @types/node comes with nodejs; tsc prints its diagnostics
	 * on stdout, which a build that fails must show as stderr.
	 */
	{ "typescript", ".ts", { "tsc --target es2020 --module commonjs "
	    "--skipLibCheck --typeRoots /usr/share/nodejs/@types --types node "
	    "{main} {others} >&2" }, "node {stem}.js" },
};

static const struct language *
languages_find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(languages) / sizeof(languages[0]); i++)
		if (strcmp(languages[i].name, name) == 0)
			return &languages[i];
	return NULL;
}

/* Writes s as one shell word; a leading '-' must not read as an option. */
static void
languages_quote(FILE *fp, const char *s, size_t len, int is_path)
{
	size_t i;

	if (is_path && s[0] == '-')
		fputs("./", fp);
	fputc('\'', fp);
	for (i = 0; i < len; i++) {
		if (s[i] == '\'')
			fputs("'\\''", fp);
		else
			fputc(s[i], fp);
	}
	fputc('\'', fp);
}

static int
languages_has_ext(const char *name, const char *exts)
{
	size_t len = strlen(name), n;
	const char *e;

	for (e = exts; *e != '\0'; e += n + strspn(e + n, " ")) {
		n = strcspn(e, " ");
		if (len > n && memcmp(name + len - n, e, n) == 0)
			return 1;
	}
	return 0;
}

/* The other files with the language's extensions, last first if reverse. */
static void
languages_others(FILE *fp, const struct language *lang,
    const struct runner_files *files, int reverse)
{
	const char *sep = "", *name;
	size_t i;

	for (i = 1; i < files->count; i++) {
		name = files->v[reverse ? files->count - i : i].name;
		if (!languages_has_ext(name, lang->exts))
			continue;
		fputs(sep, fp);
		languages_quote(fp, name, strlen(name), 1);
		sep = " ";
	}
}

/*
 * Writes name (len bytes) as glot names the class of a file: the first
 * letter upper case, unless name is one byte or not all ASCII.
 */
static void
languages_class(FILE *fp, const char *name, size_t len)
{
	char buf[FILES_NAME_MAX];
	size_t i;

	for (i = 0; i < len && (unsigned char)name[i] < 0x80; i++)
		;
	if (i < len || len < 2 || len > sizeof(buf)) {
		languages_quote(fp, name, len, 0);
		return;
	}
	memcpy(buf, name, len);
	buf[0] = (char)toupper((unsigned char)buf[0]);
	languages_quote(fp, buf, len, 0);
}

/* Returns the template with its placeholders replaced, or NULL. */
static char *
languages_expand(const char *tmpl, const struct language *lang,
    const struct runner_files *files)
{
	const char *main_file = files->v[0].name, *base, *dot, *p;
	size_t size, stem_len;
	char *out = NULL;
	FILE *fp;

	base = strrchr(main_file, '/');
	base = base != NULL ? base + 1 : main_file;
	dot = strrchr(base, '.');
	stem_len = dot != NULL && dot != base ? (size_t)(dot - main_file) :
	    strlen(main_file);
	if ((fp = open_memstream(&out, &size)) == NULL)
		return NULL;
	/*
	 * dash does not exec the last command of sh -c itself, so a program
	 * killed by a signal would show up as sh's exit status 128+N.
	 */
	fputs("exec ", fp);
	for (p = tmpl; *p != '\0'; p++) {
		if (strncmp(p, "{main}", 6) == 0) {
			languages_quote(fp, main_file, strlen(main_file), 1);
			p += 5;
		} else if (strncmp(p, "{others}", 8) == 0) {
			languages_others(fp, lang, files, 0);
			p += 7;
		} else if (strncmp(p, "{rothers}", 9) == 0) {
			languages_others(fp, lang, files, 1);
			p += 8;
		} else if (strncmp(p, "{stem}", 6) == 0) {
			languages_quote(fp, main_file, stem_len, 1);
			p += 5;
		} else if (strncmp(p, "{name}", 6) == 0) {
			languages_quote(fp, base,
			    stem_len - (size_t)(base - main_file), 0);
			p += 5;
		} else if (strncmp(p, "{class}", 7) == 0) {
			languages_class(fp, base,
			    stem_len - (size_t)(base - main_file));
			p += 6;
		} else
			fputc(*p, fp);
	}
	if (ferror(fp)) {
		fclose(fp);
		free(out);
		return NULL;
	}
	if (fclose(fp) == EOF) {
		free(out);
		return NULL;
	}
	return out;
}

/* Whether the table has a row for language: its defaults can run. */
int
languages_known(const char *language)
{
	return language != NULL && languages_find(language) != NULL;
}

/*
 * The way a payload runs, as glot's code-runner reads it: a language it
 * knows wins, with a non-empty "command" instead of its defaults if there
 * is one; else runInstructions (glot reads a payload whose language it
 * does not know as that form); else, runbox's own, a command alone; else
 * the language's defaults, which report it unknown.  has_command: a
 * non-empty command.
 */
enum languages_form
languages_form(const char *language, int has_command, int has_instructions)
{
	if (languages_known(language))
		return has_command ? LANGUAGES_COMMAND : LANGUAGES_DEFAULTS;
	if (has_instructions)
		return LANGUAGES_INSTRUCTIONS;
	if (has_command)
		return LANGUAGES_COMMAND;
	return language != NULL ? LANGUAGES_DEFAULTS : LANGUAGES_NONE;
}

/*
 * Fills plan with the build and run commands of a language from the
 * table, expanded for files (whose first name is the main file).  The
 * caller releases it with languages_free().  Returns -1 with the reason
 * in err for an unknown language or an empty file list.
 */
int
languages_plan(const char *language, const struct runner_files *files,
    struct runner_plan *plan, char *err, size_t errlen)
{
	const struct language *lang;
	size_t i;

	plan->build = NULL;
	plan->nbuild = 0;
	plan->run = NULL;
	if ((lang = languages_find(language)) == NULL) {
		snprintf(err, errlen, "language: '%s' is not supported",
		    language);
		return -1;
	}
	if (files->count == 0) {
		snprintf(err, errlen, "files: the language needs a main file");
		return -1;
	}
	if ((plan->build = calloc(LANGUAGES_BUILD_MAX,
	    sizeof(*plan->build))) == NULL)
		goto fail;
	for (i = 0; i < LANGUAGES_BUILD_MAX && lang->build[i] != NULL; i++) {
		if ((plan->build[i] = languages_expand(lang->build[i], lang,
		    files)) == NULL)
			goto fail;
		plan->nbuild++;
	}
	if ((plan->run = languages_expand(lang->run, lang, files)) == NULL)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "language: %s", strerror(errno));
	languages_free(plan);
	return -1;
}

/* Releases a plan, made here or by the runner from runInstructions. */
void
languages_free(struct runner_plan *plan)
{
	size_t i;

	for (i = 0; i < plan->nbuild; i++)
		free(plan->build[i]);
	free(plan->build);
	free(plan->run);
	memset(plan, 0, sizeof(*plan));
}
