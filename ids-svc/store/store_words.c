/*
 * store_words.c — the store's vocabulary as words: scan states and severities. Pure, so
 * that code which speaks the store's language without opening one (the checks, the CLI)
 * links this alone, not SQLite.
 */
#include <string.h>

#include "err.h"
#include "store.h"

static const char *const scan_status_names[] = { "running", "done", "failed", "interrupted" };
static const char *const severity_names[] = { "info", "low", "medium", "high" };

const char *store_scan_status_name(enum store_scan_status st)
{
	return (unsigned)st < 4 ? scan_status_names[st] : NULL;
}

const char *store_severity_name(enum store_severity sev)
{
	return (unsigned)sev < 4 ? severity_names[sev] : NULL;
}

int store_severity_parse(const char *word, enum store_severity *out)
{
	for (unsigned i = 0; word && i < 4; i++)
		if (strcmp(word, severity_names[i]) == 0) {
			*out = (enum store_severity)i;
			return 0;
		}
	return SEVMON_EINVAL;
}
