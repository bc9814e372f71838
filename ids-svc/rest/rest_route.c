/*
 * rest_route.c — path patterns and bearer tokens: the two checks every request meets
 * before a handler runs.
 */
#include "rest.h"

#include <string.h>

int rest_route_match(const char *pattern, const char *path, size_t path_len,
		     struct rest_span params[REST_ROUTE_MAX_PARAMS])
{
	size_t p = 0, i = 0;
	int np = 0;
	size_t plen = strlen(pattern);
	while (p < plen) {
		if (pattern[p] == '{') {
			const char *close = memchr(pattern + p, '}', plen - p);
			if (!close || np == REST_ROUTE_MAX_PARAMS)
				return -1;
			size_t start = i;
			while (i < path_len && path[i] != '/')
				i++;
			if (i == start)
				return -1;
			params[np].off = start;
			params[np].len = i - start;
			np++;
			p = (size_t)(close - pattern) + 1;
			continue;
		}
		if (i >= path_len || path[i] != pattern[p])
			return -1;
		i++;
		p++;
	}
	return i == path_len ? np : -1;
}

/* Equal-length compare whose time does not depend on where the bytes differ. */
static unsigned ct_diff(const unsigned char *a, const unsigned char *b, size_t n)
{
	volatile unsigned d = 0;
	for (size_t i = 0; i < n; i++)
		d |= (unsigned)(a[i] ^ b[i]);
	return d;
}

int rest_auth_check(const char *hdr, size_t hdr_len, const char *const *tokens, size_t ntokens)
{
	static const char scheme[] = "bearer ";
	const size_t slen = sizeof scheme - 1;
	if (!hdr || hdr_len <= slen)
		return 0;
	for (size_t i = 0; i < slen; i++) {
		char c = hdr[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != scheme[i])
			return 0;
	}
	const unsigned char *cand = (const unsigned char *)hdr + slen;
	size_t clen = hdr_len - slen;
	/* Every token is compared in full so the time does not say which one came close;
	 * a length mismatch still walks the candidate against itself. */
	unsigned ok = 0;
	for (size_t t = 0; t < ntokens; t++) {
		size_t tlen = strlen(tokens[t]);
		unsigned d;
		if (tlen == clen)
			d = ct_diff(cand, (const unsigned char *)tokens[t], clen);
		else
			d = ct_diff(cand, cand, clen) | 1u;
		ok |= (d == 0);
	}
	return ok ? 1 : 0;
}
