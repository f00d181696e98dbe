#include "history.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "buf.h"
#include "save.h"

struct entry {
	char *id;       /* owned; NULL marks an empty slot */
	uint64_t hash;
	double seconds;
};

/* Open addressing with linear probing, at most half full: a lookup is a
 * hash and one or two string compares. Entries are only ever removed by
 * history_prune, which rebuilds the table, so no tombstones are needed. */
struct history {
	struct entry *slots;
	size_t nslots;  /* a power of two */
	size_t count;
};

/* FNV-1a, 64 bits: node ids are short ASCII strings. Only a table index:
 * find() compares the ids themselves, so a collision costs a probe, never
 * a wrong duration. */
static uint64_t
hash_str(const char *s)
{
	uint64_t h = 1469598103934665603u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211u;
	return h;
}

struct history *
history_new(void)
{
	struct history *h = xcalloc(1, sizeof(*h));

	h->nslots = 64;
	h->slots = xcalloc(h->nslots, sizeof(*h->slots));
	return h;
}

void
history_free(struct history *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->nslots; i++)
		free(h->slots[i].id);
	free(h->slots);
	free(h);
}

size_t
history_count(const struct history *h)
{
	return h->count;
}

/* The slot holding id, or the empty slot where it would go. */
static struct entry *
find(const struct history *h, const char *id, uint64_t hash)
{
	size_t mask = h->nslots - 1;

	for (size_t i = (size_t)hash & mask;; i = (i + 1) & mask) {
		struct entry *e = &h->slots[i];

		if (!e->id || (e->hash == hash && strcmp(e->id, id) == 0))
			return e;
	}
}

static void
grow(struct history *h)
{
	struct entry *old = h->slots;
	size_t nold = h->nslots;

	h->nslots *= 2;
	h->slots = xcalloc(h->nslots, sizeof(*h->slots));
	for (size_t i = 0; i < nold; i++)
		if (old[i].id)
			*find(h, old[i].id, old[i].hash) = old[i];
	free(old);
}

/* The entry for id, created with seconds = -1 when new. */
static struct entry *
upsert(struct history *h, const char *id)
{
	uint64_t hash = hash_str(id);
	struct entry *e;

	if (2 * (h->count + 1) > h->nslots)
		grow(h);
	e = find(h, id, hash);
	if (!e->id) {
		e->id = xstrdup(id);
		e->hash = hash;
		e->seconds = -1;
		h->count++;
	}
	return e;
}

double
history_get(const struct history *h, const char *nodeid)
{
	const struct entry *e = find(h, nodeid, hash_str(nodeid));

	return e->id ? e->seconds : -1;
}

void
history_update(struct history *h, const char *nodeid, double seconds)
{
	struct entry *e;

	if (!isfinite(seconds) || seconds < 0)
		return;
	e = upsert(h, nodeid);
	if (e->seconds < 0)
		e->seconds = seconds;
	else
		e->seconds = (1 - HISTORY_ALPHA) * e->seconds + HISTORY_ALPHA * seconds;
}

void
history_prune(struct history *h, const char *const *collected, size_t n)
{
	bool *keep = xcalloc(h->nslots, sizeof(*keep));
	struct entry *old = h->slots;
	size_t nold = h->nslots;

	for (size_t i = 0; i < n; i++) {
		struct entry *e = find(h, collected[i], hash_str(collected[i]));

		if (e->id)
			keep[e - h->slots] = true;
	}
	/* Rebuild rather than delete in place: linear probing needs the
	 * chains intact, and a prune happens once per run. */
	h->slots = xcalloc(nold, sizeof(*h->slots));
	h->count = 0;
	for (size_t i = 0; i < nold; i++) {
		if (!old[i].id)
			continue;
		if (keep[i]) {
			*find(h, old[i].id, old[i].hash) = old[i];
			h->count++;
		} else {
			free(old[i].id);
		}
	}
	free(old);
	free(keep);
}

static char *
history_path(const char *project_dir)
{
	return xasprintf("%s/%s/%s", project_dir, HISTORY_DIR, HISTORY_FILE);
}

/* Reads the whole file into b (capped). 1: read; 0: no file; -1: error. */
static int
read_file(const char *path, struct buf *b, struct error **err)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char chunk[65536];

	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		return error_set(err, EXIT_INTERNAL, "%s", strerror(errno));
	}
	if (fstat(fd, &st) < 0)
		return error_set(err, EXIT_INTERNAL, "%s", strerror(errno));
	if (!S_ISREG(st.st_mode))
		return error_set(err, EXIT_INTERNAL, "not a regular file");
	if ((uint64_t)st.st_size > b->max)
		return error_set(err, EXIT_INTERNAL, "larger than %zu bytes", b->max);
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return error_set(err, EXIT_INTERNAL, "%s", strerror(errno));
		if (n == 0)
			return 1;
		/* The cap holds even if the file grows while we read. */
		if (buf_append(b, chunk, (size_t)n) < 0)
			return error_set(err, EXIT_INTERNAL, "larger than %zu bytes", b->max);
	}
}

static int
parse(struct history *h, const struct buf *b, struct error **err)
{
	cleanup_cjson cJSON *root = cJSON_ParseWithLength(b->data ? b->data : "", b->len);
	const cJSON *version, *tests, *item;

	if (!root || !cJSON_IsObject(root))
		return error_set(err, EXIT_INTERNAL, "not a JSON object");
	version = cJSON_GetObjectItemCaseSensitive(root, "version");
	if (!cJSON_IsNumber(version) || version->valuedouble != HISTORY_VERSION)
		return error_set(err, EXIT_INTERNAL, "unknown format version (this xdock reads version %d)",
				 HISTORY_VERSION);
	tests = cJSON_GetObjectItemCaseSensitive(root, "tests");
	if (!cJSON_IsObject(tests))
		return error_set(err, EXIT_INTERNAL, "\"tests\" is not an object");
	cJSON_ArrayForEach(item, tests) {
		if (!item->string || !cJSON_IsNumber(item) || !isfinite(item->valuedouble) || item->valuedouble < 0)
			continue;
		/* A repeated key: the later one wins, as in most readers. */
		upsert(h, item->string)->seconds = item->valuedouble;
	}
	return 0;
}

struct history *
history_load(const char *project_dir, struct error **err)
{
	cleanup_free char *path = history_path(project_dir);
	struct history *h = history_new();
	struct buf b;
	int r;

	buf_init(&b, HISTORY_MAX_BYTES);
	r = read_file(path, &b, err);
	if (r > 0 && parse(h, &b, err) < 0) {
		/* Half a history would be worse than none: start over. */
		history_free(h);
		h = history_new();
		r = -1;
	}
	buf_release(&b);
	if (r < 0)
		error_wrap(err, "duration history %s ignored", path);
	return h;
}

static int
cmp_entry_ptr(const void *a, const void *b)
{
	const struct entry *x = *(const struct entry *const *)a, *y = *(const struct entry *const *)b;

	return strcmp(x->id, y->id);
}

int
history_dir_make(const char *project_dir, struct error **err)
{
	static const char ignore[] = "# Created by xdock automatically.\n*\n";
	cleanup_free char *dir = xasprintf("%s/%s", project_dir, HISTORY_DIR);
	cleanup_free char *gi = NULL;

	if (mkdir(dir, 0755) < 0) {
		if (errno == EEXIST)
			return 0;
		return error_set(err, EXIT_INTERNAL, "mkdir %s: %s", dir, strerror(errno));
	}
	gi = xasprintf("%s/.gitignore", dir);
	return save_bytes(gi, ignore, sizeof(ignore) - 1, err);
}

int
history_save(const struct history *h, const char *project_dir, struct error **err)
{
	cleanup_free char *path = history_path(project_dir);
	cleanup_free const struct entry **sorted = xcalloc(h->count + 1, sizeof(*sorted));
	cleanup_cjson cJSON *root = cJSON_CreateObject();
	cleanup_free char *text = NULL, *whole = NULL;
	cJSON *tests;
	size_t n = 0;

	for (size_t i = 0; i < h->nslots; i++)
		if (h->slots[i].id)
			sorted[n++] = &h->slots[i];
	qsort(sorted, n, sizeof(*sorted), cmp_entry_ptr);
	cJSON_AddNumberToObject(root, "version", HISTORY_VERSION);
	tests = cJSON_AddObjectToObject(root, "tests");
	for (size_t i = 0; i < n; i++) {
		/* Microseconds are far below the noise of any test and keep
		 * the numbers short. */
		double s = round(sorted[i]->seconds * 1e6) / 1e6;

		cJSON_AddItemToObject(tests, sorted[i]->id, cJSON_CreateNumber(s));
	}
	/* One entry per line: a committed file diffs line by line. */
	if (!(text = cJSON_Print(root)))
		return error_set(err, EXIT_INTERNAL, "duration history: cannot format JSON");

	if (history_dir_make(project_dir, err) < 0)
		return error_wrap(err, "duration history");
	/* The file ends with a newline, as text files do. */
	whole = xasprintf("%s\n", text);
	if (save_bytes(path, whole, strlen(whole), err) < 0)
		return error_wrap(err, "duration history");
	return 0;
}

/* ---- the ETA ------------------------------------------------------------ */

static int
cmp_desc(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x < y) - (x > y);
}

struct ranked {
	double v;
	size_t i;
};

static int
cmp_ranked_desc(const void *a, const void *b)
{
	const struct ranked *x = a, *y = b;

	if (x->v != y->v)
		return x->v < y->v ? 1 : -1;
	return (x->i > y->i) - (x->i < y->i);
}

void
history_eta_init(struct history_eta *e, const double *expected, size_t n, size_t nworkers)
{
	cleanup_free double *known = xcalloc(n + 1, sizeof(*known));
	cleanup_free struct ranked *r = xcalloc(n + 1, sizeof(*r));
	size_t nknown = 0;
	double median = 0;

	memset(e, 0, sizeof(*e));
	e->n = n;
	e->nworkers = nworkers ? nworkers : 1;
	for (size_t i = 0; i < n; i++)
		if (expected[i] >= 0)
			known[nknown++] = expected[i];
	e->known = nknown > 0;
	if (nknown > 0) {
		qsort(known, nknown, sizeof(*known), cmp_desc);
		median = known[nknown / 2];
	}
	e->sorted = xcalloc(n + 1, sizeof(*e->sorted));
	e->rank = xcalloc(n + 1, sizeof(*e->rank));
	e->done = xcalloc(n + 1, sizeof(*e->done));
	for (size_t i = 0; i < n; i++)
		r[i] = (struct ranked){ expected[i] >= 0 ? expected[i] : median, i };
	qsort(r, n, sizeof(*r), cmp_ranked_desc);
	for (size_t k = 0; k < n; k++) {
		e->sorted[k] = r[k].v;
		e->rank[r[k].i] = k;
		e->remaining += r[k].v;
	}
}

void
history_eta_release(struct history_eta *e)
{
	free(e->sorted);
	free(e->rank);
	free(e->done);
	memset(e, 0, sizeof(*e));
}

void
history_eta_done(struct history_eta *e, size_t i, double actual)
{
	size_t k;

	if (i >= e->n || e->done[k = e->rank[i]])
		return;
	e->done[k] = true;
	e->remaining -= e->sorted[k];
	if (actual >= 0 && isfinite(actual)) {
		e->done_expected += e->sorted[k];
		e->done_actual += actual;
	}
	/* Only ever moves forward: O(n) over the whole run. */
	while (e->first < e->n && e->done[e->first])
		e->first++;
}

double
history_eta_seconds(const struct history_eta *e)
{
	double rem, longest, scale = 1;

	if (!e->known)
		return -1;
	if (e->first >= e->n)
		return 0;
	/* Subtracting floating sums drifts; never report below zero. */
	rem = e->remaining > 0 ? e->remaining : 0;
	longest = e->sorted[e->first];
	/* Trust this run's pace only after a second of expected work, and
	 * within bounds: a few odd tests must not swing the estimate 10x. */
	if (e->done_expected >= 1.0) {
		scale = e->done_actual / e->done_expected;
		scale = scale < 0.25 ? 0.25 : scale > 4 ? 4 : scale;
	}
	rem /= (double)e->nworkers;
	return (rem > longest ? rem : longest) * scale;
}
