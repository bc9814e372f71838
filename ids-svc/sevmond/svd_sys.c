/*
 * svd_sys.c — what sevmond asks of its own process: a log line on stderr (timestamped,
 * UTC, one write per line), its resident memory, its name among replicas, the store
 * setting as logs may show it. Every other file may call these.
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

void svd_store_label(const char *db, char *out, size_t cap)
{
	/* postgresql://user:SECRET@host/...: the secret never reaches a log line */
	const char *scheme = strstr(db, "://");
	const char *at = scheme ? strchr(scheme + 3, '@') : NULL;
	const char *colon = scheme && at ? memchr(scheme + 3, ':', (size_t)(at - scheme - 3)) : NULL;
	if (colon)
		snprintf(out, cap, "%.*s:***%s", (int)(colon - db), db, at);
	else
		snprintf(out, cap, "%s", db);
	char *pw = strstr(out, "password=");
	if (pw) {
		char *end = strpbrk(pw, "& ");
		snprintf(pw, cap - (size_t)(pw - out), "password=***%s", end ? end : "");
	}
}

void svd_default_replica(char *out, size_t cap)
{
	char host[256] = "";
	if (gethostname(host, sizeof host - 1) < 0 || !host[0])
		snprintf(host, sizeof host, "sevmond");
	/* the name must be unique among live replicas: host plus pid */
	char *dot = strchr(host, '.');
	if (dot)
		*dot = 0;
	size_t k = 0;
	for (char *p = host; *p; p++)
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    *p == '-' || *p == '_')
			host[k++] = *p;
	host[k] = 0;
	char pid[24];
	snprintf(pid, sizeof pid, "-%d", (int)getpid());
	size_t room = cap - 1 - strlen(pid);
	snprintf(out, cap, "%.*s%s", (int)(k < room ? k : room), host, pid);
}
