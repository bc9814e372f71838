/*
 * mem_spec.c — reading a memory source's spec ("KIND:PATH[,key=value...]"): what every
 * backend parses its arguments with, below mem.c (which picks the backend by KIND).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "mem_impl.h"

/* Longest spec option value (paths included): PATH_MAX. */
#define MEM_SPEC_MAX 4096u

int mem_spec_path(const char *args, char *path, size_t cap, const char **opts)
{
	const char *comma = strchr(args, ',');
	size_t n = comma ? (size_t)(comma - args) : strlen(args);
	if (n == 0 || n >= cap)
		return SEVMON_EINVAL;
	memcpy(path, args, n);
	path[n] = '\0';
	*opts = comma ? comma + 1 : "";
	return 0;
}

/* Next "k=v" item of opts: key [*k, *k+*kl), value [*v, *v+*vl). 0 at the end. */
static int next_opt(const char **p, const char **k, size_t *kl, const char **v, size_t *vl)
{
	const char *s = *p;
	if (*s == '\0')
		return 0;
	const char *end = strchr(s, ',');
	if (!end)
		end = s + strlen(s);
	const char *eq = memchr(s, '=', (size_t)(end - s));
	if (!eq || eq == s)
		return SEVMON_EINVAL;
	*k = s;
	*kl = (size_t)(eq - s);
	*v = eq + 1;
	*vl = (size_t)(end - eq - 1);
	*p = *end ? end + 1 : end;
	return 1;
}

int mem_spec_opt(const char *opts, const char *key, char *val, size_t cap)
{
	const char *p = opts, *k, *v;
	size_t kl, vl;
	int rc;
	while ((rc = next_opt(&p, &k, &kl, &v, &vl)) > 0) {
		if (kl != strlen(key) || memcmp(k, key, kl) != 0)
			continue;
		if (vl == 0 || vl >= cap || vl >= MEM_SPEC_MAX)
			return SEVMON_EINVAL;
		memcpy(val, v, vl);
		val[vl] = '\0';
		return 1;
	}
	return rc;
}

int mem_spec_check_keys(const char *opts, const char *const *keys)
{
	const char *p = opts, *k, *v;
	size_t kl, vl;
	int rc;
	while ((rc = next_opt(&p, &k, &kl, &v, &vl)) > 0) {
		bool known = false;
		for (size_t i = 0; keys[i]; i++)
			if (kl == strlen(keys[i]) && memcmp(k, keys[i], kl) == 0)
				known = true;
		if (!known)
			return SEVMON_EINVAL;
	}
	return rc;
}

int mem_parse_u64(const char *s, uint64_t *v)
{
	uint64_t x = 0;
	unsigned base = 10;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	if (*s == '\0')
		return SEVMON_EINVAL;
	for (; *s; s++) {
		unsigned d;
		if (*s >= '0' && *s <= '9')
			d = (unsigned)(*s - '0');
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = (unsigned)(*s - 'a' + 10);
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			d = (unsigned)(*s - 'A' + 10);
		else
			return SEVMON_EINVAL;
		if (x > (UINT64_MAX - d) / base)
			return SEVMON_EINVAL;
		x = x * base + d;
	}
	*v = x;
	return 0;
}
