/* One REST call on a client's handle: the transport's curl options
 * (shared with the attach channel), the request body sent and the reply
 * received under its cap, the call's time limit and what cancels it, and a
 * non-2xx reply turned into an error. */
#include <ctype.h>
#include <curl/curl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "docker_priv.h"

_Static_assert(DOCKER_ERRBUF_SIZE >= CURL_ERROR_SIZE, "the client's error buffer is smaller than libcurl's");

static int64_t
deadline(const struct docker *dk)
{
	return dk->cancel ? __atomic_load_n(&dk->cancel->deadline_ms, __ATOMIC_SEQ_CST) : 0;
}

bool
docker_cancelled(const struct docker *dk)
{
	struct docker_cancel *c = dk->cancel;
	struct pollfd p;
	int64_t d;
	char si[128]; /* struct signalfd_siginfo */
	int n = 0;

	if (!c || c->fd < 0)
		return false;
	d = deadline(dk);
	if (d && util_now_ms() >= d)
		return true;
	if (c->pass > 0 && __atomic_load_n(&c->seen, __ATOMIC_SEQ_CST) > c->pass)
		return true;
	p = (struct pollfd){ .fd = c->fd, .events = POLLIN };
	if (poll(&p, 1, 0) <= 0)
		return false;
	if (c->pass == 0)
		return true;
	while (read(c->fd, si, sizeof(si)) == (ssize_t)sizeof(si))
		n++;
	if (__atomic_add_fetch(&c->seen, n, __ATOMIC_SEQ_CST) > c->pass)
		return true;
	/* A signal let through: the calls still run, but not past grace. */
	d = util_now_ms() + c->grace_ms;
	for (int64_t cur = deadline(dk); !cur || cur > d;)
		if (__atomic_compare_exchange_n(&c->deadline_ms, &cur, d, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
			break;
	return false;
}

/* libcurl calls this while a call waits, at least once a second even when
 * nothing moves: the moment to give up on a call the user interrupted. */
static int
xferinfo_cb(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	const struct docker *dk = ud;

	(void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	return docker_cancelled(dk) ? 1 : 0;
}

void
docker_curl_setup(const struct docker *dk, void *h)
{
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)DOCKER_CONNECT_TIMEOUT);
	/* A proxy from the environment must never see engine traffic. */
	curl_easy_setopt(h, CURLOPT_PROXY, "");
	if (dk->cancel && dk->cancel->fd >= 0) {
		curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, xferinfo_cb);
		curl_easy_setopt(h, CURLOPT_XFERINFODATA, (void *)dk);
	}
	if (dk->unix_path)
		curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, dk->unix_path);
	if (dk->tls) {
		if (dk->cert)
			curl_easy_setopt(h, CURLOPT_SSLCERT, dk->cert);
		if (dk->key)
			curl_easy_setopt(h, CURLOPT_SSLKEY, dk->key);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, dk->tls_verify ? 1L : 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, dk->tls_verify ? 2L : 0L);
		/* Without ca.pem the system's store verifies the engine. */
		if (dk->tls_verify && dk->ca)
			curl_easy_setopt(h, CURLOPT_CAINFO, dk->ca);
	}
}

static size_t
write_cb(char *p, size_t size, size_t nmemb, void *ud)
{
	struct docker_call *c = ud;
	size_t n = size * nmemb;

	if (c->sink) {
		long st = 0;

		curl_easy_getinfo(c->dk->curl, CURLINFO_RESPONSE_CODE, &st);
		if (st >= 200 && st < 300) {
			if (c->sink(c->ctx, p, n) < 0) {
				c->sink_failed = true;
				return 0;
			}
			return n;
		}
	}
	if (buf_append(&c->body, p, n) < 0) {
		c->too_big = true;
		return 0;
	}
	return n;
}

/* Only the Api-Version header is of interest (on /_ping). */
static size_t
header_cb(char *p, size_t size, size_t nmemb, void *ud)
{
	struct docker_call *c = ud;
	size_t n = size * nmemb;
	static const char name[] = "api-version:";
	static const char libpod[] = "libpod-api-version:";
	size_t i = sizeof(name) - 1, j = 0;

	if (n >= sizeof(libpod) - 1 && strncasecmp(p, libpod, sizeof(libpod) - 1) == 0)
		c->libpod_header = true;
	if (n > i && strncasecmp(p, name, i) == 0) {
		while (i < n && (p[i] == ' ' || p[i] == '\t'))
			i++;
		while (i < n && j + 1 < sizeof(c->api_header) && (isdigit((unsigned char)p[i]) || p[i] == '.'))
			c->api_header[j++] = p[i++];
		c->api_header[j] = '\0';
	}
	return n;
}

/* The request body from c->source, chunk by chunk. */
static size_t
read_cb(char *p, size_t size, size_t nmemb, void *ud)
{
	struct docker_call *c = ud;
	ssize_t n = c->source(c->source_ctx, p, size * nmemb);

	if (n < 0) {
		c->source_failed = true;
		return CURL_READFUNC_ABORT;
	}
	return (size_t)n;
}

void
docker_call_init(struct docker_call *c, struct docker *dk, long timeout_ms)
{
	memset(c, 0, sizeof(*c));
	c->dk = dk;
	c->timeout_ms = timeout_ms;
	buf_init(&c->body, DOCKER_REPLY_MAX);
}

void
docker_call_release(struct docker_call *c)
{
	buf_release(&c->body);
}

/* The call's whole limit in *limit: its own, or less when the client's
 * deadline is nearer (0: none). -1 when the call is interrupted or out of
 * time before it starts. */
static int
call_limit(struct docker_call *c, const char *method, const char *path, long *limit, struct error **err)
{
	struct docker *dk = c->dk;

	*limit = c->timeout_ms;
	if (docker_cancelled(dk))
		return error_set(err, EXIT_INTERRUPTED, "docker: %s %s: interrupted", method, path);
	if (deadline(dk)) {
		int64_t left = deadline(dk) - util_now_ms();

		if (left <= 0)
			return error_set(err, EXIT_INTERNAL, "docker: %s %s: out of time", method, path);
		if (*limit == 0 || left < *limit)
			*limit = (long)left;
	}
	return 0;
}

/* The method and its body on the handle: c->source's, streamed; a POST's
 * JSON (or none); nothing for the others. Returns the headers to free once
 * the call is over (NULL: none). */
static struct curl_slist *
set_body(struct docker_call *c, const char *method, const char *json)
{
	CURL *h = c->dk->curl;
	struct curl_slist *hdrs = NULL;

	if (c->source) {
		/* Streamed: chunked, so its size need not be known up front. */
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, read_cb);
		curl_easy_setopt(h, CURLOPT_READDATA, c);
		if (strcmp(method, "PUT") != 0)
			curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
		hdrs = curl_slist_append(hdrs, "Expect:");
		hdrs = curl_slist_append(hdrs, "Transfer-Encoding: chunked");
		if (hdrs && c->content_type) {
			cleanup_free char *ct = xasprintf("Content-Type: %s", c->content_type);

			hdrs = curl_slist_append(hdrs, ct);
		}
		if (!hdrs)
			abort();
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	} else if (strcmp(method, "POST") == 0) {
		/* Always a Content-Length, even 0: some endpoints insist. */
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, json ? json : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)(json ? strlen(json) : 0));
		hdrs = curl_slist_append(hdrs, "Expect:");
		if (json)
			hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
		if (!hdrs)
			abort();
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	} else if (strcmp(method, "GET") != 0) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	}
	return hdrs;
}

/* What a finished transfer (rc, under limit) means: 0 with c->status when
 * a reply came; else the error of the reply's cap, the body's source or
 * sink, the user, the time limit or the connection. */
static int
call_result(struct docker_call *c, const char *method, const char *path, CURLcode rc, long limit,
	    struct error **err)
{
	struct docker *dk = c->dk;

	if (c->too_big)
		return error_set(err, EXIT_INTERNAL, "docker: %s %s: reply larger than %zu bytes", method, path, c->body.max);
	if (c->source_failed)
		return error_set(err, EXIT_INTERNAL, "docker: %s %s: the request body could not be read", method, path);
	if (c->sink_failed)
		return error_set(err, EXIT_INTERNAL, "docker: %s %s: reply is not what was expected", method, path);
	if (rc == CURLE_COULDNT_CONNECT) {
		/* curl's text names "localhost port 80" even for a unix socket;
		 * the errno says what is wrong (no socket, no permission). */
		long os_errno = 0;

		curl_easy_getinfo(dk->curl, CURLINFO_OS_ERRNO, &os_errno);
		if (os_errno)
			snprintf(dk->errbuf, sizeof(dk->errbuf), "connect: %s", strerror((int)os_errno));
	}
	if (rc == CURLE_ABORTED_BY_CALLBACK)
		return error_set(err, EXIT_INTERRUPTED, "docker: %s %s: interrupted", method, path);
	if (rc == CURLE_OPERATION_TIMEDOUT && limit > 0) {
		c->timed_out = limit == c->timeout_ms;
		return error_set(err, EXIT_INTERNAL, "docker: %s %s: no reply from the engine at %s within %ld s", method,
				 path, dk->host, (limit + 999) / 1000);
	}
	if (rc != CURLE_OK) {
		if (!dk->errbuf[0])
			snprintf(dk->errbuf, sizeof(dk->errbuf), "%s", curl_easy_strerror(rc));
		return error_set(err, EXIT_INTERNAL, "docker: %s %s: %s", method, path, dk->errbuf);
	}
	curl_easy_getinfo(dk->curl, CURLINFO_RESPONSE_CODE, &c->status);
	return 0;
}

int
docker_call_do(struct docker_call *c, const char *method, const char *path, bool versioned, const char *json, struct error **err)
{
	struct docker *dk = c->dk;
	cleanup_free char *url = versioned ? xasprintf("%s/v%s%s", dk->base_url, dk->api, path)
					   : xasprintf("%s%s", dk->base_url, path);
	struct curl_slist *hdrs;
	long limit;
	CURLcode rc;

	if (call_limit(c, method, path, &limit, err) < 0)
		return -1;
	curl_easy_reset(dk->curl);
	docker_curl_setup(dk, dk->curl);
	dk->errbuf[0] = '\0';
	curl_easy_setopt(dk->curl, CURLOPT_ERRORBUFFER, dk->errbuf);
	curl_easy_setopt(dk->curl, CURLOPT_URL, url);
	curl_easy_setopt(dk->curl, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(dk->curl, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(dk->curl, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(dk->curl, CURLOPT_HEADERDATA, c);
	if (limit > 0)
		curl_easy_setopt(dk->curl, CURLOPT_TIMEOUT_MS, limit);
	hdrs = set_body(c, method, json);
	rc = curl_easy_perform(dk->curl);
	curl_slist_free_all(hdrs);
	return call_result(c, method, path, rc, limit, err);
}

int
docker_call_wait(struct docker_call *c, const char *method, const char *path, const char *json, struct error **err)
{
	if (docker_call_do(c, method, path, true, json, err) == 0)
		return 0;
	if (!c->timed_out)
		return -1;
	error_free(*err);
	*err = NULL;
	return 1;
}

bool
docker_call_ok(const struct docker_call *c)
{
	return c->status >= 200 && c->status < 300;
}

/* A non-2xx reply as an error: "docker: 404: No such image: foo:latest". */
int
docker_reply_error(const struct docker_call *c, int status, const char *hint, struct error **err)
{
	cleanup_free char *msg = docker_json_message(c->body.data, c->body.len);

	if (!msg) {
		/* Not the engine's JSON: a proxy or a broken engine. Show the
		 * start of the body on one line. */
		msg = xstrndup(c->body.data ? c->body.data : "", 200);
		for (char *p = msg; *p; p++)
			if (*p == '\n' || *p == '\r')
				*p = ' ';
	}
	if (hint)
		return error_set(err, status, "docker: %ld: %s (%s)", c->status, msg, hint);
	return error_set(err, status, "docker: %ld: %s", c->status, msg);
}

/* The common case: a request whose non-2xx replies are errors, except
 * `also_ok` (e.g. 404 on a removal, 304 on a start; 0 for none). */
int
docker_simple(struct docker *dk, const char *method, const char *path, const char *json, long also_ok, long timeout_ms,
       struct buf *reply, struct error **err)
{
	struct docker_call c;
	int r = 0;

	docker_call_init(&c, dk, timeout_ms);
	if (docker_call_do(&c, method, path, true, json, err) < 0)
		r = -1;
	else if (!docker_call_ok(&c) && c.status != also_ok)
		r = docker_reply_error(&c, EXIT_INTERNAL, NULL, err);
	else if (reply) {
		buf_release(reply);
		*reply = c.body;
		buf_init(&c.body, DOCKER_REPLY_MAX);
	}
	docker_call_release(&c);
	return r;
}

/* Ids and names go into paths as they are: refuse anything that could
 * change the path or the query instead of escaping it. Image references
 * contain '/' and ':' and that is how the engine expects them. */
int
docker_check_ref(const char *what, const char *s, struct error **err)
{
	if (!s || !*s)
		return error_set(err, EXIT_USAGE, "docker: empty %s", what);
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("._-/:@", *p))
			return error_set(err, EXIT_USAGE, "docker: bad %s \"%s\"", what, s);
	if (strstr(s, ".."))
		return error_set(err, EXIT_USAGE, "docker: bad %s \"%s\"", what, s);
	return 0;
}

char *
docker_escape(struct docker *dk, const char *s)
{
	char *e = curl_easy_escape(dk->curl, s, 0);
	char *r;

	if (!e)
		abort();
	r = xstrdup(e);
	curl_free(e);
	return r;
}
