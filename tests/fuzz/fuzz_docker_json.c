/* Fuzzes the reply parsers of orchestrator/docker_json.c on arbitrary
 * bodies: inspect (with and without a port), list for each kind (with and
 * without a wanted label), and the small field readers of docker_priv.h.
 * What a successful parse returns must honour docker.h's contracts. */
#include <string.h>

#include "docker_priv.h"
#include "fuzz.h"

static void
check_inspect(const char *json, size_t len, const char *port)
{
	struct docker_container_state st;
	struct error *err = NULL;

	if (docker_parse_inspect(json, len, port, &st, &err) == 0) {
		FUZZ_CHECK(err == NULL);
		FUZZ_CHECK(memchr(st.status, '\0', sizeof(st.status)) != NULL);
		FUZZ_CHECK(memchr(st.error, '\0', sizeof(st.error)) != NULL);
		FUZZ_CHECK(st.host_port >= 0 && st.host_port <= 65535);
		FUZZ_CHECK(port != NULL || st.host_port == 0);
	} else {
		FUZZ_CHECK(err != NULL && err->msg != NULL);
		error_free(err);
	}
}

static void
check_list(const char *json, size_t len, const char *kind, const char *want_label)
{
	struct docker_list l;
	struct error *err = NULL;

	if (docker_parse_list(json, len, kind, want_label, &l, &err) == 0) {
		FUZZ_CHECK(err == NULL);
		FUZZ_CHECK(l.n == 0 || l.items != NULL);
		for (size_t i = 0; i < l.n; i++) {
			FUZZ_CHECK(l.items[i].id != NULL);
			FUZZ_CHECK(want_label != NULL || l.items[i].label == NULL);
		}
		docker_list_release(&l);
	} else {
		FUZZ_CHECK(err != NULL && err->msg != NULL);
		/* A failed parse owns nothing. */
		FUZZ_CHECK(l.items == NULL && l.n == 0);
		error_free(err);
	}
}

static void
check_fields(const char *json, size_t len)
{
	struct error *err = NULL;
	char *s = NULL;
	int64_t v;

	free(docker_json_message(json, len));
	if (docker_json_string(json, len, "Id", "fuzz", &s, &err) == 0)
		free(s);
	else
		error_free(steal_ptr(&err));
	if (docker_json_int(json, len, "NCPU", "fuzz", &v, &err) < 0)
		error_free(steal_ptr(&err));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const kinds[] = { "containers", "networks", "volumes" };
	/* An exact-size copy with no NUL after it: the parsers are given the
	 * length, so ASan reports any read past it. */
	cleanup_free char *json = xmalloc(size ? size : 1);

	memcpy(json, data, size);
	check_inspect(json, size, "5432/tcp");
	check_inspect(json, size, NULL);
	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
		check_list(json, size, kinds[i], "xdock.run");
		check_list(json, size, kinds[i], NULL);
	}
	check_fields(json, size);
	return 0;
}
