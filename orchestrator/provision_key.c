/* The template's cache key (--db-setup-key): SHA-256 of the test image,
 * the --db-setup command and the files the glob matches. */
#include "provision.h"

#include <fcntl.h>
#include <glob.h>
#include <string.h>

#include <openssl/evp.h>

static void
digest_update(EVP_MD_CTX *md, const void *p, size_t n)
{
	if (EVP_DigestUpdate(md, p, n) != 1)
		abort(); /* only fails on a broken context or no memory */
}

/* A string and its NUL: "ab"+"c" and "a"+"bc" differ. */
static void
digest_str(EVP_MD_CTX *md, const char *s)
{
	digest_update(md, s ? s : "", strlen(s ? s : "") + 1);
}

/* SHA-256 of a file's content into out; false when it is no regular file
 * we can read (a directory: its name alone counts). */
static bool
digest_file(const char *path, unsigned char out[EVP_MAX_MD_SIZE])
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	EVP_MD_CTX *md;
	char chunk[65536];
	ssize_t n;
	unsigned len = 0;

	if (fd < 0)
		return false;
	md = EVP_MD_CTX_new();
	if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
		abort();
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		digest_update(md, chunk, (size_t)n);
	if (EVP_DigestFinal_ex(md, out, &len) != 1)
		abort();
	EVP_MD_CTX_free(md);
	return n == 0;
}

char *
provision_key(const char *project_dir, const char *image_id, const char *setup, const char *pattern,
	      struct error **err)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char sum[EVP_MAX_MD_SIZE];
	char out[2 * EVP_MAX_MD_SIZE + 1];
	unsigned len = 0;
	EVP_MD_CTX *md;
	glob_t g;
	int rc;
	cleanup_free char *full = NULL;

	if (!pattern)
		return NULL;
	full = pattern[0] == '/' ? xstrdup(pattern) : xasprintf("%s/%s", project_dir, pattern);
	rc = glob(full, GLOB_BRACE, NULL, &g);
	if (rc != 0 && rc != GLOB_NOMATCH)
		return error_set(err, EXIT_USAGE, "--db-setup-key %s: cannot expand", pattern), NULL;
	if (rc == GLOB_NOMATCH) {
		globfree(&g);
		return error_set(err, EXIT_USAGE, "--db-setup-key %s: matches no file", pattern), NULL;
	}
	/* SHA-256, not a short hash: a collision would silently skip the
	 * migrations. The test image counts (a new driver or ORM version can
	 * migrate differently), and so does the command. */
	md = EVP_MD_CTX_new();
	if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
		abort();
	digest_str(md, "xdock template v2");
	digest_str(md, image_id);
	digest_str(md, setup);
	for (size_t i = 0; i < g.gl_pathc; i++) {
		unsigned char fsum[EVP_MAX_MD_SIZE];
		bool regular = digest_file(g.gl_pathv[i], fsum);

		digest_str(md, g.gl_pathv[i]);
		digest_update(md, regular ? "f" : "d", 1);
		if (regular)
			digest_update(md, fsum, 32);
	}
	globfree(&g);
	if (EVP_DigestFinal_ex(md, sum, &len) != 1)
		abort();
	EVP_MD_CTX_free(md);
	for (unsigned i = 0; i < len; i++) {
		out[2 * i] = hex[sum[i] >> 4];
		out[2 * i + 1] = hex[sum[i] & 15];
	}
	out[2 * len] = '\0';
	return xasprintf("xdock-key:sha256:%s", out);
}
