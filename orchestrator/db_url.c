#include "db_url.h"

#include <ctype.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <libpq-fe.h>

#include "buf.h"
#include "db_priv.h"

/* Where a password sits in a connection string: at most the URL's own and
 * a few password= parameters are looked at. */
#define SECRETS_MAX 8

struct span {
	size_t off, len;
};

/* The length of url's scheme when libpq reads it as a URL, in any case
 * (libpq itself knows only the lower-case spelling); 0 otherwise. */
static size_t
scheme_len(const char *url)
{
	static const char *const schemes[] = { "postgresql://", "postgres://" };

	for (size_t i = 0; i < ARRAY_SIZE(schemes); i++) {
		size_t n = strlen(schemes[i]);

		if (strncasecmp(url, schemes[i], n) == 0)
			return n;
	}
	return 0;
}

/* The authority of a URL: from after the scheme to the first '/' or '?';
 * *at the last '@' in it (NULL when none). */
static const char *
authority(const char *url, const char **at)
{
	const char *p = url + scheme_len(url);
	const char *end = p + strcspn(p, "/?");

	*at = NULL;
	for (const char *c = p; c < end; c++)
		if (*c == '@')
			*at = c;
	return end;
}

static void
add_span(struct span *s, size_t *n, const char *base, const char *from, const char *to)
{
	if (*n < SECRETS_MAX)
		s[(*n)++] = (struct span){ (size_t)(from - base), (size_t)(to - from) };
}

/* password=VALUE in libpq's key=value pairs: a value may be quoted with
 * '...' and hold backslash escapes. */
static size_t
kv_secrets(const char *s, struct span *out)
{
	const char *p = s;
	size_t n = 0;

	while (*p) {
		const char *key = p, *val;
		size_t klen;

		while (*p && *p != '=' && !isspace((unsigned char)*p))
			p++;
		klen = (size_t)(p - key);
		p += strspn(p, " \t\n\r\f\v");
		if (*p != '=')
			continue;
		p++;
		p += strspn(p, " \t\n\r\f\v");
		val = p;
		if (*p == '\'') {
			for (p++; *p && *p != '\''; p++)
				if (*p == '\\' && p[1])
					p++;
			if (*p)
				p++;
		} else {
			for (; *p && !isspace((unsigned char)*p); p++)
				if (*p == '\\' && p[1])
					p++;
		}
		if (klen == 8 && strncasecmp(key, "password", 8) == 0)
			add_span(out, &n, s, val, p);
		p += strspn(p, " \t\n\r\f\v");
	}
	return n;
}

/* Where the passwords are in s, read as text rather than parsed: the
 * URL's user part after its ':' and every password= parameter, or
 * password= of key=value pairs. In order, not overlapping. */
static size_t
secrets(const char *s, struct span *out)
{
	const char *at, *end, *colon, *q;
	size_t n = 0;

	if (!scheme_len(s))
		return kv_secrets(s, out);
	end = authority(s, &at);
	colon = at ? memchr(s + scheme_len(s), ':', (size_t)(at - s - scheme_len(s))) : NULL;
	if (colon)
		add_span(out, &n, s, colon + 1, at);
	q = strchr(end, '?');
	for (const char *p = q ? q + 1 : NULL; p && *p;) {
		size_t len = strcspn(p, "&");

		if (len >= 9 && strncasecmp(p, "password=", 9) == 0)
			add_span(out, &n, s, p + 9, p + len);
		p += len + (p[len] ? 1 : 0);
	}
	return n;
}

char *
db_url_masked(const char *url)
{
	struct span s[SECRETS_MAX];
	size_t n = secrets(url, s), from = 0;
	struct buf b;

	buf_init(&b, SIZE_MAX / 2);
	for (size_t i = 0; i < n; i++) {
		buf_append(&b, url + from, s[i].off - from);
		buf_append(&b, "***", 3);
		from = s[i].off + s[i].len;
	}
	buf_append(&b, url + from, strlen(url + from));
	return buf_steal(&b);
}

/* libpq's complaint about a string it could not read quotes the string,
 * or the token it choked on, which may be the password: every password
 * of `given` (what libpq was given) becomes *** in msg. A one-letter
 * password masks that letter everywhere: more than needed, never less. */
static char *
scrub(const char *msg, const char *given)
{
	struct span s[SECRETS_MAX];
	size_t n = secrets(given, s);
	struct buf b;

	buf_init(&b, SIZE_MAX / 2);
	while (*msg) {
		size_t hit = 0;

		for (size_t i = 0; i < n && !hit; i++)
			if (s[i].len && strncmp(msg, given + s[i].off, s[i].len) == 0)
				hit = s[i].len;
		if (hit) {
			buf_append(&b, "***", 3);
			msg += hit;
		} else {
			buf_append(&b, msg++, 1);
		}
	}
	return buf_steal(&b);
}

/* What libpq is given: the scheme in lower case and every '@' of the
 * authority but the last percent-encoded. An unencoded '@' in a password
 * is a common mistake, and libpq would take the password's tail for the
 * host. */
static char *
normalize(const char *url)
{
	const char *at, *end;
	struct buf b;

	if (!scheme_len(url))
		return xstrdup(url);
	end = authority(url, &at);
	buf_init(&b, SIZE_MAX / 2);
	buf_append(&b, "postgresql://", 13);
	for (const char *c = url + scheme_len(url); c < end; c++) {
		if (*c == '@' && c != at)
			buf_append(&b, "%40", 3);
		else
			buf_append(&b, c, 1);
	}
	buf_append(&b, end, strlen(end));
	return buf_steal(&b);
}

static int
parse_port(const char *s, int *port, struct error **err)
{
	size_t n = strlen(s);
	long v = 0;

	if (n == 0)
		return 0;
	/* libpq gives several hosts' ports as a list, "," for none. */
	if (strchr(s, ','))
		return error_set(err, EXIT_USAGE, "several hosts in one URL are not supported");
	if (n > 5 || strspn(s, "0123456789") != n)
		return error_set(err, EXIT_USAGE, "bad port \"%.16s\"", s);
	for (size_t i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	if (v < 1 || v > 65535)
		return error_set(err, EXIT_USAGE, "port %ld out of range", v);
	*port = (int)v;
	return 0;
}

/* A host with ':' must be an IPv6 address (a zone id after '%' too):
 * libpq would only find out when connecting, after the whole retry
 * budget. */
static int
check_host(const char *host, struct error **err)
{
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST }, *res = NULL;

	if (strchr(host, ','))
		return error_set(err, EXIT_USAGE, "several hosts in one URL are not supported");
	if (host[0] == '/' || !strchr(host, ':'))
		return 0;
	if (getaddrinfo(host, NULL, &hints, &res) != 0)
		return error_set(err, EXIT_USAGE, "bad IPv6 address \"%.64s\"", host);
	freeaddrinfo(res);
	return 0;
}

static void
pct_encode(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (isalnum(*p) || *p == '-' || *p == '.' || *p == '_' || *p == '~') {
			buf_append(b, p, 1);
		} else {
			char e[3] = { '%', hex[*p >> 4], hex[*p & 15] };

			buf_append(b, e, 3);
		}
	}
}

/* A value libpq holds, "" counting as absent (libpq's default too), but
 * an empty password kept: libpq sends it. */
static char *
value(const PQconninfoOption *o)
{
	if (!*o->val && strcmp(o->keyword, "password") != 0)
		return NULL;
	return xstrdup(o->val);
}

/* libpq's options into u: the five xdock uses by name, the rest into the
 * query, as libpq orders them. */
static int
take_options(const PQconninfoOption *opts, struct db_url *u, struct error **err)
{
	struct buf q;
	int rc = 0;

	buf_init(&q, SIZE_MAX / 2);
	for (const PQconninfoOption *o = opts; o->keyword && rc == 0; o++) {
		const char *k = o->keyword;

		if (!o->val)
			continue;
		if (strcmp(k, "user") == 0)
			u->user = value(o);
		else if (strcmp(k, "password") == 0)
			u->password = value(o);
		else if (strcmp(k, "host") == 0)
			u->host = value(o);
		else if (strcmp(k, "dbname") == 0)
			u->dbname = value(o);
		else if (strcmp(k, "port") == 0)
			rc = parse_port(o->val, &u->port, err);
		else {
			buf_printf(&q, "%s%s=", q.len ? "&" : "", k);
			pct_encode(&q, o->val);
		}
	}
	if (q.len)
		u->query = buf_steal(&q);
	buf_release(&q);
	if (rc == 0 && u->host)
		rc = check_host(u->host, err);
	return rc;
}

int
db_url_parse(const char *url, struct db_url *out, struct error **err)
{
	cleanup_free char *given = NULL;
	char *perr = NULL;
	PQconninfoOption *opts;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!scheme_len(url) && !strchr(url, '='))
		return error_set(err, EXIT_USAGE,
				 "database URL must start with postgresql:// or postgres:// (or be libpq's key=value pairs)");
	/* libpq reads a URL up to a space as it reads the rest: an unencoded
	 * space or a newline pasted in is a mistake, not a name. */
	for (const char *c = url; scheme_len(url) && *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f || *c == ' ')
			return error_set(err, EXIT_USAGE,
					 "database URL holds a space or control character (percent-encode it)");
	given = normalize(url);
	opts = PQconninfoParse(given, &perr);
	if (!opts) {
		cleanup_free char *line = db_first_line(perr);
		cleanup_free char *safe = scrub(line, given);

		PQfreemem(perr);
		return error_set(err, EXIT_USAGE, "database URL: %s", safe);
	}
	rc = take_options(opts, out, err);
	PQconninfoFree(opts);
	if (rc < 0) {
		db_url_release(out);
		return error_wrap(err, "database URL");
	}
	return 0;
}

void
db_url_release(struct db_url *u)
{
	free(u->user);
	free(u->password);
	free(u->host);
	free(u->dbname);
	free(u->query);
	memset(u, 0, sizeof(*u));
}

char *
db_url_format(const struct db_url *u, const char *host, int port, const char *dbname)
{
	struct buf b;

	/* No cap worth having: every part is already in memory. */
	buf_init(&b, SIZE_MAX / 2);
	host = host ? host : u->host;
	port = port ? port : u->port;
	dbname = dbname ? dbname : u->dbname;
	buf_append(&b, "postgresql://", 13);
	if (u->user || u->password) {
		if (u->user)
			pct_encode(&b, u->user);
		if (u->password) {
			buf_append(&b, ":", 1);
			pct_encode(&b, u->password);
		}
		buf_append(&b, "@", 1);
	}
	if (host && strchr(host, ':')) {
		/* An IPv6 address as is, but a zone id's '%' encoded, as libpq
		 * decodes the bracketed host too. */
		buf_append(&b, "[", 1);
		for (const char *c = host; *c; c++)
			buf_append(&b, *c == '%' ? "%25" : c, *c == '%' ? 3 : 1);
		buf_append(&b, "]", 1);
	} else if (host) {
		pct_encode(&b, host);
	}
	if (port)
		buf_printf(&b, ":%d", port);
	if (dbname || u->query)
		buf_append(&b, "/", 1);
	if (dbname)
		pct_encode(&b, dbname);
	if (u->query)
		buf_printf(&b, "?%s", u->query);
	return buf_steal(&b);
}
