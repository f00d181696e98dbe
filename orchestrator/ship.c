/* Shipping (ship.h). The archive's names are absolute paths less their
 * '/', unpacked at the helper's '/': "xdock/agent" lands in the agent
 * volume, "<project>/..." in the project volume. Every directory of the
 * project is in the archive with the run's user as owner, so the workers
 * write where they could write in a bind-mounted project. */
#include "ship.h"

#include <libgen.h>
#include <stdio.h>
#include <string.h>

#include "ship_list.h"
#include "tar.h"

/* Directory entries for rel's parents not yet given: in a sorted list the
 * names under one directory are contiguous, so a parent was given exactly
 * when it is the previous file's directory or one of its parents. */
static void
add_parents(struct tar_entry **e, size_t *n, size_t *cap, const char *base, const char *rel, const char *prev)
{
	cleanup_free char *dir = xstrdup(rel);

	for (char *s = strchr(dir, '/'); s; s = strchr(s + 1, '/')) {
		size_t len = (size_t)(s - dir);
		bool given = prev && strncmp(prev, dir, len) == 0 && prev[len] == '/';

		if (given)
			continue;
		if (*n == *cap) {
			*cap = *cap ? 2 * *cap : 64;
			*e = xrealloc(*e, *cap * sizeof(**e));
		}
		(*e)[(*n)++] = (struct tar_entry){ .name = xasprintf("%s/%.*s", base, (int)len, dir), .dir = true };
	}
}

static void
entries_free(struct tar_entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(e[i].name);
		free(e[i].path);
		free(e[i].link);
	}
	free(e);
}

void
ship_init(struct ship *s, const char *run_id)
{
	memset(s, 0, sizeof(*s));
	s->project_volume = xasprintf("xdock-%s-project", run_id);
	s->agent_volume = xasprintf("xdock-%s-agent", run_id);
}

/* The archive's entries: the agent, then the project's root and its files
 * with their directories. *n receives how many. */
static struct tar_entry *
archive_entries(const struct ship_list *l, const char *project_dir, const char *agent_path, size_t *n)
{
	const char *base = project_dir + 1;
	size_t cap = l->n * 2 + 8;
	struct tar_entry *e = xcalloc(cap, sizeof(*e));

	*n = 0;
	e[(*n)++] = (struct tar_entry){ .name = xstrdup("xdock"), .dir = true };
	e[(*n)++] = (struct tar_entry){ .name = xstrdup("xdock/agent"), .path = xstrdup(agent_path) };
	e[(*n)++] = (struct tar_entry){ .name = xstrdup(base), .dir = true };
	for (size_t i = 0; i < l->n; i++) {
		add_parents(&e, n, &cap, base, l->files[i], i ? l->files[i - 1] : NULL);
		if (*n == cap) {
			cap *= 2;
			e = xrealloc(e, cap * sizeof(*e));
		}
		if (l->links[i])
			e[(*n)++] = (struct tar_entry){ .name = xasprintf("%s/%s", base, l->files[i]),
							.link = xstrdup(l->links[i]) };
		else
			e[(*n)++] = (struct tar_entry){ .name = xasprintf("%s/%s", base, l->files[i]),
							.path = xasprintf("%s/%s", project_dir, l->files[i]) };
	}
	return e;
}

/* The run's two volumes, and a helper container that mounts them: it is
 * only created, never started, and the archive is unpacked into it. */
static int
make_helper(struct ship *s, const struct run_ctx *ctx, const char *image, char **helper, struct error **err)
{
	struct docker *dk = ctx->dk;
	cleanup_free char *name = xasprintf("xdock-%s-ship", ctx->run_id);
	const char *cmd[] = { "/xdock/agent", NULL };
	struct docker_mount mounts[3] = { { 0 } };
	struct docker_container_spec spec = {
		.name = name,
		.image = image,
		.entrypoint = cmd,
		.labels = ctx->labels,
		.network = "none",
	};

	if (docker_volume_create(dk, s->project_volume, ctx->labels, err) < 0 ||
	    docker_volume_create(dk, s->agent_volume, ctx->labels, err) < 0) {
		s->created = true;
		return error_wrap(err, "ship: volume");
	}
	s->created = true;
	mounts[0] = (struct docker_mount){ s->agent_volume, "/xdock", false, true };
	mounts[1] = (struct docker_mount){ s->project_volume, ctx->project_dir, false, true };
	spec.mounts = mounts;
	if (docker_container_create(dk, &spec, helper, err) < 0)
		return error_wrap(err, "ship");
	return 0;
}

/* The entries as one tar stream into the helper's '/', owned by user
 * ("uid:gid"; NULL: root). */
static int
put_entries(struct ship *s, struct docker *dk, const char *helper, const char *user, const struct tar_entry *e,
	    size_t n, struct error **err)
{
	struct tar_writer w;
	unsigned uid = 0, gid = 0;
	int rc = 0;

	if (user && sscanf(user, "%u:%u", &uid, &gid) != 2)
		uid = gid = 0;
	tar_writer_init(&w, e, n, uid, gid);
	if (docker_container_put_archive(dk, helper, "/", tar_writer_read, &w, err) < 0) {
		if (w.err) {
			error_free(*err);
			*err = steal_ptr(&w.err);
		}
		rc = error_wrap(err, "ship: upload to %s", docker_host(dk));
	} else {
		s->bytes = w.bytes;
	}
	tar_writer_release(&w);
	return rc;
}

int
ship_upload(struct ship *s, const struct run_ctx *ctx, const char *image, const char *agent_path,
	    const char *cache_dir, struct error **err)
{
	struct ship_list l;
	struct tar_entry *e;
	size_t n = 0;
	cleanup_free char *helper = NULL;
	int64_t t0 = util_now_ms();
	int rc;

	if (ship_list_make(&l, ctx->project_dir, cache_dir, err) < 0)
		return error_wrap(err, "ship");
	e = archive_entries(&l, ctx->project_dir, agent_path, &n);
	s->files = l.n;
	ship_list_release(&l);
	rc = make_helper(s, ctx, image, &helper, err);
	if (rc == 0)
		rc = put_entries(s, ctx->dk, helper, ctx->user, e, n, err);
	if (helper) {
		struct error *re = NULL;

		docker_container_remove(ctx->dk, helper, true, &re);
		error_free(re);
	}
	entries_free(e, n);
	s->seconds = (double)(util_now_ms() - t0) / 1000.0;
	return rc;
}

int
ship_fetch(struct docker *dk, const char *id, const char *const *paths, struct error **err)
{
	for (size_t i = 0; paths[i]; i++) {
		cleanup_free char *copy = xstrdup(paths[i]);
		struct tar_reader r;
		int rc;

		tar_reader_init(&r, dirname(copy));
		rc = docker_container_get_archive(dk, id, paths[i], tar_reader_feed, &r, err);
		if (rc < 0 && r.err) {
			error_free(*err);
			*err = steal_ptr(&r.err);
		}
		tar_reader_release(&r);
		if (rc < 0)
			return error_wrap(err, "ship: bring back %s", paths[i]);
	}
	return 0;
}

void
ship_remove(struct ship *s, struct docker *dk)
{
	const char *v[] = { s->project_volume, s->agent_volume };

	if (!s->created)
		return;
	for (size_t i = 0; i < 2; i++) {
		struct error *e = NULL;

		if (docker_volume_remove(dk, v[i], &e) < 0) {
			fprintf(stderr, "xdock: cleanup: volume %s: %s\n", v[i], e->msg);
			error_free(e);
		}
	}
	s->created = false;
}

void
ship_release(struct ship *s)
{
	free(s->project_volume);
	free(s->agent_volume);
	memset(s, 0, sizeof(*s));
}
