/* Small helpers every module uses: allocation that aborts on exhaustion,
 * cleanup attributes for owned locals, ownership transfer, a monotonic
 * clock. Nothing here does I/O beyond close(). */
#ifndef XDOCK_UTIL_H
#define XDOCK_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define PRINTF_LIKE(fmt, args) __attribute__((format(printf, fmt, args)))

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Returns a heap string; aborts on exhaustion like the rest. */
char *xasprintf(const char *fmt, ...) PRINTF_LIKE(1, 2);

/* A NULL-terminated vector of heap strings: util_strv_push appends s (the
 * vector takes it) and keeps the NULL after it; util_strv_free frees the
 * n strings and the vector. */
void util_strv_push(char ***v, size_t *n, char *s);
void util_strv_free(char **v, size_t n);

/* Monotonic milliseconds, for durations and deadlines only. */
int64_t util_now_ms(void);

static inline void
cleanup_free_fn(void *p)
{
	free(*(void **)p);
}

static inline void
cleanup_close_fn(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}

#define cleanup_free __attribute__((cleanup(cleanup_free_fn)))
#define cleanup_close __attribute__((cleanup(cleanup_close_fn)))

/* cJSON trees. cJSON_Delete is declared as <cjson/cJSON.h> declares it,
 * so one cleanup serves every file that parses JSON without this header
 * pulling cJSON in: the agent links no cJSON and never expands this. */
struct cJSON;
void cJSON_Delete(struct cJSON *item);

static inline void
cleanup_cjson_fn(void *p)
{
	cJSON_Delete(*(struct cJSON **)p);
}

#define cleanup_cjson __attribute__((cleanup(cleanup_cjson_fn)))

/* Hands the pointer over and leaves NULL behind, so the cleanup attribute
 * of the giver does nothing. */
#define steal_ptr(pp)                        \
	({                                   \
		__typeof__(*(pp)) _p = *(pp); \
		*(pp) = NULL;                \
		_p;                          \
	})

static inline int
steal_fd(int *fd)
{
	int r = *fd;

	*fd = -1;
	return r;
}

#endif
