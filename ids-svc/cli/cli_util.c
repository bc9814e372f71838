#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "err.h"

int cli_parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	if (!s || !*s || *s == '-' || isspace((unsigned char)*s))
		return -1;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || *end || v > max)
		return -1;
	*out = v;
	return 0;
}

int cli_exit_for_connect(int err)
{
	switch (err) {
	case SEVMON_ETIMEDOUT:
		return CLI_ETIMEOUT;
	case SEVMON_ENOMEM:
		return CLI_ELOCAL;
	case SEVMON_EPROTO:
	case SEVMON_ECONNRESET:
		return CLI_ELOST;
	default:
		return CLI_ECONNECT;
	}
}

int cli_exit_for_request(int err)
{
	switch (err) {
	case 0:
		return CLI_OK;
	case SEVMON_ETIMEDOUT:
		return CLI_ETIMEOUT;
	case SEVMON_ECONNRESET:
	case SEVMON_EPROTO:
	case SEVMON_EDECODE:
		return CLI_ELOST;
	case SEVMON_ENOMEM:
		return CLI_ELOCAL;
	default:
		return CLI_EREMOTE;
	}
}

void cli_error(const char *cmd, const char *what, int err, const char *detail)
{
	fprintf(stderr, "sevmon %s: %s: %s", cmd, what, sevmon_strerror(err));
	if (detail && *detail)
		fprintf(stderr, " (%s)", detail);
	fprintf(stderr, "\n");
}

void cli_hexdump(uint64_t base, const uint8_t *p, size_t n)
{
	for (size_t off = 0; off < n; off += 16) {
		printf("%016llx ", (unsigned long long)(base + off));
		for (size_t i = 0; i < 16; i++) {
			if (off + i < n)
				printf(" %02x", p[off + i]);
			else
				printf("   ");
			if (i == 7)
				printf(" ");
		}
		printf("  |");
		for (size_t i = 0; i < 16 && off + i < n; i++)
			putchar(isprint(p[off + i]) ? p[off + i] : '.');
		printf("|\n");
	}
}
