/*
 * store_util.c — what the front and every backend share, below them all: the handle's
 * error text, the clock, the validation of names, words, texts and JSON, list bounds.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "err.h"
#include "store.h"
#include "store_impl.h"

int store_fail(struct store *s, int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->err, sizeof(s->err), fmt, ap);
	va_end(ap);
	return err;
}

void store_ok(struct store *s)
{
	s->err[0] = '\0';
}

const char *store_last_error(const struct store *s)
{
	return s ? s->err : "no store";
}

static int64_t real_now(void *arg)
{
	(void)arg;
	return clock_real_ms();
}

int64_t store_now(struct store *s)
{
	return s->clock(s->clock_arg);
}

void store_set_clock(struct store *s, store_clock_fn fn, void *arg)
{
	s->clock = fn ? fn : real_now;
	s->clock_arg = fn ? arg : NULL;
	s->test_clock = fn != NULL;
}

void store_set_retention(struct store *s, const struct store_retention *ret)
{
	s->ret = ret ? *ret : (struct store_retention){ 0 };
}

int store_writable(struct store *s)
{
	return s->readonly ? store_fail(s, SEVMON_EDENIED, "store opened read-only") : 0;
}

int store_check_text(struct store *s, const char *what, const char *v, size_t max)
{
	if (!v)
		return store_fail(s, SEVMON_EINVAL, "%s is missing", what);
	size_t len = strnlen(v, max + 1);
	if (len > max)
		return store_fail(s, SEVMON_ETOOBIG, "%s is longer than %zu bytes", what, max);
	/* Everything stored comes back out as JSON strings (REST), which must be UTF-8. */
	json_t *j = json_stringn(v, len);
	if (!j)
		return store_fail(s, SEVMON_EINVAL, "%s is not valid UTF-8", what);
	json_decref(j);
	return 0;
}

int store_check_name(struct store *s, const char *what, const char *v)
{
	int rc = store_check_text(s, what, v, STORE_NAME_MAX);
	if (rc < 0)
		return rc;
	if (!v[0])
		return store_fail(s, SEVMON_EINVAL, "%s is empty", what);
	for (const char *p = v; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-'))
			return store_fail(s, SEVMON_EINVAL,
					  "%s may only hold A-Z a-z 0-9 . _ - (byte 0x%02x at %zu)",
					  what, (unsigned char)*p, (size_t)(p - v));
	return 0;
}

int store_check_technique(struct store *s, const char *v)
{
	if (!v)
		return 0;
	size_t n = strlen(v);
	int ok = (n == 5 || n == 9) && v[0] == 'T' && strspn(v + 1, "0123456789") == 4 &&
		 (n == 5 || (v[5] == '.' && strspn(v + 6, "0123456789") == 3));
	return ok ? 0 : store_fail(s, SEVMON_EINVAL, "technique: a MITRE ATT&CK id (T1234 or T1234.567)");
}

int store_check_word(struct store *s, const char *what, const char *v, size_t max)
{
	int rc = store_check_text(s, what, v, max);
	if (rc < 0)
		return rc;
	if (!v[0])
		return store_fail(s, SEVMON_EINVAL, "%s is empty", what);
	for (const char *p = v; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
			return store_fail(s, SEVMON_EINVAL,
					  "%s may only hold a-z 0-9 _ (byte 0x%02x at %zu)", what,
					  (unsigned char)*p, (size_t)(p - v));
	return 0;
}

int store_check_json(struct store *s, const char *what, const char *v, size_t max)
{
	if (!v)
		return 0;
	json_t *j;
	char msg[256];
	int rc = store_json_parse(v, max, &j, msg, sizeof(msg));
	if (rc < 0)
		return store_fail(s, rc, "%s: %s", what, msg);
	json_decref(j);
	return 0;
}

size_t store_cap_limit(size_t limit)
{
	return limit == 0 || limit > STORE_LIST_MAX ? STORE_LIST_MAX : limit;
}

int store_grow(void **v, size_t *cap, size_t cnt, size_t elem)
{
	if (cnt < *cap)
		return 0;
	size_t nc = *cap ? *cap * 2 : 16;
	void *nv = realloc(*v, nc * elem);
	if (!nv)
		return SEVMON_ENOMEM;
	*v = nv;
	*cap = nc;
	return 0;
}

int store_msg(char *msg, size_t len, int err, const char *fmt, ...)
{
	if (msg && len) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(msg, len, fmt, ap);
		va_end(ap);
	}
	return err;
}
