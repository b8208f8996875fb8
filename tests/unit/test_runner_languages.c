/*
 * languages.c: the build and run commands of a language, expanded for the
 * payload's files.  Every assert compares the whole command string, and
 * the odd names also go through sh to see that each is one word.
 */
#include "config.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runner.h"
#include "tap.h"

/* Plans language for up to 8 names, the main file first; -1 with the
 * reason in err. */
static int
plan(const char *language, const char *const *names, struct runner_plan *p,
    char *err, size_t errlen)
{
	struct runner_file v[8];
	struct runner_files files;
	size_t n;

	memset(v, 0, sizeof(v));
	for (n = 0; n < 8 && names[n] != NULL; n++)
		v[n].name = names[n];
	files.v = v;
	files.count = n;
	return languages_plan(language, &files, p, err, errlen);
}

/*
 * True if language plans for names exactly the build commands build[]
 * (NULL-terminated) and the run command run.
 */
static int
plans(const char *language, const char *const *names,
    const char *const *build, const char *run)
{
	char err[RUNNER_ERRLEN] = "";
	struct runner_plan p;
	size_t i;
	int same;

	if (plan(language, names, &p, err, sizeof(err)) == -1) {
		printf("# %s: %s\n", language, err);
		return 0;
	}
	same = strcmp(p.run, run) == 0;
	if (!same)
		printf("# run:  %s\n# want: %s\n", p.run, run);
	for (i = 0; i < p.nbuild || build[i] != NULL; i++) {
		if (i >= p.nbuild || build[i] == NULL ||
		    strcmp(p.build[i], build[i]) != 0) {
			printf("# build[%zu]: %s\n# want:     %s\n", i,
			    i < p.nbuild ? p.build[i] : "(none)",
			    build[i] != NULL ? build[i] : "(none)");
			same = 0;
			break;
		}
	}
	languages_free(&p);
	return same;
}

#define NAMES(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define NONE ((const char *const[]){ NULL })

/*
 * The words sh makes of args: each followed by a NUL byte, in a static
 * buffer of *len bytes, or NULL.
 */
static const char *
shell_words(const char *args, size_t *len)
{
	static char out[4096];
	char *script;
	FILE *fp;

	if (asprintf(&script, "set -- %s; printf '%%s\\0' \"$@\"", args) == -1)
		return NULL;
	/* popen's command is itself run by sh -c: hand over the script. */
	if (setenv("RUNBOX_TEST_SCRIPT", script, 1) == -1) {
		free(script);
		return NULL;
	}
	free(script);
	if ((fp = popen("sh -c \"$RUNBOX_TEST_SCRIPT\"", "r")) == NULL)
		return NULL;
	*len = fread(out, 1, sizeof(out), fp);
	if (pclose(fp) != 0)
		return NULL;
	return out;
}

/*
 * True if python's run command for the main file name passes sh exactly
 * one word, word.
 */
static int
one_word(const char *name, const char *word)
{
	static const char prefix[] = "exec python3 ";
	char err[RUNNER_ERRLEN] = "";
	struct runner_plan p;
	const char *words;
	size_t len = 0;
	int same;

	if (plan("python", NAMES(name), &p, err, sizeof(err)) == -1)
		return 0;
	same = strncmp(p.run, prefix, sizeof(prefix) - 1) == 0 &&
	    (words = shell_words(p.run + sizeof(prefix) - 1, &len)) != NULL &&
	    len == strlen(word) + 1 && memcmp(words, word, len) == 0;
	languages_free(&p);
	return same;
}

/* typescript's build command up to {main} {others}. */
#define TSC "exec tsc --target es2020 --module commonjs --skipLibCheck " \
	"--typeRoots /usr/share/nodejs/@types --types node "

/*
 * A main file alone: its one build command (NULL: none) and its run
 * command.  An empty {others} leaves its spaces: "'Main.java' ".
 */
static const struct expansion {
	const char *language;
	const char *main;
	const char *build;
	const char *run;
	const char *what;
} expansions[] = {
	{ "python", "main.py", NULL, "exec python3 'main.py'",
	    "a plain name is quoted" },
	{ "python", "my prog.py", NULL, "exec python3 'my prog.py'",
	    "a space stays inside the quotes" },
	{ "python", "it's.py", NULL, "exec python3 'it'\\''s.py'",
	    "a single quote closes, escapes and reopens the quotes" },
	{ "python", "a\"b.py", NULL, "exec python3 'a\"b.py'",
	    "a double quote is taken as it is" },
	{ "python", "$HOME$(id).py", NULL, "exec python3 '$HOME$(id).py'",
	    "$ is not expanded" },
	{ "python", "`id`.py", NULL, "exec python3 '`id`.py'",
	    "backticks are not run" },
	{ "python", "-c.py", NULL, "exec python3 ./'-c.py'",
	    "a leading dash gets ./ so that it is no option" },
	{ "python", "h\xc3\xa9llo w\xc3\xb6rld.py", NULL,
	    "exec python3 'h\xc3\xa9llo w\xc3\xb6rld.py'",
	    "non-ASCII bytes are kept as they are" },
	{ "python", "a\\b*?[c]~;&|<>.py", NULL,
	    "exec python3 'a\\b*?[c]~;&|<>.py'",
	    "backslash, globs and operators stay inside the quotes" },
	{ "typescript", "src/app.ts", TSC "'src/app.ts'  >&2",
	    "exec node 'src/app'.js",
	    "{stem} is the main file without its extension, directory kept" },
	{ "typescript", "-a b.ts", TSC "./'-a b.ts'  >&2",
	    "exec node ./'-a b'.js",
	    "{stem} is quoted like a path, a leading dash included" },
	{ "typescript", "v1.2/app", TSC "'v1.2/app'  >&2",
	    "exec node 'v1.2/app'.js",
	    "{stem} looks for the extension in the base name only" },
	{ "typescript", "lib/.ts", TSC "'lib/.ts'  >&2",
	    "exec node 'lib/.ts'.js", "{stem} keeps a dot file's name whole" },
	{ "java", "src/Main.java", "exec javac -d . 'src/Main.java' ",
	    "exec java -cp . 'Main'",
	    "{name} is the base name without directory and extension" },
	{ "java", "It's.java", "exec javac -d . 'It'\\''s.java' ",
	    "exec java -cp . 'It'\\''s'", "{name} is quoted" },
	{ "java", "-X.java", "exec javac -d . ./'-X.java' ",
	    "exec java -cp . '-X'",
	    "{class} is a class name, not a path: no ./" },
	{ "java", "main.java", "exec javac -d . 'main.java' ",
	    "exec java -cp . 'Main'",
	    "java runs main.java's class Main, as glot does" },
	{ "java", "a.java", "exec javac -d . 'a.java' ", "exec java -cp . 'a'",
	    "a one-letter name stays as it is, as in glot" },
	{ "java", "\xc3\xa9t\xc3\xa9.java",
	    "exec javac -d . '\xc3\xa9t\xc3\xa9.java' ",
	    "exec java -cp . '\xc3\xa9t\xc3\xa9'",
	    "a non-ASCII name stays as it is, as in glot" },
	{ "kotlin", "main.kt",
	    "exec kotlinc 'main.kt'  -include-runtime -d a.jar",
	    "exec java -cp a.jar 'Main'Kt",
	    "kotlin runs main.kt's facade class MainKt, as glot does" },
	{ "scala", "main.scala", "exec scalac -d . 'main.scala' ",
	    "exec scala -cp . Main", "scala runs object Main, as glot does" },
	{ "plaintext", "notes.txt", NULL, "exec cat 'notes.txt'",
	    "plaintext is cat, which every image has" },
};

/* Names that sh must see as one word, word, in python's run command. */
static const struct one_word {
	const char *name;
	const char *word;
	const char *what;
} one_words[] = {
	{ "my prog.py", "my prog.py", "a name with a space" },
	{ "it's \"x\".py", "it's \"x\".py", "a name with both quotes" },
	{ "$HOME `id` $(id).py", "$HOME `id` $(id).py",
	    "$, backticks and $(), as they are" },
	{ "-rf .py", "./-rf .py", "a name with a leading dash, after ./" },
	{ "h\xc3\xa9llo w\xc3\xb6rld.py", "h\xc3\xa9llo w\xc3\xb6rld.py",
	    "a non-ASCII name" },
	{ "a\\b*?[c]~.py", "a\\b*?[c]~.py", "a name neither unescaped nor "
	    "globbed" },
};

static void
test_expansions(void)
{
	const struct expansion *x;
	const struct one_word *w;

	for (x = expansions; x < expansions + sizeof(expansions) /
	    sizeof(expansions[0]); x++)
		ok(plans(x->language, NAMES(x->main), x->build != NULL ?
		    NAMES(x->build) : NONE, x->run), "%s", x->what);
	for (w = one_words; w < one_words + sizeof(one_words) /
	    sizeof(one_words[0]); w++)
		ok(one_word(w->name, w->word), "sh sees one word: %s", w->what);
	ok(plans("assembly", NAMES("main.asm"),
	    NAMES("exec nasm -f elf64 -o a.o 'main.asm'", "exec ld -o a.out a.o"),
	    "exec ./a.out"), "each build command is expanded on its own");
}

static void
test_main_file(void)
{
	ok(plans("c", NAMES("b.c", "a.c"),
	    NAMES("exec gcc -o a.out 'b.c' 'a.c' -lm"), "exec ./a.out"),
	    "the first file is the main file, whatever its name");
	ok(plans("c", NAMES("main.c", "util.c", "README.md", "lib/x.c",
	    "x.h"), NAMES("exec gcc -o a.out 'main.c' 'util.c' 'lib/x.c' -lm"),
	    "exec ./a.out"),
	    "{others} are the other files with the language's extensions");
	ok(plans("c", NAMES("main.c", "-o evil.c"),
	    NAMES("exec gcc -o a.out 'main.c' ./'-o evil.c' -lm"),
	    "exec ./a.out"), "{others} are quoted like paths");
	ok(plans("c", NAMES("main.c", ".c", "c"),
	    NAMES("exec gcc -o a.out 'main.c'  -lm"), "exec ./a.out"),
	    "an extension alone is not a file with that extension");
	ok(plans("ocaml", NAMES("main.ml", "util.ml"),
	    NAMES("exec ocamlfind ocamlopt -package str,unix -linkpkg -o a.out "
	    "'util.ml' 'main.ml'"), "exec ./a.out"),
	    "the main file is not among {others}, wherever the template puts it");
	ok(plans("ocaml", NAMES("main.ml", "a.ml", "b.ml", "c.txt"),
	    NAMES("exec ocamlfind ocamlopt -package str,unix -linkpkg -o a.out "
	    "'b.ml' 'a.ml' 'main.ml'"), "exec ./a.out"),
	    "{rothers} are the others last first, as glot orders OCaml's");
	ok(plans("cpp", NAMES("main.cpp", "a.cc", "b.cxx", "c.c"),
	    NAMES("exec g++ -o a.out 'main.cpp' 'a.cc' 'b.cxx'"),
	    "exec ./a.out"), "every extension of the language counts");
	ok(plans("erlang", NAMES("main.erl"),
	    NAMES("exec sh -c '[ $# -eq 0 ] || exec erlc \"$@\"' erlc "),
	    "exec escript 'main.erl'"), "{others} may be empty");
	ok(plans("python", NAMES("main.py", "lib.py"), NONE,
	    "exec python3 'main.py'"),
	    "a language without {others} names the main file only");
}

static void
test_errors(void)
{
	char err[RUNNER_ERRLEN] = "";
	struct runner_plan p;

	ok(plan("klingon", NAMES("main.kl"), &p, err, sizeof(err)) == -1 &&
	    strcmp(err, "language: 'klingon' is not supported") == 0 &&
	    p.run == NULL && p.build == NULL && p.nbuild == 0,
	    "an unknown language is an error and plans nothing");
	ok(plan("Python", NAMES("main.py"), &p, err, sizeof(err)) == -1 &&
	    strcmp(err, "language: 'Python' is not supported") == 0,
	    "language names are matched exactly");
	ok(plan("python", NONE, &p, err, sizeof(err)) == -1 &&
	    strcmp(err, "files: the language needs a main file") == 0 &&
	    p.run == NULL && p.nbuild == 0,
	    "a language without files is an error");
}

/* Which way a payload runs, as glot's code-runner chooses. */
static void
test_form(void)
{
	ok(languages_form("python", 0, 1) == LANGUAGES_DEFAULTS,
	    "a known language wins over runInstructions, as in glot");
	ok(languages_form("python", 1, 1) == LANGUAGES_COMMAND,
	    "a known language's command wins over runInstructions");
	ok(languages_form("zig", 0, 1) == LANGUAGES_INSTRUCTIONS,
	    "runInstructions win over a language the runner does not know");
	ok(languages_form(NULL, 1, 1) == LANGUAGES_INSTRUCTIONS,
	    "runInstructions win over a command alone");
	ok(languages_form(NULL, 1, 0) == LANGUAGES_COMMAND,
	    "a command alone runs");
	ok(languages_form("zig", 0, 0) == LANGUAGES_DEFAULTS,
	    "an unknown language alone goes to its defaults, to be refused");
	ok(languages_form(NULL, 0, 0) == LANGUAGES_NONE,
	    "nothing to run is none");
}

/*
 * The language the recipe images/IMAGE/Dockerfile labels itself with
 * (LABEL runbox.language=NAME) into lang, or "" if it has none.
 */
static void
recipe_language(const char *image, char *lang, size_t len)
{
	static const char label[] = "LABEL runbox.language=";
	char path[1024], line[512];
	FILE *fp;

	lang[0] = '\0';
	snprintf(path, sizeof(path), "%s/images/%s/Dockerfile", TOP_SRCDIR,
	    image);
	if ((fp = fopen(path, "r")) == NULL)
		return;
	while (fgets(line, sizeof(line), fp) != NULL)
		if (strncmp(line, label, sizeof(label) - 1) == 0) {
			snprintf(lang, len, "%.*s", (int)strcspn(line +
			    sizeof(label) - 1, " \n"), line + sizeof(label) - 1);
			break;
		}
	fclose(fp);
}

/* The language of each image recipe has a row. */
static void
test_images(void)
{
	char lang[64], err[RUNNER_ERRLEN];
	struct runner_plan p;
	struct dirent *de;
	size_t n = 0, bad = 0;
	DIR *d;

	if ((d = opendir(TOP_SRCDIR "/images")) == NULL) {
		ok(0, "images/ can be read");
		return;
	}
	while ((de = readdir(d)) != NULL) {
		recipe_language(de->d_name, lang, sizeof(lang));
		if (lang[0] == '\0')
			continue;
		n++;
		if (plan(lang, NAMES("main"), &p, err, sizeof(err)) == -1) {
			printf("# images/%s: %s\n", de->d_name, err);
			bad++;
			continue;
		}
		languages_free(&p);
	}
	closedir(d);
	ok(n > 0 && bad == 0, "the language of each of the %zu image recipes "
	    "has a row", n);
}

int
main(void)
{
	test_expansions();
	test_main_file();
	test_errors();
	test_form();
	test_images();
	return tap_done();
}
