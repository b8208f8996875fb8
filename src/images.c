/*
 * GET /images: the allowed images with their language and limits, so that
 * clients can build menus (as piston's /runtimes), and whether Docker has
 * each one, from one call to Docker's image list.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "runbox.h"

/* The tags Docker has, as one "repo:tag" string per key; NULL when
 * Docker does not answer. */
static json_object *
images_present(struct docker *d)
{
	struct buf resp = { 0 };
	json_object *list, *tags, *present = NULL, *item, *tag;
	long status;
	size_t i, j;

	if (docker_call(d, "GET", "/images/json", NULL, d->read_timeout,
	    16 * 1024 * 1024, &status, &resp) == -1 || status != 200)
		goto done;
	if ((list = docker_json(&resp, json_type_array)) == NULL)
		goto done;
	present = json_object_new_object();
	for (i = 0; i < json_object_array_length(list); i++) {
		item = json_object_array_get_idx(list, i);
		/* An untagged image has "RepoTags": null. */
		if (!json_object_object_get_ex(item, "RepoTags", &tags) ||
		    !json_object_is_type(tags, json_type_array))
			continue;
		for (j = 0; j < json_object_array_length(tags); j++) {
			tag = json_object_array_get_idx(tags, j);
			if (json_object_is_type(tag, json_type_string))
				json_object_object_add(present,
				    json_object_get_string(tag), NULL);
		}
	}
	json_object_put(list);
done:
	util_buf_free(&resp);
	return present;
}

/* Docker lists "repo:tag"; a name without a tag means ":latest". */
static int
images_has(json_object *present, const char *name)
{
	const char *last = strrchr(name, '/');
	char tagged[300];

	snprintf(tagged, sizeof(tagged), "%s%s", name,
	    strchr(last ? last : name, ':') ? "" : ":latest");
	return json_object_object_get_ex(present, tagged, NULL);
}

static json_object *
images_limits(const struct limits *l)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "execution_time_ms",
	    json_object_new_int64(l->execution_time));
	json_object_object_add(o, "output_size",
	    json_object_new_int64(l->output_size));
	json_object_object_add(o, "memory", json_object_new_int64(l->memory));
	json_object_object_add(o, "cpus",
	    json_object_new_double(l->cpus / 1e9));
	json_object_object_add(o, "pids", json_object_new_int64(l->pids));
	json_object_object_add(o, "nofile",
	    json_object_new_int64(l->nofile_hard));
	return o;
}

/* The other names clients may send for im, [] if none. */
static json_object *
images_aliases(const struct image *im)
{
	json_object *a = json_object_new_array();
	size_t i;

	for (i = 0; i < im->naliases; i++)
		json_object_array_add(a,
		    json_object_new_string(im->aliases[i]));
	return a;
}

/* The JSON array GET /images answers; the caller puts it. */
json_object *
images_list(const struct conf *c, struct docker *d)
{
	json_object *list = json_object_new_array(), *o;
	json_object *present = images_present(d);
	const struct image *im;
	size_t i;

	for (i = 0; i < c->nimages; i++) {
		im = &c->images[i];
		o = json_object_new_object();
		json_object_object_add(o, "image",
		    json_object_new_string(im->name));
		json_object_object_add(o, "aliases", images_aliases(im));
		json_object_object_add(o, "language",
		    json_object_new_string(im->language));
		json_object_object_add(o, "limits", images_limits(&im->limits));
		json_object_object_add(o, "warm", json_object_new_int64(im->warm));
		if (present != NULL)
			json_object_object_add(o, "available",
			    json_object_new_boolean(images_has(present,
			    im->name)));
		json_object_array_add(list, o);
	}
	json_object_put(present);
	return list;
}
