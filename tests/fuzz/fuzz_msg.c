/* Fuzzes orchestrator/msg.c: every line of the input goes through
 * msg_decode exactly as sized (no NUL after it, so ASan sees any read past
 * len), and a decoded message must honour msg.h's field contracts. LeakSan
 * checks that msg_release and the error paths free everything. */
#include <string.h>

#include "fuzz.h"
#include "msg.h"

static void
check_msg(const struct msg *m)
{
	switch (m->kind) {
	case MSG_COLLECTED:
		for (size_t i = 0; i < m->nitems; i++)
			FUZZ_CHECK(m->items[i].id != NULL && m->items[i].file != NULL);
		for (size_t i = 0; i < m->nerrors; i++)
			FUZZ_CHECK(m->errors[i] != NULL);
		break;
	case MSG_RESULT:
		FUZZ_CHECK(m->outcome > OUTCOME_NONE && m->outcome < OUTCOME__COUNT);
		FUZZ_CHECK(strcmp(outcome_name(m->outcome), "unknown") != 0);
		break;
	case MSG_ERROR:
		FUZZ_CHECK(m->text != NULL);
		break;
	case MSG_HELLO:
	case MSG_START:
	case MSG_DONE:
	case MSG_CRASH:
	case MSG_EXIT:
		FUZZ_CHECK(m->nitems == 0 && m->items == NULL);
		break;
	default:
		FUZZ_CHECK(!"unknown kind");
	}
}

static void
decode_line(const uint8_t *p, size_t n)
{
	/* An exact-size copy: the fuzzer's own buffer may be followed by
	 * bytes of the rest of the input. */
	cleanup_free char *line = xmalloc(n ? n : 1);
	struct error *err = NULL;
	struct msg m;

	memcpy(line, p, n);
	if (msg_decode(line, n, &m, &err) == 0) {
		FUZZ_CHECK(err == NULL);
		check_msg(&m);
		msg_release(&m);
		/* Released twice is harmless: msg_release leaves it empty. */
		msg_release(&m);
		FUZZ_CHECK(m.items == NULL && m.text == NULL);
	} else {
		FUZZ_CHECK(err != NULL && err->msg != NULL && err->status == EXIT_INTERNAL);
		/* A failed decode owns nothing. */
		FUZZ_CHECK(m.items == NULL && m.errors == NULL && m.text == NULL && m.out == NULL &&
			   m.err == NULL && m.when == NULL);
		error_free(err);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;

	while (p < end) {
		const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

		decode_line(p, n);
		p += n + (nl != NULL);
	}
	return 0;
}
