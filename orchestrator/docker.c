/* The REST side of the Docker client: where the engine is (DOCKER_HOST and
 * the TLS conventions), the negotiated API version, one blocking request
 * function, and the endpoints of docker.h on top of it. JSON is built and
 * parsed in docker_json.c; the attach channel lives in docker_attach.c. */
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
#define HINT_IMAGE "build it with images/build or docker build"

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

/* One request in flight: where its body goes and what came back. */
struct call {
	struct docker *dk;
	long status;
	struct buf body;
	/* Optional consumer of a 2xx body (logs), instead of `body`; error
	 * replies still land in `body` so their message can be read. */
	int (*sink)(void *ctx, const char *data, size_t len);
	void *ctx;
	bool too_big;
	bool sink_failed;
	bool timed_out;         /* the call's own limit passed */
	long timeout_ms;        /* whole call; 0: no limit */
	char api_header[16];
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
	struct call *c = ud;
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
	struct call *c = ud;
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

static void
call_init(struct call *c, struct docker *dk, long timeout_ms)
{
	memset(c, 0, sizeof(*c));
	c->dk = dk;
	c->timeout_ms = timeout_ms;
	buf_init(&c->body, DOCKER_REPLY_MAX);
}

static void
call_release(struct call *c)
{
	buf_release(&c->body);
}

/* Performs method on path (versioned: prefixed with /v<api>) with an optional
 * JSON body. Returns 0 when a reply arrived, whatever its status (in
 * c->status); -1 when there was none or it broke the cap. */
static int
call_do(struct call *c, const char *method, const char *path, bool versioned, const char *json, struct error **err)
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
	if (strcmp(method, "POST") == 0) {
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

static bool
ok(const struct call *c)
{
	return c->status >= 200 && c->status < 300;
}

/* A non-2xx reply as an error: "docker: 404: No such image: foo:latest". */
static int
reply_error(const struct call *c, int status, const char *hint, struct error **err)
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
static int
simple(struct docker *dk, const char *method, const char *path, const char *json, long also_ok, long timeout_ms,
       struct buf *reply, struct error **err)
{
	struct call c;
	int r = 0;

	call_init(&c, dk, timeout_ms);
	if (call_do(&c, method, path, true, json, err) < 0)
		r = -1;
	else if (!ok(&c) && c.status != also_ok)
		r = reply_error(&c, EXIT_INTERNAL, NULL, err);
	else if (reply) {
		buf_release(reply);
		*reply = c.body;
		buf_init(&c.body, DOCKER_REPLY_MAX);
	}
	call_release(&c);
	return r;
}

/* Ids and names go into paths as they are: refuse anything that could
 * change the path or the query instead of escaping it. Image references
 * contain '/' and ':' and that is how the engine expects them. */
static int
check_ref(const char *what, const char *s, struct error **err)
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

static char *
escape(struct docker *dk, const char *s)
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
	struct call c;
	cleanup_free char *v = NULL;
	int r = 0;

	call_init(&c, dk, DOCKER_TIMEOUT_QUICK_MS);
	if (call_do(&c, "GET", "/_ping", false, NULL, err) < 0) {
		error_free(*err);
		*err = NULL;
		call_release(&c);
		return error_set(err, EXIT_INTERNAL, "docker: cannot reach the engine at %s: %s (%s)", dk->host,
				 dk->errbuf, HINT_DOCKERD);
	}
	if (!ok(&c)) {
		reply_error(&c, EXIT_INTERNAL, NULL, err);
		call_release(&c);
		return error_wrap(err, "engine at %s: ping", dk->host);
	}
	if (c.api_header[0] && version_ok(c.api_header)) {
		snprintf(dk->api, sizeof(dk->api), "%s", c.api_header);
		call_release(&c);
		return 0;
	}
	buf_reset(&c.body);
	if (call_do(&c, "GET", "/version", false, NULL, err) < 0)
		r = -1;
	else if (!ok(&c))
		r = reply_error(&c, EXIT_INTERNAL, NULL, err);
	else if (docker_json_string(c.body.data, c.body.len, "ApiVersion", "version", &v, err) < 0)
		r = -1;
	else if (!version_ok(v) || strlen(v) >= sizeof(dk->api))
		r = error_set(err, EXIT_INTERNAL, "docker: bad API version \"%s\"", v);
	else
		snprintf(dk->api, sizeof(dk->api), "%s", v);
	call_release(&c);
	if (r < 0)
		return error_wrap(err, "engine at %s", dk->host);
	return r;
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

int
docker_info_ncpu(struct docker *dk, int *ncpu, struct error **err)
{
	struct buf reply;
	int64_t n = 0;
	int r;

	buf_init(&reply, DOCKER_REPLY_MAX);
	r = simple(dk, "GET", "/info", NULL, 0, DOCKER_TIMEOUT_QUICK_MS, &reply, err);
	if (r == 0)
		r = docker_json_int(reply.data, reply.len, "NCPU", "info", &n, err);
	buf_release(&reply);
	if (r < 0)
		return r;
	if (n < 1 || n > 1 << 20)
		return error_set(err, EXIT_INTERNAL, "docker: info: NCPU %lld", (long long)n);
	*ncpu = (int)n;
	return 0;
}

int
docker_container_create(struct docker *dk, const struct docker_container_spec *spec, char **id, struct error **err)
{
	cleanup_free char *body = NULL;
	cleanup_free char *path = NULL;
	cleanup_free char *name = NULL;
	struct call c;
	int r = 0;

	if (!spec->image || !*spec->image)
		return error_set(err, EXIT_USAGE, "docker: create: no image");
	body = docker_json_create_body(spec);
	if (spec->name) {
		name = escape(dk, spec->name);
		path = xasprintf("/containers/create?name=%s", name);
	} else {
		path = xstrdup("/containers/create");
	}
	call_init(&c, dk, DOCKER_TIMEOUT_SLOW_MS);
	if (call_do(&c, "POST", path, true, body, err) < 0) {
		r = -1;
	} else if (c.status == 404) {
		/* The only 404 of create is a missing image (a missing network
		 * is a 404 too, but at start): the user's fix is a build. */
		cleanup_free char *msg = docker_json_message(c.body.data, c.body.len);
		bool image = msg && strncasecmp(msg, "no such image", 13) == 0;

		r = reply_error(&c, image ? EXIT_USAGE : EXIT_INTERNAL, image ? HINT_IMAGE : NULL, err);
	} else if (!ok(&c)) {
		r = reply_error(&c, EXIT_INTERNAL, NULL, err);
	} else {
		r = docker_json_string(c.body.data, c.body.len, "Id", "create", id, err);
	}
	call_release(&c);
	return r;
}

int
docker_container_start(struct docker *dk, const char *id, struct error **err)
{
	cleanup_free char *path = NULL;

	if (check_ref("container id", id, err) < 0)
		return -1;
	path = xasprintf("/containers/%s/start", id);
	/* 304: already started, which is what was asked. */
	return simple(dk, "POST", path, NULL, 304, DOCKER_TIMEOUT_SLOW_MS, NULL, err);
}

int
docker_container_wait(struct docker *dk, const char *id, long timeout_ms, int *status, struct error **err)
{
	cleanup_free char *path = NULL;
	struct call c;
	int64_t code = 0;
	int r = 0;

	if (check_ref("container id", id, err) < 0)
		return -1;
	path = xasprintf("/containers/%s/wait", id);
	call_init(&c, dk, timeout_ms);
	if (call_do(&c, "POST", path, true, NULL, err) < 0) {
		if (c.timed_out) {
			/* The container outlived the limit: the caller's to judge. */
			error_free(*err);
			*err = NULL;
			r = 1;
		} else {
			r = -1;
		}
	} else if (!ok(&c)) {
		r = reply_error(&c, EXIT_INTERNAL, NULL, err);
	} else if (docker_json_int(c.body.data, c.body.len, "StatusCode", "wait", &code, err) < 0) {
		r = -1;
	} else if (code < -1 || code > 255) {
		r = error_set(err, EXIT_INTERNAL, "docker: wait: exit code %lld", (long long)code);
	} else {
		*status = (int)code;
	}
	call_release(&c);
	return r;
}

int
docker_container_kill(struct docker *dk, const char *id, const char *signal, struct error **err)
{
	cleanup_free char *path = NULL;
	cleanup_free char *sig = NULL;

	if (check_ref("container id", id, err) < 0)
		return -1;
	sig = escape(dk, signal ? signal : "SIGKILL");
	path = xasprintf("/containers/%s/kill?signal=%s", id, sig);
	/* 409: not running. Killing races with the container exiting by
	 * itself; either way it is not running afterwards. */
	return simple(dk, "POST", path, NULL, 409, DOCKER_TIMEOUT_QUICK_MS, NULL, err);
}

int
docker_container_remove(struct docker *dk, const char *id, bool force, struct error **err)
{
	cleanup_free char *path = NULL;

	if (check_ref("container id", id, err) < 0)
		return -1;
	path = xasprintf("/containers/%s?v=1&force=%d", id, force ? 1 : 0);
	return simple(dk, "DELETE", path, NULL, 404, DOCKER_TIMEOUT_SLOW_MS, NULL, err);
}

int
docker_container_inspect(struct docker *dk, const char *id, const char *port, struct docker_container_state *st,
			 struct error **err)
{
	cleanup_free char *path = NULL;
	struct buf reply;
	int r;

	if (check_ref("container id", id, err) < 0)
		return -1;
	path = xasprintf("/containers/%s/json", id);
	buf_init(&reply, DOCKER_REPLY_MAX);
	r = simple(dk, "GET", path, NULL, 0, DOCKER_TIMEOUT_QUICK_MS, &reply, err);
	if (r == 0)
		r = docker_parse_inspect(reply.data, reply.len, port, st, err);
	buf_release(&reply);
	return r;
}

/* Logs: frames go through the demultiplexer into a buffer that keeps the
 * last `max` bytes. The buffer may hold up to 2*max so the front is cut
 * once per max bytes, not on every piece. */
struct tail {
	struct frame_demux demux;
	struct buf out;
	size_t max;
};

static int
tail_sink_cb(void *ctx, enum frame_stream stream, const char *data, size_t len)
{
	struct tail *t = ctx;

	(void)stream;
	if (len > t->max) {
		data += len - t->max;
		len = t->max;
	}
	if (t->out.len + len > 2 * t->max)
		buf_consume(&t->out, t->out.len + len - t->max);
	buf_append(&t->out, data, len);
	return 0;
}

static int
tail_feed_cb(void *ctx, const char *data, size_t len)
{
	struct tail *t = ctx;

	return frame_demux_feed(&t->demux, data, len, tail_sink_cb, t);
}

int
docker_container_logs(struct docker *dk, const char *id, size_t max, char **out, struct error **err)
{
	cleanup_free char *path = NULL;
	struct tail t;
	struct call c;
	int r = 0;

	if (check_ref("container id", id, err) < 0)
		return -1;
	path = xasprintf("/containers/%s/logs?stdout=1&stderr=1", id);
	frame_demux_init(&t.demux);
	t.max = max;
	buf_init(&t.out, max > SIZE_MAX / 2 ? SIZE_MAX : 2 * max);
	call_init(&c, dk, DOCKER_TIMEOUT_SLOW_MS);
	c.sink = tail_feed_cb;
	c.ctx = &t;
	if (call_do(&c, "GET", path, true, NULL, err) < 0)
		r = -1;
	else if (!ok(&c))
		r = reply_error(&c, EXIT_INTERNAL, NULL, err);
	call_release(&c);
	if (r < 0) {
		buf_release(&t.out);
		return r;
	}
	if (t.out.len > max)
		buf_consume(&t.out, t.out.len - max);
	*out = buf_steal(&t.out);
	return 0;
}

int
docker_image_exists(struct docker *dk, const char *image, bool *exists, struct error **err)
{
	cleanup_free char *path = NULL;
	struct call c;
	int r = 0;

	if (check_ref("image", image, err) < 0)
		return -1;
	path = xasprintf("/images/%s/json", image);
	call_init(&c, dk, DOCKER_TIMEOUT_QUICK_MS);
	if (call_do(&c, "GET", path, true, NULL, err) < 0)
		r = -1;
	else if (ok(&c))
		*exists = true;
	else if (c.status == 404)
		*exists = false;
	else
		r = reply_error(&c, EXIT_INTERNAL, NULL, err);
	call_release(&c);
	return r;
}

int
docker_image_id(struct docker *dk, const char *image, char **id, struct error **err)
{
	cleanup_free char *path = NULL;
	struct buf reply;
	int r;

	if (check_ref("image", image, err) < 0)
		return -1;
	path = xasprintf("/images/%s/json", image);
	buf_init(&reply, DOCKER_REPLY_MAX);
	r = simple(dk, "GET", path, NULL, 0, DOCKER_TIMEOUT_QUICK_MS, &reply, err);
	if (r == 0)
		r = docker_json_string(reply.data, reply.len, "Id", "image inspect", id, err);
	buf_release(&reply);
	return r;
}

int
docker_network_create(struct docker *dk, const char *name, const char *const *labels, char **id, struct error **err)
{
	cleanup_free char *body = docker_json_network_create_body(name, labels);
	struct buf reply;
	int r;

	buf_init(&reply, DOCKER_REPLY_MAX);
	r = simple(dk, "POST", "/networks/create", body, 0, DOCKER_TIMEOUT_QUICK_MS, &reply, err);
	if (r == 0)
		r = docker_json_string(reply.data, reply.len, "Id", "network create", id, err);
	buf_release(&reply);
	return r;
}

int
docker_network_remove(struct docker *dk, const char *id, struct error **err)
{
	cleanup_free char *path = NULL;

	if (check_ref("network", id, err) < 0)
		return -1;
	path = xasprintf("/networks/%s", id);
	return simple(dk, "DELETE", path, NULL, 404, DOCKER_TIMEOUT_QUICK_MS, NULL, err);
}

int
docker_network_connect(struct docker *dk, const char *net, const char *container, const char *const *aliases,
		       struct error **err)
{
	cleanup_free char *path = NULL;
	cleanup_free char *body = NULL;

	if (check_ref("network", net, err) < 0)
		return -1;
	path = xasprintf("/networks/%s/connect", net);
	body = docker_json_network_connect_body(container, aliases);
	return simple(dk, "POST", path, body, 0, DOCKER_TIMEOUT_QUICK_MS, NULL, err);
}

int
docker_network_disconnect(struct docker *dk, const char *net, const char *container, struct error **err)
{
	cleanup_free char *path = NULL;
	cleanup_free char *body = NULL;

	if (check_ref("network", net, err) < 0)
		return -1;
	path = xasprintf("/networks/%s/disconnect", net);
	body = docker_json_network_disconnect_body(container);
	return simple(dk, "POST", path, body, 0, DOCKER_TIMEOUT_QUICK_MS, NULL, err);
}

static int
list(struct docker *dk, const char *kind, const char *what, const char *filter_label, const char *want_label,
     struct docker_list *out, struct error **err)
{
	cleanup_free char *filter = NULL;
	cleanup_free char *escaped = NULL;
	cleanup_free char *path = NULL;
	struct buf reply;
	int r;

	out->items = NULL;
	out->n = 0;
	if (filter_label) {
		filter = docker_json_label_filter(filter_label);
		escaped = escape(dk, filter);
	}
	if (escaped)
		path = xasprintf("/%s%sfilters=%s", what, strchr(what, '?') ? "&" : "?", escaped);
	else
		path = xasprintf("/%s", what);
	buf_init(&reply, DOCKER_REPLY_MAX);
	r = simple(dk, "GET", path, NULL, 0, DOCKER_TIMEOUT_QUICK_MS, &reply, err);
	if (r == 0)
		r = docker_parse_list(reply.data, reply.len, kind, want_label, out, err);
	buf_release(&reply);
	return r;
}

int
docker_container_list(struct docker *dk, const char *filter_label, const char *want_label, struct docker_list *out,
		      struct error **err)
{
	return list(dk, "containers", "containers/json?all=1", filter_label, want_label, out, err);
}

int
docker_network_list(struct docker *dk, const char *filter_label, const char *want_label, struct docker_list *out,
		    struct error **err)
{
	return list(dk, "networks", "networks", filter_label, want_label, out, err);
}

int
docker_volume_list(struct docker *dk, const char *filter_label, const char *want_label, struct docker_list *out,
		   struct error **err)
{
	return list(dk, "volumes", "volumes", filter_label, want_label, out, err);
}

int
docker_volume_remove(struct docker *dk, const char *name, struct error **err)
{
	cleanup_free char *path = NULL;

	if (check_ref("volume", name, err) < 0)
		return -1;
	path = xasprintf("/volumes/%s", name);
	/* Already gone is what was asked, as for containers and networks. */
	return simple(dk, "DELETE", path, NULL, 404, DOCKER_TIMEOUT_SLOW_MS, NULL, err);
}
