/* The transport of the Docker client: where the engine is (DOCKER_HOST and
 * the TLS conventions), the negotiated API version and one blocking request
 * function. The endpoints are in docker_container.c, docker_object.c and
 * docker_stream.c; JSON in docker_json.c; the attach channel in
 * docker_attach.c. */
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "buf.h"
#include "docker_priv.h"
#include "frame.h"

#define DEFAULT_HOST "unix:///var/run/docker.sock"
#define HINT_DOCKERD "is dockerd running? scripts/setup starts one"

struct docker {
	CURL *curl;          /* REST calls only; attach gets its own handles */
	char *host;          /* as given or found, for messages */
	char *unix_path;     /* socket path, NULL for tcp */
	char *base_url;      /* see docker_base_url() */
	char *host_header;
	bool tls;
	bool tls_verify;
	char *ca, *cert, *key;   /* NULL: not used (see parse_host) */
	struct docker_cancel *cancel;  /* NULL: calls run to their limit */
	char api[16];        /* "1.41", from the engine */
	char errbuf[CURL_ERROR_SIZE];
};

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



const char *
docker_base_url(const struct docker *dk)
{
	return dk->base_url;
}

const char *
docker_host_header(const struct docker *dk)
{
	return dk->host_header;
}

const char *
docker_host(const struct docker *dk)
{
	return dk->host;
}

const char *
docker_libcurl_version(void)
{
	return curl_version_info(CURLVERSION_NOW)->version;
}

const char *
docker_api_version(const struct docker *dk)
{
	return dk->api;
}

bool
docker_is_local(const struct docker *dk)
{
	return dk->unix_path != NULL;
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
	size_t i = sizeof(name) - 1, j = 0;

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

int
docker_call_do(struct docker_call *c, const char *method, const char *path, bool versioned, const char *json, struct error **err)
{
	struct docker *dk = c->dk;
	cleanup_free char *url = versioned ? xasprintf("%s/v%s%s", dk->base_url, dk->api, path)
					   : xasprintf("%s%s", dk->base_url, path);
	struct curl_slist *hdrs = NULL;
	long limit = c->timeout_ms;
	CURLcode rc;

	if (docker_cancelled(dk))
		return error_set(err, EXIT_INTERRUPTED, "docker: %s %s: interrupted", method, path);
	if (deadline(dk)) {
		int64_t left = deadline(dk) - util_now_ms();

		if (left <= 0)
			return error_set(err, EXIT_INTERNAL, "docker: %s %s: out of time", method, path);
		if (limit == 0 || left < limit)
			limit = (long)left;
	}
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
	if (c->source) {
		/* Streamed: chunked, so its size need not be known up front. */
		curl_easy_setopt(dk->curl, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(dk->curl, CURLOPT_READFUNCTION, read_cb);
		curl_easy_setopt(dk->curl, CURLOPT_READDATA, c);
		if (strcmp(method, "PUT") != 0)
			curl_easy_setopt(dk->curl, CURLOPT_CUSTOMREQUEST, method);
		hdrs = curl_slist_append(hdrs, "Expect:");
		hdrs = curl_slist_append(hdrs, "Transfer-Encoding: chunked");
		if (hdrs && c->content_type) {
			cleanup_free char *ct = xasprintf("Content-Type: %s", c->content_type);

			hdrs = curl_slist_append(hdrs, ct);
		}
		if (!hdrs)
			abort();
		curl_easy_setopt(dk->curl, CURLOPT_HTTPHEADER, hdrs);
	} else if (strcmp(method, "POST") == 0) {
		/* Always a Content-Length, even 0: some endpoints insist. */
		curl_easy_setopt(dk->curl, CURLOPT_POST, 1L);
		curl_easy_setopt(dk->curl, CURLOPT_POSTFIELDS, json ? json : "");
		curl_easy_setopt(dk->curl, CURLOPT_POSTFIELDSIZE, (long)(json ? strlen(json) : 0));
		hdrs = curl_slist_append(hdrs, "Expect:");
		if (json)
			hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
		if (!hdrs)
			abort();
		curl_easy_setopt(dk->curl, CURLOPT_HTTPHEADER, hdrs);
	} else if (strcmp(method, "GET") != 0) {
		curl_easy_setopt(dk->curl, CURLOPT_CUSTOMREQUEST, method);
	}
	rc = curl_easy_perform(dk->curl);
	curl_slist_free_all(hdrs);
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

/* path when it names a file, else NULL; path is consumed either way. */
static char *
existing(char *path)
{
	struct stat st;

	if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
		return path;
	free(path);
	return NULL;
}

static int
parse_host(struct docker *dk, const char *host, struct error **err)
{
	if (strncmp(host, "unix://", 7) == 0) {
		if (host[7] != '/')
			return error_set(err, EXIT_USAGE, "docker: bad host \"%s\": want unix:///path", host);
		dk->unix_path = xstrdup(host + 7);
		/* The host part of the URL is ignored over a unix socket. */
		dk->base_url = xstrdup("http://localhost");
		dk->host_header = xstrdup("localhost");
		return 0;
	}
	if (strncmp(host, "tcp://", 6) == 0) {
		const char *tls = getenv("DOCKER_TLS");
		const char *verify = getenv("DOCKER_TLS_VERIFY");
		const char *dir = getenv("DOCKER_CERT_PATH");
		const char *home = getenv("HOME");
		cleanup_free char *hp = xstrdup(host + 6);
		cleanup_free char *certdir = NULL;
		char *slash = strchr(hp, '/');
		const char *colon;

		if (slash)
			*slash = '\0';
		if (!*hp)
			return error_set(err, EXIT_USAGE, "docker: bad host \"%s\": want tcp://host:port", host);
		/* Docker's conventions: any non-empty DOCKER_TLS_VERIFY means
		 * TLS with the server verified against ca.pem; DOCKER_TLS alone
		 * means TLS without verification. */
		dk->tls_verify = verify && *verify;
		dk->tls = dk->tls_verify || (tls && *tls);
		colon = strrchr(hp, ':');
		if (colon && strchr(colon, ']'))
			colon = NULL; /* "[::1]" without a port */
		dk->host_header = colon ? xstrdup(hp) : xasprintf("%s:%d", hp, dk->tls ? 2376 : 2375);
		dk->base_url = xasprintf("%s://%s", dk->tls ? "https" : "http", dk->host_header);
		if (dk->tls) {
			if (dir && *dir)
				certdir = xstrdup(dir);
			else
				certdir = xasprintf("%s/.docker", home ? home : "");
			/* As the docker CLI: a file of the certificate
			 * directory that is not there is not used (TLS with
			 * no client certificate, the system's CAs), but a
			 * certificate without its key is a mistake. */
			dk->ca = existing(xasprintf("%s/ca.pem", certdir));
			dk->cert = existing(xasprintf("%s/cert.pem", certdir));
			dk->key = existing(xasprintf("%s/key.pem", certdir));
			if (!dk->cert != !dk->key)
				return error_set(err, EXIT_USAGE, "docker: %s/%s without %s: a client certificate needs both",
						 certdir, dk->cert ? "cert.pem" : "key.pem", dk->cert ? "key.pem" : "cert.pem");
		}
		return 0;
	}
	return error_set(err, EXIT_USAGE, "docker: unsupported host \"%s\": want unix:// or tcp://", host);
}

static bool
version_ok(const char *v)
{
	int major, minor;
	char end;

	return sscanf(v, "%d.%d%c", &major, &minor, &end) == 2 && major >= 1 && minor >= 0;
}

/* GET /_ping proves the engine is there and its Api-Version header says
 * which API it speaks; old engines without the header answer GET /version. */
static int
negotiate(struct docker *dk, struct error **err)
{
	struct docker_call c;
	cleanup_free char *v = NULL;
	int r = 0;

	docker_call_init(&c, dk, DOCKER_TIMEOUT_QUICK_MS);
	if (docker_call_do(&c, "GET", "/_ping", false, NULL, err) < 0) {
		error_free(*err);
		*err = NULL;
		docker_call_release(&c);
		return error_set(err, EXIT_INTERNAL, "docker: cannot reach the engine at %s: %s (%s)", dk->host,
				 dk->errbuf, HINT_DOCKERD);
	}
	if (!docker_call_ok(&c)) {
		docker_reply_error(&c, EXIT_INTERNAL, NULL, err);
		docker_call_release(&c);
		return error_wrap(err, "engine at %s: ping", dk->host);
	}
	if (c.api_header[0] && version_ok(c.api_header)) {
		snprintf(dk->api, sizeof(dk->api), "%s", c.api_header);
		docker_call_release(&c);
		return 0;
	}
	buf_reset(&c.body);
	if (docker_call_do(&c, "GET", "/version", false, NULL, err) < 0)
		r = -1;
	else if (!docker_call_ok(&c))
		r = docker_reply_error(&c, EXIT_INTERNAL, NULL, err);
	else if (docker_json_string(c.body.data, c.body.len, "ApiVersion", "version", &v, err) < 0)
		r = -1;
	else if (!version_ok(v) || strlen(v) >= sizeof(dk->api))
		r = error_set(err, EXIT_INTERNAL, "docker: bad API version \"%s\"", v);
	else
		snprintf(dk->api, sizeof(dk->api), "%s", v);
	docker_call_release(&c);
	if (r < 0)
		return error_wrap(err, "engine at %s", dk->host);
	return r;
}

int
docker_ping(struct docker *dk, long timeout_ms, struct error **err)
{
	struct docker_call c;
	int rc = 0;

	docker_call_init(&c, dk, timeout_ms);
	if (docker_call_do(&c, "GET", "/_ping", false, NULL, err) < 0)
		rc = -1;
	else if (!docker_call_ok(&c))
		rc = docker_reply_error(&c, EXIT_INTERNAL, NULL, err);
	docker_call_release(&c);
	return rc < 0 ? error_wrap(err, "engine at %s", dk->host) : 0;
}

struct docker *
docker_new(const char *host, struct docker_cancel *cancel, struct error **err)
{
	struct docker *dk = xcalloc(1, sizeof(*dk));

	if (!host) {
		host = getenv("DOCKER_HOST");
		if (!host || !*host)
			host = DEFAULT_HOST;
	}
	dk->host = xstrdup(host);
	dk->cancel = cancel;
	dk->curl = curl_easy_init();
	if (!dk->curl) {
		error_set(err, EXIT_INTERNAL, "docker: cannot initialise libcurl");
		goto fail;
	}
	if (parse_host(dk, host, err) < 0 || negotiate(dk, err) < 0)
		goto fail;
	return dk;
fail:
	docker_free(dk);
	return NULL;
}

struct docker *
docker_clone(const struct docker *dk, struct error **err)
{
	struct docker *c = xcalloc(1, sizeof(*c));

	c->host = xstrdup(dk->host);
	c->cancel = dk->cancel;
	c->curl = curl_easy_init();
	if (!c->curl) {
		docker_free(c);
		error_set(err, EXIT_INTERNAL, "docker: cannot initialise libcurl");
		return NULL;
	}
	if (parse_host(c, c->host, err) < 0) {
		docker_free(c);
		return NULL;
	}
	memcpy(c->api, dk->api, sizeof(c->api));
	return c;
}

int
docker_cancel_fd(const struct docker *dk)
{
	return dk->cancel ? dk->cancel->fd : -1;
}

void
docker_free(struct docker *dk)
{
	if (!dk)
		return;
	if (dk->curl)
		curl_easy_cleanup(dk->curl);
	free(dk->host);
	free(dk->unix_path);
	free(dk->base_url);
	free(dk->host_header);
	free(dk->ca);
	free(dk->cert);
	free(dk->key);
	free(dk);
}

