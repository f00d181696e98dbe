/* The databases of a run's first start, made on threads of their own
 * while the containers start and the event loop runs: each server is
 * launched, answers, gets its template, then (once the containers are
 * up) one clone per worker slot. The loop hears of each clone through a
 * pipe and only then lets that worker's tests start; pytest's import and
 * collection in the workers, and the controller's workerinput, go on
 * meanwhile. */
#include "fleet_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* One thread per server: an engine's own (embedded) or the one --db-url
 * server every engine shares. */
struct prep_thread {
	struct fleet_prep *p;
	size_t engine;
	struct docker *dk;      /* its own client, stopped by p->cancel */
	pthread_t thread;
	bool spawned;
};

struct fleet_prep {
	struct fleet *f;
	/* Written once to stop every call and wait of the threads: their
	 * clients' cancel and their servers' cancel_fd. The run's signalfd
	 * cannot be shared: the loop reads it empty. */
	int stop_fd;
	struct docker_cancel cancel;
	int news[2];            /* a byte per clone made and per thread ended */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	/* Under mu. */
	bool started;           /* the containers are up: clones may go */
	bool ctl_known;         /* the controller's start has ended */
	char *ctl_id;           /* then: its container, running; NULL: none */
	bool stopping;          /* what fails from now on is no failure */
	size_t nslots;
	bool *cloned;           /* per slot: its clone exists */
	bool *told;             /* per slot: the loop heard (main thread only) */
	size_t running;
	struct error *err;      /* the first failure */
	struct report_span spans[FLEET_PREP_SPANS];
	struct prep_thread *t;
	size_t nt;
	int *saved_cancel;      /* each thread's server's cancel_fd before */
	bool joined;
};

static int64_t
since(const struct fleet_prep *p)
{
	return util_now_ms() - p->f->t0;
}

static void
tell(struct fleet_prep *p)
{
	char c = 1;

	/* A full pipe already says there is news. */
	if (write(p->news[1], &c, 1) < 0 && errno != EAGAIN)
		return;
}

/* Widens span k to cover [from, to] (ms since the run's start). */
static void
span(struct fleet_prep *p, size_t k, int64_t from, int64_t to)
{
	struct report_span *s = &p->spans[k];

	pthread_mutex_lock(&p->mu);
	if (s->end_ms <= s->start_ms || from < s->start_ms)
		s->start_ms = from;
	if (to > s->end_ms)
		s->end_ms = to;
	pthread_mutex_unlock(&p->mu);
}

/* The containers are up (slot numbers, engines and database names are
 * settled); false when stopped first. */
static bool
wait_started(struct fleet_prep *p)
{
	bool go;

	pthread_mutex_lock(&p->mu);
	while (!p->started && !p->stopping)
		pthread_cond_wait(&p->cv, &p->mu);
	go = !p->stopping;
	pthread_mutex_unlock(&p->mu);
	return go;
}

/* Where --db-setup runs on this thread's engine (heap; NULL: a container
 * of its own): the controller, on the controller's engine, once its
 * start has ended. It starts first and takes less than the server's
 * launch and boot, so the wait costs nothing as a rule; the workers'
 * starts go on meanwhile. -1: stopped meanwhile. */
static int
setup_in(struct prep_thread *t, char **in)
{
	struct fleet_prep *p = t->p;
	bool go;

	*in = NULL;
	if (!p->f->cfg->db_setup || &p->f->es->e[t->engine] != fleet_first(p->f))
		return 0;
	pthread_mutex_lock(&p->mu);
	while (!p->ctl_known && !p->started && !p->stopping)
		pthread_cond_wait(&p->cv, &p->mu);
	go = !p->stopping;
	*in = go && p->ctl_id ? xstrdup(p->ctl_id) : NULL;
	pthread_mutex_unlock(&p->mu);
	return go ? 0 : -1;
}

/* Launch, answer, template: what needs no container of the workers. */
static int
server_ready(struct prep_thread *t, const struct run_ctx *ctx, struct error **err)
{
	struct fleet_prep *p = t->p;
	struct provision *prov = p->f->es->e[t->engine].prov;
	cleanup_free char *in = NULL;
	int64_t a = since(p), b, c;

	if (provision_launch(prov, ctx, err) < 0)
		return -1;
	b = since(p);
	span(p, FLEET_PREP_LAUNCH, a, b);
	if (provision_connect(prov, ctx, err) < 0)
		return -1;
	c = since(p);
	span(p, FLEET_PREP_CONNECT, b, c);
	if (setup_in(t, &in) < 0)
		return error_set(err, EXIT_INTERRUPTED, "database: stopped before the template");
	if (provision_template(prov, ctx, in, err) < 0)
		return -1;
	span(p, FLEET_PREP_TEMPLATE, c, since(p));
	return 0;
}

/* Each slot whose database lives on this thread's server, in slot order. */
static int
clones(struct prep_thread *t, const struct run_ctx *ctx, struct error **err)
{
	struct fleet_prep *p = t->p;
	struct fleet *f = p->f;
	struct provision *prov = f->es->e[t->engine].prov;

	for (size_t i = 0; i < p->nslots; i++) {
		int64_t a = since(p);

		if (fleet_engine(f, i)->prov != prov || !f->w[i].dbname)
			continue;
		if (provision_clone(prov, ctx, i, f->w[i].dbname, err) < 0)
			return -1;
		span(p, FLEET_PREP_CLONES, a, since(p));
		pthread_mutex_lock(&p->mu);
		p->cloned[i] = true;
		pthread_mutex_unlock(&p->mu);
		tell(p);
	}
	return 0;
}

static void *
prep_thread_cb(void *arg)
{
	struct prep_thread *t = arg;
	struct fleet_prep *p = t->p;
	struct engine *en = &p->f->es->e[t->engine];
	struct run_ctx ctx = en->ctx;
	struct error *err = NULL;
	int rc;

	ctx.dk = t->dk;
	rc = server_ready(t, &ctx, &err);
	if (rc == 0 && wait_started(p))
		rc = clones(t, &ctx, &err);
	if (rc < 0 && p->f->es->n > 1)
		error_wrap(&err, "engine %s", docker_host(en->dk));
	pthread_mutex_lock(&p->mu);
	if (rc < 0 && !p->stopping && !p->err)
		p->err = steal_ptr(&err);
	p->running--;
	pthread_mutex_unlock(&p->mu);
	error_free(err);
	tell(p);
	return NULL;
}

/* The engines whose server a thread prepares: each embedded server, or
 * the first engine's --db-url server for all. */
static bool
prepares(const struct fleet *f, size_t e)
{
	const struct engine *en = &f->es->e[e];

	return en->prov == &en->own && (en->nworkers > 0 || e == 0);
}

static void
prep_free(struct fleet_prep *p)
{
	for (size_t k = 0; k < p->nt; k++)
		docker_free(p->t[k].dk);
	free(p->t);
	free(p->saved_cancel);
	free(p->cloned);
	free(p->told);
	free(p->ctl_id);
	error_free(p->err);
	if (p->news[0] >= 0)
		close(p->news[0]);
	if (p->news[1] >= 0)
		close(p->news[1]);
	if (p->stop_fd >= 0)
		close(p->stop_fd);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

int
fleet_prep_begin(struct fleet *f, size_t nslots, struct error **err)
{
	struct fleet_prep *p;

	if (f->cfg->db == CLI_DB_NONE || f->prep)
		return 0;
	p = xcalloc(1, sizeof(*p));
	p->f = f;
	p->news[0] = p->news[1] = -1;
	p->nslots = nslots;
	p->cloned = xcalloc(nslots ? nslots : 1, sizeof(*p->cloned));
	p->told = xcalloc(nslots ? nslots : 1, sizeof(*p->told));
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (p->stop_fd < 0 || pipe2(p->news, O_CLOEXEC | O_NONBLOCK) < 0) {
		error_set(err, EXIT_INTERNAL, "databases: %s", strerror(errno));
		prep_free(p);
		return -1;
	}
	p->cancel = (struct docker_cancel){ .fd = p->stop_fd };
	p->t = xcalloc(f->es->n, sizeof(*p->t));
	p->saved_cancel = xcalloc(f->es->n, sizeof(*p->saved_cancel));
	/* Clients first, here: libcurl's global set-up is not thread-safe. */
	for (size_t e = 0; e < f->es->n; e++) {
		struct engine *en = &f->es->e[e];
		struct prep_thread *t;

		if (!prepares(f, e))
			continue;
		t = &p->t[p->nt];
		*t = (struct prep_thread){ .p = p, .engine = e };
		if (!(t->dk = docker_new(en->host, &p->cancel, err))) {
			prep_free(p);
			return error_wrap(err, "databases");
		}
		p->saved_cancel[p->nt++] = en->prov->cancel_fd;
		en->prov->cancel_fd = p->stop_fd;
	}
	f->prep = p;
	for (size_t k = 0; k < p->nt; k++) {
		pthread_mutex_lock(&p->mu);
		p->running++;
		pthread_mutex_unlock(&p->mu);
		p->t[k].spawned = pthread_create(&p->t[k].thread, NULL, prep_thread_cb, &p->t[k]) == 0;
		if (!p->t[k].spawned) {
			pthread_mutex_lock(&p->mu);
			p->running--;
			if (!p->err)
				error_set(&p->err, EXIT_INTERNAL, "databases: cannot start a thread");
			pthread_mutex_unlock(&p->mu);
			tell(p);
		}
	}
	return 0;
}

void
fleet_prep_started(struct fleet *f)
{
	struct fleet_prep *p = f->prep;

	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->started = true;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

void
fleet_prep_controller(struct fleet *f, const char *id)
{
	struct fleet_prep *p = f->prep;

	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	if (!p->ctl_known) {
		p->ctl_known = true;
		p->ctl_id = id ? xstrdup(id) : NULL;
	}
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

int
fleet_prep_fd(const struct fleet *f)
{
	return f->prep && !f->prep->joined ? f->prep->news[0] : -1;
}

bool
fleet_prep_busy(const struct fleet *f)
{
	struct fleet_prep *p = f->prep;
	bool busy;

	if (!p || p->joined)
		return false;
	pthread_mutex_lock(&p->mu);
	busy = p->running > 0;
	pthread_mutex_unlock(&p->mu);
	return busy;
}

int
fleet_prep_take(struct fleet *f, bool *admit)
{
	struct fleet_prep *p = f->prep;
	char drain[64];
	int rc;

	if (!p)
		return 1;
	while (read(p->news[0], drain, sizeof(drain)) > 0)
		;
	pthread_mutex_lock(&p->mu);
	for (size_t i = 0; i < p->nslots; i++) {
		admit[i] = p->cloned[i] && !p->told[i];
		p->told[i] |= admit[i];
	}
	if (p->err) {
		/* Kept for fleet_prep_end; the other threads' failures after
		 * this one no longer count. */
		p->stopping = true;
		rc = -1;
	} else {
		rc = p->running == 0 ? 1 : 0;
	}
	pthread_mutex_unlock(&p->mu);
	return rc;
}

void
fleet_prep_spans(const struct fleet *f, struct report_span *out)
{
	struct fleet_prep *p = f->prep;

	if (!p) {
		memset(out, 0, FLEET_PREP_SPANS * sizeof(*out));
		return;
	}
	pthread_mutex_lock(&p->mu);
	memcpy(out, p->spans, sizeof(p->spans));
	pthread_mutex_unlock(&p->mu);
}

int
fleet_prep_end(struct fleet *f, struct error **err)
{
	struct fleet_prep *p = f->prep;
	uint64_t one = 1;
	size_t k = 0;

	if (!p || p->joined)
		return 0;
	pthread_mutex_lock(&p->mu);
	/* A failure the loop did not hear yet is still the run's. */
	if (p->err && err && !*err)
		*err = steal_ptr(&p->err);
	p->stopping = true;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	if (write(p->stop_fd, &one, sizeof(one)) < 0) {
		/* Cannot fail on an eventfd this far from its limit. */
	}
	for (k = 0; k < p->nt; k++)
		if (p->t[k].spawned)
			pthread_join(p->t[k].thread, NULL);
	for (size_t e = 0, n = 0; e < f->es->n && n < p->nt; e++)
		if (prepares(f, e))
			f->es->e[e].prov->cancel_fd = p->saved_cancel[n++];
	p->joined = true;
	return err && *err ? -1 : 0;
}

void
fleet_prep_free(struct fleet *f)
{
	if (!f->prep)
		return;
	fleet_prep_end(f, NULL);
	prep_free(f->prep);
	f->prep = NULL;
}
