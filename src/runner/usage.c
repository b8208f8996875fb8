/*
 * What a step used, measured where it is exact: wall time, CPU time of
 * every process the step made (the runner reaps them all, as PID 1), the
 * largest RSS from the rusage of sh -c (wait4(): its own and that of the
 * processes it waited for, the program among them), and from the container's own
 * memory cgroup, which it sees at /sys/fs/cgroup, the peak and the count
 * of OOM kills.  A kill by the OOM killer is told apart from any other
 * SIGKILL by that count, so it is never reported as a mere signal.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "runner.h"

/* cgroup v2 first, then v1's memory controller (Docker on cgroupfs). */
static const char *const usage_peak_files[] = {
	"/sys/fs/cgroup/memory.peak",
	"/sys/fs/cgroup/memory/memory.max_usage_in_bytes",
};
static const char *const usage_event_files[] = {
	"/sys/fs/cgroup/memory.events",
	"/sys/fs/cgroup/memory/memory.oom_control",
};

/*
 * The number in the first of files that can be read: the whole file, or
 * with key, the value on its line "key N".  -1 if none has it.
 */
static long long
usage_read(const char *const *files, size_t nfiles, const char *key)
{
	char line[256], name[64];
	long long val;
	size_t i;
	FILE *f;

	for (i = 0; i < nfiles; i++) {
		if ((f = fopen(files[i], "re")) == NULL)
			continue;
		while (fgets(line, sizeof(line), f) != NULL) {
			if (key == NULL && sscanf(line, "%lld", &val) == 1)
				goto found;
			if (key != NULL && sscanf(line, "%63s %lld", name,
			    &val) == 2 && strcmp(name, key) == 0)
				goto found;
		}
		fclose(f);
	}
	return -1;
found:
	fclose(f);
	return val;
}

/* The container's OOM kills so far; -1 if its cgroup does not say. */
long long
usage_oom_kills(void)
{
	return usage_read(usage_event_files, sizeof(usage_event_files) /
	    sizeof(usage_event_files[0]), "oom_kill");
}

/*
 * Fills u from a finished exec_run(); oom_before is usage_oom_kills()
 * from before it.  A step during which the OOM killer struck is a
 * memory_limit whatever its exit looked like.
 */
void
usage_measure(const struct exec_result *res, long long oom_before,
    struct usage *u)
{
	long long oom = usage_oom_kills();

	u->verdict = exec_verdict(res);
	if (oom_before >= 0 && oom > oom_before)
		u->verdict = VERDICT_MEMORY_LIMIT;
	u->exit_code = -1;
	u->signal = 0;
	if (WIFEXITED(res->status) && !res->timed_out &&
	    !res->output_exceeded)
		u->exit_code = WEXITSTATUS(res->status);
	else if (WIFSIGNALED(res->status))
		u->signal = WTERMSIG(res->status);
	u->wall_ns = res->wall_ns;
	u->cpu_ns = res->cpu_ns;
	u->max_rss = res->ru.ru_maxrss * 1024LL;
	u->memory_peak = usage_read(usage_peak_files,
	    sizeof(usage_peak_files) / sizeof(usage_peak_files[0]), NULL);
}

/* Fills buf with the step's error as exec_describe() does, or says why
 * the OOM killer took it. */
void
usage_describe(const struct exec_result *res, const struct usage *u,
    long long time_limit_ms, char *buf, size_t len)
{
	if (u->verdict == VERDICT_MEMORY_LIMIT)
		snprintf(buf, len, "Memory limit exceeded: killed by the "
		    "OOM killer");
	else
		exec_describe(res, time_limit_ms, buf, len);
}

/*
 * Adds a step to a total of steps: times add up, memory is the largest,
 * and the last step gives the verdict and exit, or the first that was not
 * ok.
 */
void
usage_add(struct usage *total, const struct usage *step)
{
	total->wall_ns += step->wall_ns;
	total->cpu_ns += step->cpu_ns;
	if (step->max_rss > total->max_rss)
		total->max_rss = step->max_rss;
	total->memory_peak = step->memory_peak;
	if (total->verdict != VERDICT_OK)
		return;
	total->verdict = step->verdict;
	total->exit_code = step->exit_code;
	total->signal = step->signal;
}

/* A number, or null when negative (unknown, none). */
static int
usage_put_number(struct json_object *o, const char *key, long long n)
{
	if (n < 0)
		return json_object_object_add(o, key, NULL) == 0 ? 0 : -1;
	return output_put(o, key, json_object_new_int64(n));
}

/* Milliseconds with three decimals, written as such. */
static int
usage_put_ms(struct json_object *o, const char *key, long long ns)
{
	char text[32];

	snprintf(text, sizeof(text), "%lld.%03lld", ns / 1000000,
	    ns / 1000 % 1000);
	return output_put(o, key, json_object_new_double_s((double)ns / 1e6,
	    text));
}

/*
 * {"status", "exit_code", "signal", "wall_time_ms", "cpu_time_ms",
 * "max_rss_bytes", "memory_peak_bytes"}; NULL if memory runs out.
 */
struct json_object *
usage_json(const struct usage *u)
{
	const char *sig = u->signal > 0 ? sigabbrev_np(u->signal) : NULL;
	struct json_object *o;
	char name[32];
	int rc;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	rc = output_add(o, "status", verdict_name(u->verdict),
	    strlen(verdict_name(u->verdict)));
	rc |= usage_put_number(o, "exit_code", u->exit_code);
	if (sig != NULL) {
		snprintf(name, sizeof(name), "SIG%s", sig);
		rc |= output_add(o, "signal", name, strlen(name));
	} else {
		rc |= json_object_object_add(o, "signal", NULL);
	}
	rc |= usage_put_ms(o, "wall_time_ms", u->wall_ns);
	rc |= usage_put_ms(o, "cpu_time_ms", u->cpu_ns);
	rc |= usage_put_number(o, "max_rss_bytes", u->max_rss);
	rc |= usage_put_number(o, "memory_peak_bytes", u->memory_peak);
	if (rc != 0) {
		json_object_put(o);
		return NULL;
	}
	return o;
}
