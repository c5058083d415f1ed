/* lade — error reporting (see include/lade/error.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lade/error.h"
#include "lade/util.h"

int lade_error_set(struct lade_error **err, int sys_errno, const char *fmt, ...)
{
	if (err == NULL || *err != NULL)
		return -1;

	struct lade_buf b = LADE_BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	lade_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	if (sys_errno != 0)
		lade_buf_addf(&b, ": %s", strerror(sys_errno));

	struct lade_error *e = xzalloc(sizeof(*e));
	e->sys_errno = sys_errno;
	e->msg = lade_buf_detach(&b, NULL);
	*err = e;
	return -1;
}

int lade_error_prefix(struct lade_error **err, const char *fmt, ...)
{
	if (err == NULL || *err == NULL)
		return -1;

	struct lade_buf b = LADE_BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	lade_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	lade_buf_addf(&b, ": %s", (*err)->msg);
	free((*err)->msg);
	(*err)->msg = lade_buf_detach(&b, NULL);
	return -1;
}

void lade_error_free(struct lade_error *e)
{
	if (e == NULL)
		return;
	free(e->msg);
	free(e);
}

void lade_error_freep(struct lade_error **e)
{
	lade_error_free(*e);
	*e = NULL;
}
