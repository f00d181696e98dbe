#include "error.h"

#include <stdarg.h>
#include <stdio.h>

int
error_set(struct error **err, int status, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	if (!err || *err)
		return -1;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		abort();
	va_end(ap);
	*err = xmalloc(sizeof(**err));
	(*err)->status = status;
	(*err)->msg = msg;
	return -1;
}

int
error_wrap(struct error **err, const char *fmt, ...)
{
	va_list ap;
	char *ctx, *msg;

	if (!err || !*err)
		return -1;
	va_start(ap, fmt);
	if (vasprintf(&ctx, fmt, ap) < 0)
		abort();
	va_end(ap);
	msg = xasprintf("%s: %s", ctx, (*err)->msg);
	free(ctx);
	free((*err)->msg);
	(*err)->msg = msg;
	return -1;
}

void
error_free(struct error *e)
{
	if (!e)
		return;
	free(e->msg);
	free(e);
}

void
error_keep(struct error **err, struct error *e)
{
	if (*err)
		error_free(e);
	else
		*err = e;
}
