/*
 * jw.c — the JSON writer (jw.h).
 */
#include "jw.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

/* First allocation: a banner or a small list fits; lists grow by doubling. */
#define JW_INITIAL_CAP 256u

void jw_init(struct jw *w, size_t max)
{
	memset(w, 0, sizeof *w);
	w->max = max;
}

void jw_free(struct jw *w)
{
	free(w->buf);
	w->buf = NULL;
	w->len = w->cap = 0;
}

static void fail(struct jw *w, int err)
{
	if (!w->err)
		w->err = err;
}

/* Room for n more bytes and the final NUL. */
static int reserve(struct jw *w, size_t n)
{
	if (w->err)
		return -1;
	if (n > w->max || w->len > w->max - n) {
		fail(w, SEVMON_ETOOBIG);
		return -1;
	}
	if (w->len + n + 1 <= w->cap)
		return 0;
	size_t cap = w->cap ? w->cap : JW_INITIAL_CAP;
	while (cap < w->len + n + 1) {
		if (cap > SIZE_MAX / 2) {
			fail(w, SEVMON_ENOMEM);
			return -1;
		}
		cap *= 2;
	}
	char *b = realloc(w->buf, cap);
	if (!b) {
		fail(w, SEVMON_ENOMEM);
		return -1;
	}
	w->buf = b;
	w->cap = cap;
	return 0;
}

static void put(struct jw *w, const char *s, size_t n)
{
	if (reserve(w, n) < 0)
		return;
	memcpy(w->buf + w->len, s, n);
	w->len += n;
	w->buf[w->len] = '\0';
}

static void putc_(struct jw *w, char c)
{
	put(w, &c, 1);
}

/* Before a value: the comma, and the check that a value may come here. */
static void value_start(struct jw *w)
{
	if (w->err)
		return;
	uint32_t bit = 1u << w->depth;
	if (w->depth > 0 && (w->in_obj & bit) && !w->after_key) {
		fail(w, SEVMON_EINVAL); /* an object member without a key */
		return;
	}
	if (w->depth == 0 && (w->has_elem & 1u)) {
		fail(w, SEVMON_EINVAL); /* a second top-level value */
		return;
	}
	if (!w->after_key && (w->has_elem & bit))
		putc_(w, ',');
	w->has_elem |= bit;
	w->after_key = 0;
}

static void open_(struct jw *w, char c, int obj)
{
	value_start(w);
	if (w->err)
		return;
	if (w->depth + 1 >= JW_MAX_DEPTH) {
		fail(w, SEVMON_EINVAL);
		return;
	}
	putc_(w, c);
	w->depth++;
	uint32_t bit = 1u << w->depth;
	w->has_elem &= ~bit;
	if (obj)
		w->in_obj |= bit;
	else
		w->in_obj &= ~bit;
}

static void close_(struct jw *w, char c, int obj)
{
	if (w->err)
		return;
	uint32_t bit = 1u << w->depth;
	if (w->depth == 0 || !!(w->in_obj & bit) != obj || w->after_key) {
		fail(w, SEVMON_EINVAL);
		return;
	}
	putc_(w, c);
	w->depth--;
}

void jw_obj(struct jw *w) { open_(w, '{', 1); }
void jw_obj_end(struct jw *w) { close_(w, '}', 1); }
void jw_arr(struct jw *w) { open_(w, '[', 0); }
void jw_arr_end(struct jw *w) { close_(w, ']', 0); }

static void put_string(struct jw *w, const char *s, size_t n)
{
	putc_(w, '"');
	for (size_t i = 0; i < n && !w->err; i++) {
		unsigned char ch = (unsigned char)s[i];
		char esc[8];
		if (ch == '"' || ch == '\\') {
			esc[0] = '\\';
			esc[1] = (char)ch;
			put(w, esc, 2);
		} else if (ch == '\n') {
			put(w, "\\n", 2);
		} else if (ch == '\t') {
			put(w, "\\t", 2);
		} else if (ch < 0x20 || ch >= 0x7f) {
			snprintf(esc, sizeof esc, "\\u%04x", ch);
			put(w, esc, 6);
		} else {
			putc_(w, (char)ch);
		}
	}
	putc_(w, '"');
}

void jw_key(struct jw *w, const char *key)
{
	if (w->err)
		return;
	uint32_t bit = 1u << w->depth;
	if (w->depth == 0 || !(w->in_obj & bit) || w->after_key) {
		fail(w, SEVMON_EINVAL);
		return;
	}
	if (w->has_elem & bit)
		putc_(w, ',');
	w->has_elem |= bit;
	put_string(w, key, strlen(key));
	putc_(w, ':');
	w->after_key = 1;
}

void jw_strn(struct jw *w, const char *s, size_t n)
{
	value_start(w);
	if (!w->err)
		put_string(w, s, strnlen(s, n));
}

void jw_str(struct jw *w, const char *s)
{
	jw_strn(w, s, SIZE_MAX);
}

static void put_fmt(struct jw *w, const char *fmt, uint64_t v, int sign)
{
	char num[32];
	int n = sign ? snprintf(num, sizeof num, fmt, (int64_t)v) : snprintf(num, sizeof num, fmt, v);
	value_start(w);
	if (!w->err)
		put(w, num, (size_t)n);
}

void jw_int(struct jw *w, int64_t v) { put_fmt(w, "%" PRId64, (uint64_t)v, 1); }
void jw_uint(struct jw *w, uint64_t v) { put_fmt(w, "%" PRIu64, v, 0); }
void jw_hex(struct jw *w, uint64_t v) { put_fmt(w, "\"0x%" PRIx64 "\"", v, 0); }

void jw_bool(struct jw *w, int v)
{
	value_start(w);
	if (!w->err)
		put(w, v ? "true" : "false", v ? 4 : 5);
}

void jw_null(struct jw *w)
{
	value_start(w);
	if (!w->err)
		put(w, "null", 4);
}

void jw_hexbytes(struct jw *w, const uint8_t *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	value_start(w);
	if (w->err)
		return;
	putc_(w, '"');
	for (size_t i = 0; i < n && !w->err; i++) {
		char two[2] = { digits[p[i] >> 4], digits[p[i] & 15] };
		put(w, two, 2);
	}
	putc_(w, '"');
}

void jw_fixed(struct jw *w, double v, int decimals)
{
	char num[64];
	if (!(v == v) || v > 1e300 || v < -1e300) { /* NaN or out of any sane range */
		jw_null(w);
		return;
	}
	int n = snprintf(num, sizeof num, "%.*f", decimals < 0 ? 0 : decimals > 9 ? 9 : decimals, v);
	value_start(w);
	if (!w->err && n > 0 && (size_t)n < sizeof num)
		put(w, num, (size_t)n);
}

void jw_raw(struct jw *w, const char *json)
{
	value_start(w);
	if (!w->err)
		put(w, json, strlen(json));
}

int jw_finish(struct jw *w, char **out, size_t *len)
{
	if (!w->err && (w->depth != 0 || !(w->has_elem & 1u)))
		fail(w, SEVMON_EINVAL);
	if (w->err) {
		int err = w->err;
		jw_free(w);
		return err;
	}
	*out = w->buf;
	if (len)
		*len = w->len;
	w->buf = NULL;
	w->len = w->cap = 0;
	return 0;
}

int jw_flush(struct jw *w, int (*sink)(void *ctx, const char *p, size_t n), void *ctx)
{
	if (!w->err && w->len) {
		int rc = sink(ctx, w->buf, w->len);
		if (rc < 0)
			fail(w, rc);
		w->len = 0;
		w->buf[0] = '\0';
	}
	return w->err;
}
