/* The Docker client: where the engine is (DOCKER_HOST and the TLS
 * conventions), the API version negotiated with it, and the client's life
 * (new, clone, free). One call on the client is docker_call.c's; the
 * endpoints are in docker_container.c, docker_object.c and
 * docker_stream.c; JSON in docker_json.c; the attach channel in
 * docker_attach.c. */
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "buf.h"
#include "docker_priv.h"

#define DEFAULT_HOST "unix:///var/run/docker.sock"
#define HINT_DOCKERD "is dockerd running? scripts/setup starts one"

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
docker_is_podman(const struct docker *dk)
{
	return dk->podman;
}

bool
docker_is_local(const struct docker *dk)
{
	return dk->unix_path != NULL;
}

const char *
docker_address(const struct docker *dk)
{
	return dk->addr[0] ? dk->addr : "127.0.0.1";
}

/* The address the last call reached a tcp:// engine at, unless it is
 * loopback (published ports stay on 127.0.0.1 there, as on a local
 * engine). */
static void
learn_address(struct docker *dk)
{
	char *ip = NULL;

	if (dk->unix_path || curl_easy_getinfo(dk->curl, CURLINFO_PRIMARY_IP, &ip) != CURLE_OK || !ip ||
	    !*ip || strncmp(ip, "127.", 4) == 0 || strcmp(ip, "::1") == 0 || strlen(ip) >= sizeof(dk->addr))
		return;
	snprintf(dk->addr, sizeof(dk->addr), "%s", ip);
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

/* A tcp:// address; ep's own TLS settings, when given, instead of the
 * variables. */
static int
parse_tcp(struct docker *dk, const char *host, const struct docker_endpoint *ep, struct error **err)
{
	const char *tls = getenv("DOCKER_TLS");
	const char *verify = getenv("DOCKER_TLS_VERIFY");
	const char *dir = ep->own_tls ? ep->certs : getenv("DOCKER_CERT_PATH");
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
	if (ep->own_tls) {
		dk->tls = true;
		dk->tls_verify = !ep->skip_verify;
	} else {
		dk->tls_verify = verify && *verify;
		dk->tls = dk->tls_verify || (tls && *tls);
	}
	colon = strrchr(hp, ':');
	if (colon && strchr(colon, ']'))
		colon = NULL; /* "[::1]" without a port */
	dk->host_header = colon ? xstrdup(hp) : xasprintf("%s:%d", hp, dk->tls ? 2376 : 2375);
	dk->base_url = xasprintf("%s://%s", dk->tls ? "https" : "http", dk->host_header);
	if (!dk->tls)
		return 0;
	if (dir && strncmp(dir, "~/", 2) == 0 && ep->own_tls)
		certdir = xasprintf("%s/%s", home ? home : "", dir + 2);  /* not expanded by the shell after '=' */
	else if (dir && *dir)
		certdir = xstrdup(dir);
	else
		certdir = xasprintf("%s/.docker", home ? home : "");
	/* As the docker CLI: a file of the certificate directory that is
	 * not there is not used (TLS with no client certificate, the
	 * system's CAs), but a certificate without its key is a mistake;
	 * so is a certs= directory that is not there. */
	if (ep->certs) {
		struct stat st;

		if (stat(certdir, &st) < 0 || !S_ISDIR(st.st_mode))
			return error_set(err, EXIT_USAGE, "docker: %s: certs=%s is no directory", host, ep->certs);
	}
	dk->ca = existing(xasprintf("%s/ca.pem", certdir));
	dk->cert = existing(xasprintf("%s/cert.pem", certdir));
	dk->key = existing(xasprintf("%s/key.pem", certdir));
	if (!dk->cert != !dk->key)
		return error_set(err, EXIT_USAGE, "docker: %s/%s without %s: a client certificate needs both", certdir,
				 dk->cert ? "cert.pem" : "key.pem", dk->cert ? "key.pem" : "cert.pem");
	return 0;
}

int
docker_endpoint_parse(const char *host, struct docker_endpoint *ep, struct error **err)
{
	const char *comma = strchr(host, ',');
	cleanup_free char *opts = comma ? xstrdup(comma + 1) : NULL;
	char *save = NULL;

	memset(ep, 0, sizeof(*ep));
	ep->addr = comma ? xstrndup(host, (size_t)(comma - host)) : xstrdup(host);
	if (!comma)
		return 0;
	if (strncmp(ep->addr, "tcp://", 6) != 0) {
		error_set(err, EXIT_USAGE, "docker: \"%s\": TLS settings are for a tcp:// engine", host);
		goto fail;
	}
	ep->own_tls = true;
	for (char *o = strtok_r(opts, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
		if (strncmp(o, "certs=", 6) == 0 && o[6] && !ep->certs) {
			ep->certs = xstrdup(o + 6);
		} else if (strcmp(o, "skip-tls-verify=true") == 0 || strcmp(o, "skip-tls-verify=false") == 0) {
			ep->skip_verify = o[16] == 't';
		} else {
			error_set(err, EXIT_USAGE,
				  "docker: \"%s\": unknown setting \"%s\" (want certs=DIR or skip-tls-verify=true)", host, o);
			goto fail;
		}
	}
	if (!ep->certs && !ep->skip_verify) {
		error_set(err, EXIT_USAGE, "docker: \"%s\": want certs=DIR or skip-tls-verify=true after the address",
			  host);
		goto fail;
	}
	return 0;
fail:
	docker_endpoint_release(ep);
	return -1;
}

void
docker_endpoint_release(struct docker_endpoint *ep)
{
	free(ep->addr);
	free(ep->certs);
	memset(ep, 0, sizeof(*ep));
}

static int
parse_host(struct docker *dk, const char *given, struct error **err)
{
	struct docker_endpoint ep;
	const char *host;
	int rc;

	if (docker_endpoint_parse(given, &ep, err) < 0)
		return -1;
	host = ep.addr;
	rc = 0;
	if (strncmp(host, "unix://", 7) == 0) {
		if (host[7] != '/') {
			rc = error_set(err, EXIT_USAGE, "docker: bad host \"%s\": want unix:///path", host);
		} else {
			dk->unix_path = xstrdup(host + 7);
			/* The host part of the URL is ignored over a unix socket. */
			dk->base_url = xstrdup("http://localhost");
			dk->host_header = xstrdup("localhost");
		}
	} else if (strncmp(host, "tcp://", 6) == 0) {
		rc = parse_tcp(dk, host, &ep, err);
	} else {
		rc = error_set(err, EXIT_USAGE, "docker: unsupported host \"%s\": want unix:// or tcp://", host);
	}
	docker_endpoint_release(&ep);
	return rc;
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
	learn_address(dk);
	dk->podman = c.libpod_header;
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
	memcpy(c->addr, dk->addr, sizeof(c->addr));
	c->podman = dk->podman;
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

