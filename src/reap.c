/*
 * Reaping: removing the containers of this instance that no worker is
 * using.  A worker removes its own container after every run; one killed
 * or failing mid-run leaves it behind, and the master reaps it (when the
 * worker dies, every reap_interval, and at start and stop).  Containers
 * are found by their labels, so one left by an earlier runboxd of the
 * same instance goes too.
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "runbox.h"

/* A label of a container from Docker's list, or NULL. */
static const char *
reap_label(json_object *container, const char *name)
{
	json_object *labels, *v;

	if (!json_object_object_get_ex(container, "Labels", &labels) ||
	    !json_object_object_get_ex(labels, name, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* The name and state of process pid, from /proc/PID/stat ("pid (comm)
 * state ..."); -1 when there is no such process. */
static int
reap_proc(pid_t pid, char *comm, size_t len, char *state)
{
	char path[64], line[256], *lparen, *rparen;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((f = fopen(path, "re")) == NULL)
		return -1;
	n = fread(line, 1, sizeof(line) - 1, f);
	fclose(f);
	line[n] = '\0';
	if ((lparen = strchr(line, '(')) == NULL ||
	    (rparen = strrchr(line, ')')) == NULL || rparen < lparen ||
	    rparen[1] != ' ')
		return -1;
	snprintf(comm, len, "%.*s", (int)(rparen - lparen - 1), lparen + 1);
	*state = rparen[2];
	return 0;
}

/*
 * Whether pid is a live process of this program other than this one: a
 * worker of an earlier master, still finishing or abandoning its run,
 * whose container is in use.
 */
static int
reap_in_use(pid_t pid)
{
	char self[64], other[64], state;

	if (pid <= 1 || pid == getpid() ||
	    reap_proc(getpid(), self, sizeof(self), &state) == -1 ||
	    reap_proc(pid, other, sizeof(other), &state) == -1)
		return 0;
	return state != 'Z' && strcmp(self, other) == 0;
}

/* The instance's containers as Docker lists them, or NULL. */
static json_object *
reap_list(struct docker *d, const struct conf *c)
{
	struct buf resp = { 0 };
	json_object *root = NULL;
	char path[512], *filter;
	long status;

	snprintf(path, sizeof(path), "{\"label\":[\"%s=%s\"]}",
	    RUNBOX_LABEL_INSTANCE, c->instance);
	if ((filter = curl_easy_escape(d->curl, path, 0)) == NULL) {
		log_warnx("list containers: out of memory");
		return NULL;
	}
	snprintf(path, sizeof(path), "/containers/json?all=1&filters=%s",
	    filter);
	curl_free(filter);
	if (docker_call(d, "GET", path, NULL, d->read_timeout, 16 * 1024 * 1024,
	    &status, &resp) == -1 || status != 200)
		log_warnx("list containers: %s", d->error[0] ? d->error :
		    "unexpected answer");
	else if ((root = docker_json(&resp, json_type_array)) == NULL)
		log_warnx("list containers: not a JSON array");
	util_buf_free(&resp);
	return root;
}

/*
 * Remove the containers of this instance that no worker is using: owned()
 * says whether a live worker is busy with the container's request; NULL
 * (at start and stop, when no worker of ours runs) removes all but those
 * whose process still lives (a worker of an earlier master, see
 * reap_in_use).  Returns how many went, or -1 when they could not be
 * listed.
 */
int
reap_containers(const struct conf *c, reap_owned_fn owned)
{
	struct docker d;
	json_object *root, *item, *id;
	const char *worker;
	long long pid;
	size_t i;
	int n = -1;

	if (docker_open(&d, c) == -1)
		return -1;
	if ((root = reap_list(&d, c)) == NULL)
		goto done;
	n = 0;
	for (i = 0; i < json_object_array_length(root); i++) {
		item = json_object_array_get_idx(root, i);
		worker = reap_label(item, RUNBOX_LABEL_WORKER);
		if (worker == NULL ||
		    util_parse_number(worker, 1, INT_MAX, &pid) == -1)
			pid = 0;
		if (!json_object_object_get_ex(item, "Id", &id) ||
		    (owned && owned((pid_t)pid,
		    reap_label(item, RUNBOX_LABEL_REQUEST))))
			continue;
		if (owned == NULL && reap_in_use((pid_t)pid)) {
			log_info("container %.12s: process %lld that made it "
			    "is alive; left to it", json_object_get_string(id),
			    pid);
			continue;
		}
		if (docker_remove_container(&d,
		    json_object_get_string(id)) == 0)
			n++;
	}
	json_object_put(root);
	if (n > 0) {
		log_info("removed %d orphaned containers of instance %s", n,
		    c->instance);
		scoreboard_count_reaped(n);
	}
done:
	docker_close(&d);
	return n;
}
