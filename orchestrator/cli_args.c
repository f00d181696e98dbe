/* `xdock run`'s arguments: xdock's options picked out wherever they stand,
 * the rest passed on to pytest in order; the checks of combinations; the
 * strings a config owns. */
#include "cli.h"
#include "cli_priv.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

int64_t
cli_parse_size(const char *s)
{
	char *end;
	double v;
	double mul = 1;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno || v < 0 || !isfinite(v))
		return -1;
	switch (*end) {
	case '\0': break;
	case 'k': case 'K': mul = 1024.0; end++; break;
	case 'm': case 'M': mul = 1024.0 * 1024; end++; break;
	case 'g': case 'G': mul = 1024.0 * 1024 * 1024; end++; break;
	default: return -1;
	}
	if (*end == 'b' || *end == 'B')
		end++;
	if (*end != '\0' || v * mul > 9e18)
		return -1;
	return (int64_t)(v * mul);
}

const char *
cli_own(struct config *cfg, char *s)
{
	cfg->owned = xrealloc(cfg->owned, (cfg->nowned + 1) * sizeof(*cfg->owned));
	cfg->owned[cfg->nowned++] = s;
	return s;
}

static void
strv_add(const char ***v, size_t *n, const char *s)
{
	*v = xrealloc(*v, (*n + 1) * sizeof(**v));
	(*v)[(*n)++] = s;
}

static void
push_pytest(struct config *cfg, const char *a)
{
	strv_add(&cfg->pytest_args, &cfg->npytest_args, a);
}

static void
push_positional(struct config *cfg, const char *a)
{
	push_pytest(cfg, a);
	strv_add(&cfg->positional, &cfg->npositional, a);
}

/* pytest's options whose value xdock needs for the rootdir decision. */
static void
note_pytest_value(struct config *cfg, const char *name, const char *v)
{
	if (strcmp(name, "-c") == 0 || strcmp(name, "--config-file") == 0)
		cfg->inifile_arg = v;
	else if (strcmp(name, "--rootdir") == 0)
		cfg->rootdir_arg = v;
}

/* "--name", "--name=value" or "--name value". */
static int
parse_long(struct config *cfg, const char *const *args, size_t n, size_t *i, struct error **err)
{
	const char *a = args[*i];
	const char *eq = strchr(a, '=');
	size_t len = eq ? (size_t)(eq - a) : strlen(a);
	const struct opt *o = cli_find_long(a, len);
	const char *v = eq ? eq + 1 : NULL;

	const char *refusal = cli_refused(a, len);

	if (refusal)
		return error_set(err, EXIT_USAGE, "%s", refusal);
	if (!o) {
		cleanup_free char *name = xstrndup(a, len);

		push_pytest(cfg, a);
		if (!cli_pytest_valued(a, len))
			return 0;
		if (!v) {
			if (*i + 1 >= n)
				return error_set(err, EXIT_USAGE, "%s needs a value", name);
			v = args[++*i];
			push_pytest(cfg, v);
		}
		note_pytest_value(cfg, name, v);
		return 0;
	}
	if (!o->meta) {
		if (v)
			return error_set(err, EXIT_USAGE, "%s takes no value, got \"%s\"", o->name, a);
		return cli_apply(cfg, o, NULL, err);
	}
	if (!v) {
		if (*i + 1 >= n)
			return error_set(err, EXIT_USAGE, "%.*s needs a value", (int)len, a);
		v = args[++*i];
	}
	return cli_apply(cfg, o, v, err);
}

/* A cluster of short options, "-xvs", "-n4", "-rfE", "-k expr": xdock's
 * letters are applied, pytest's are passed on in their order. */
static int
parse_short(struct config *cfg, const char *const *args, size_t n, size_t *i, struct error **err)
{
	const char *a = args[*i];
	char pending[64] = "-";
	size_t np = 1;
	bool whole = true; /* the cluster goes through as it stands */

	for (size_t j = 1; a[j]; j++) {
		const struct opt *o = cli_find_short(a[j]);
		const char *rest = a + j + 1;
		const char *v;
		const char *shorthand = NULL;

		if (a[j] == 'f')
			return error_set(err, EXIT_USAGE, "%s", cli_refused("--looponfail", strlen("--looponfail")));
		if (a[j] == 'd') {
			/* xdist's "-d": a shorthand for --dist load. */
			o = cli_find_long("--dist", strlen("--dist"));
			shorthand = "load";
		}
		if (!o && !cli_pytest_valued_short(a[j])) {
			if (np + 1 >= sizeof(pending))
				return error_set(err, EXIT_USAGE, "option cluster too long: \"%.40s...\"", a);
			pending[np++] = a[j];
			pending[np] = '\0';
			continue;
		}
		if (np > 1) {
			push_pytest(cfg, cli_own(cfg, xstrdup(pending)));
			np = 1;
			pending[1] = '\0';
		}
		if (!o) {
			/* pytest's option with a value: the rest of the
			 * cluster, or the next argument. */
			char opt[3] = { '-', a[j], '\0' };

			push_pytest(cfg, j == 1 ? a : cli_own(cfg, xasprintf("-%s", a + j)));
			if (*rest) {
				v = rest;
			} else {
				if (*i + 1 >= n)
					return error_set(err, EXIT_USAGE, "%s needs a value", opt);
				v = args[++*i];
				push_pytest(cfg, v);
			}
			note_pytest_value(cfg, opt, v);
			return 0;
		}
		whole = false;
		if (shorthand) {
			if (cli_apply(cfg, o, shorthand, err) < 0)
				return -1;
			continue;
		}
		if (!o->meta) {
			if (cli_apply(cfg, o, NULL, err) < 0)
				return -1;
			continue;
		}
		if (*rest)
			return cli_apply(cfg, o, rest, err);
		if (*i + 1 >= n)
			return error_set(err, EXIT_USAGE, "-%c needs a value", a[j]);
		return cli_apply(cfg, o, args[++*i], err);
	}
	if (np > 1)
		push_pytest(cfg, whole ? a : cli_own(cfg, xstrdup(pending)));
	return 0;
}

int
cli_parse_run(struct config *cfg, const char *const *args, size_t n, struct error **err)
{
	for (size_t i = 0; i < n; i++) {
		const char *a = args[i];
		int rc = 0;

		if (strcmp(a, "--") == 0) {
			/* The rest is pytest's, as it stands: the way to
			 * give a plugin an option whose name xdock took. */
			for (i++; i < n; i++)
				push_pytest(cfg, args[i]);
			break;
		}
		if (a[0] != '-' || a[1] == '\0')
			push_positional(cfg, a);
		else if (a[1] == '-')
			rc = parse_long(cfg, args, n, &i, err);
		else
			rc = parse_short(cfg, args, n, &i, err);
		if (rc < 0)
			return -1;
		if (cfg->command == CLI_HELP)
			return 0;
	}
	return 0;
}

bool
cli_whole_suite(const struct config *cfg)
{
	static const char *const narrowing[] = { "--deselect", "--ignore", "--ignore-glob", "--lf", "--last-failed",
						  "--sw", "--stepwise", "--co", "--collect-only", "--keyword" };

	for (size_t i = 0; i < cfg->npositional; i++)
		if (strcmp(cfg->positional[i], ".") != 0 && strcmp(cfg->positional[i], "./") != 0)
			return false;
	for (size_t i = 0; i < cfg->npytest_args; i++) {
		const char *a = cfg->pytest_args[i];
		size_t len = strcspn(a, "=");

		if (a[0] == '-' && (a[1] == 'k' || a[1] == 'm'))
			return false;
		for (size_t k = 0; k < ARRAY_SIZE(narrowing); k++)
			if (strlen(narrowing[k]) == len && strncmp(a, narrowing[k], len) == 0)
				return false;
	}
	return true;
}

int
cli_finish(struct config *cfg, struct error **err)
{
	if (cfg->db == CLI_DB_URL && cfg->reuse_db)
		return error_set(err, EXIT_USAGE, "--reuse-db keeps the embedded PostgreSQL; with --db-url the server is yours already");
	if (cfg->db == CLI_DB_NONE && cfg->db_setup)
		return error_set(err, EXIT_USAGE, "--db-setup needs a database (drop --db none)");
	/* A server per worker is one xdock starts: a given server is one. */
	if (cfg->db_scope == CLI_DB_SCOPE_SERVER && cfg->db != CLI_DB_EMBEDDED)
		return error_set(err, EXIT_USAGE, "--db-scope server starts a server per worker; not with %s",
				 cfg->db == CLI_DB_URL ? "--db-url" : "--db none");
	if (cfg->db_scope == CLI_DB_SCOPE_SERVER && cfg->reuse_db)
		return error_set(err, EXIT_USAGE, "--db-scope server makes fresh servers each run; not with --reuse-db");
	if (cfg->dist == SCHED_NO && !cfg->workers_auto)
		cfg->workers = 1;
	return 0;
}

int
cli_split(const char *s, char ***words, size_t *n)
{
	struct buf w;
	bool in_word = false;

	buf_init(&w, 1 << 20);
	for (const char *p = s;; p++) {
		char c = *p;

		if (c == '\0' || c == ' ' || c == '\t' || c == '\n' || c == '\r') {
			if (in_word) {
				*words = xrealloc(*words, (*n + 1) * sizeof(**words));
				(*words)[(*n)++] = w.data ? buf_steal(&w) : xstrdup("");
				buf_reset(&w);
				in_word = false;
			}
			if (c == '\0')
				break;
			continue;
		}
		in_word = true;
		if (c == '\\') {
			if (p[1] == '\0')
				break;
			buf_append(&w, ++p, 1);
		} else if (c == '\'') {
			const char *end = strchr(p + 1, '\'');

			if (!end)
				goto unclosed;
			buf_append(&w, p + 1, (size_t)(end - p - 1));
			p = end;
		} else if (c == '"') {
			for (p++; *p && *p != '"'; p++) {
				/* In double quotes a backslash escapes only
				 * these, as in the shell and shlex. */
				if (*p == '\\' && p[1] && strchr("\\\"$`", p[1]))
					p++;
				buf_append(&w, p, 1);
			}
			if (!*p)
				goto unclosed;
		} else {
			buf_append(&w, p, 1);
		}
	}
	buf_release(&w);
	return 0;
unclosed:
	buf_release(&w);
	return -1;
}

void
cli_release(struct config *cfg)
{
	free(cfg->pytest_args);
	free(cfg->worker_args);
	free(cfg->positional);
	free(cfg->env);
	free(cfg->db_options);
	cfg->db_options = NULL;
	cfg->ndb_options = 0;
	for (size_t i = 0; i < cfg->nowned; i++)
		free(cfg->owned[i]);
	free(cfg->owned);
	free(cfg->origins);
	cfg->pytest_args = cfg->worker_args = cfg->positional = cfg->env = NULL;
	cfg->owned = NULL;
	cfg->origins = NULL;
	cfg->npytest_args = cfg->nworker_args = cfg->npositional = cfg->nenv = cfg->nowned = 0;
}
