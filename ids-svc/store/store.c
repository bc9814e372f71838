/*
 * store.c — the store handle: open (the first backend that claims the database), close.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "err.h"
#include "store.h"
#include "store_backend.h"

/* The backends, tried in order: the first whose claims() accepts the database setting
 * serves it. */
static const struct store_backend *const backends[] = {
	&store_pg_backend,
	&store_sqlite_backend,
};

int store_open(const char *path, unsigned flags, const struct store_retention *ret,
	       struct store **out, char *errmsg, size_t errmsg_len)
{
	*out = NULL;
	if (errmsg && errmsg_len)
		errmsg[0] = '\0';
	if (!path || (flags & ~STORE_OPEN_READONLY)) {
		if (errmsg && errmsg_len)
			snprintf(errmsg, errmsg_len, "bad arguments to store_open");
		return SEVMON_EINVAL;
	}
	struct store *s = calloc(1, sizeof(*s));
	if (!s)
		return SEVMON_ENOMEM;
	s->readonly = flags & STORE_OPEN_READONLY;
	store_set_clock(s, NULL, NULL);
	store_set_retention(s, ret);
	for (size_t i = 0; !s->be && i < sizeof backends / sizeof backends[0]; i++)
		if (backends[i]->claims(path))
			s->be = backends[i];
	int rc = s->be ? s->be->open(s, path)
		       : store_fail(s, SEVMON_EINVAL, "no store backend serves '%.200s'", path);
	if (rc < 0) {
		if (errmsg && errmsg_len)
			snprintf(errmsg, errmsg_len, "%s", s->err);
		store_close(s);
		return rc;
	}
	store_ok(s);
	*out = s;
	return rc;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	if (s->be)
		s->be->close(s);
	free(s);
}
