/*
 * rest_query.c — URL parameters: {name} path segments and ?key=value query strings.
 * Both come from the client as raw bytes; they are decoded into bounded buffers and
 * checked before a backend sees them.
 */
#include <string.h>

#include "err.h"
#include "rest_int.h"

int rest_name_valid(const char *s, size_t len)
{
	if (len == 0 || len > REST_NAME_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			 c == '.' || c == '_' || c == '-';
		if (!ok)
			return 0;
	}
	/* "." and ".." would read as path steps in logs and URLs. */
	return !(s[0] == '.' && (len == 1 || (len == 2 && s[1] == '.')));
}

int rest_param_name(struct rest_request *r, int i, char buf[REST_NAME_MAX + 1])
{
	if (i < 0 || i >= r->nparams) {
		rest_reply_sevmon(r, SEVMON_EINTERNAL);
		return SEVMON_EINVAL;
	}
	const char *s = r->path + r->params[i].off;
	size_t n = r->params[i].len;
	if (!rest_name_valid(s, n)) {
		rest_reply_error(r, 400, "bad_request",
				 "names are 1..63 characters of [A-Za-z0-9._-]");
		return SEVMON_EINVAL;
	}
	memcpy(buf, s, n);
	buf[n] = '\0';
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decode s[0..n) into buf; '+' is a space (form encoding). NUL bytes refused. */
static int decode(const char *s, size_t n, char *buf, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '%') {
			if (n - i < 3)
				return SEVMON_EINVAL;
			int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return SEVMON_EINVAL;
			c = (char)(hi * 16 + lo);
			i += 2;
		} else if (c == '+') {
			c = ' ';
		}
		if (o + 1 >= cap)
			return SEVMON_EINVAL;
		buf[o++] = c;
	}
	buf[o] = '\0';
	return 0;
}

int rest_query_get(const struct rest_request *r, const char *key, char *buf, size_t cap)
{
	if (!r->query || cap == 0)
		return 0;
	size_t klen = strlen(key);
	const char *q = r->query, *end = r->query + r->query_len;
	int found = 0;
	while (q < end) {
		const char *amp = memchr(q, '&', (size_t)(end - q));
		const char *pe = amp ? amp : end;
		const char *eq = memchr(q, '=', (size_t)(pe - q));
		const char *ke = eq ? eq : pe;
		if ((size_t)(ke - q) == klen && memcmp(q, key, klen) == 0) {
			/* A repeated key is ambiguous: refuse it instead of picking one. */
			if (found)
				return SEVMON_EINVAL;
			const char *v = eq ? eq + 1 : pe;
			int rc = decode(v, (size_t)(pe - v), buf, cap);
			if (rc)
				return rc;
			found = 1;
		}
		q = pe + (amp ? 1 : 0);
	}
	return found;
}
