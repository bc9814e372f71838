/*
 * svd_sys.c — what sevmond asks of its own process: a log line on stderr (timestamped,
 * UTC, one write per line), its resident memory. Every other file may call these.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "svd.h"

void svd_log(const char *fmt, ...)
{
	struct timespec ts = clock_real_ts();
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	char line[1024];
	size_t n = strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
	n += (size_t)snprintf(line + n, sizeof line - n, ".%03ldZ sevmond: ", ts.tv_nsec / 1000000);
	va_list ap;
	va_start(ap, fmt);
	if (n < sizeof line)
		vsnprintf(line + n, sizeof line - n, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s\n", line);
}

uint64_t svd_rss_bytes(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	unsigned long size, rss;
	if (!f)
		return 0;
	int ok = fscanf(f, "%lu %lu", &size, &rss) == 2;
	fclose(f);
	return ok ? (uint64_t)rss * (uint64_t)sysconf(_SC_PAGESIZE) : 0;
}
