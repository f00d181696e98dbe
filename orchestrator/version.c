#include "version.h"

#include <cjson/cJSON.h>

#include "db.h"
#include "docker.h"
#include "error.h"

void
version_print(FILE *out, const char *host)
{
	struct error *err = NULL;
	struct docker *dk = docker_new(host, NULL, &err);
	char pq[32];

	fprintf(out, "xdock %s\n", XDOCK_VERSION);
	if (dk) {
		fprintf(out, "engine API %s (%s)\n", docker_api_version(dk), docker_host(dk));
		docker_free(dk);
	} else {
		fprintf(out, "engine API none: %s\n", err->msg);
		error_free(err);
	}
	fprintf(out, "libcurl %s\n", docker_libcurl_version());
	db_libpq_version(pq, sizeof(pq));
	fprintf(out, "libpq %s\n", pq);
	fprintf(out, "cJSON %s\n", cJSON_Version());
}
