/* prom_check — read an exposition on stdin; exit 0 if it conforms, 1 with the reason. */
#include <stdio.h>
#include <stdlib.h>

#include "prom_check.h"

/* /metrics of a 1,000-VM sevmond is a few MiB at most. */
#define PROM_CHECK_MAX_INPUT (64u << 20)

int main(void)
{
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	size_t n;
	while (buf && (n = fread(buf + len, 1, cap - len - 1, stdin)) > 0) {
		len += n;
		if (cap - len - 1 == 0) {
			if (cap >= PROM_CHECK_MAX_INPUT) {
				fprintf(stderr, "prom_check: input too large\n");
				return 1;
			}
			cap *= 2;
			buf = realloc(buf, cap);
		}
	}
	if (!buf)
		return 1;
	buf[len] = '\0';
	char why[512];
	int rc = prom_check(buf, why, sizeof why);
	if (rc)
		fprintf(stderr, "prom_check: %s\n", why);
	free(buf);
	return rc ? 1 : 0;
}
