/*
 * alert_sinks.c — the table of sink kinds (alert.h). A new kind: its file, and a row here.
 */
#include <string.h>

#include "alert.h"

extern const struct alert_sink_kind alert_sink_jsonl;

static const struct alert_sink_kind *const kinds[] = {
	&alert_sink_jsonl,
};

const struct alert_sink_kind *alert_sink_kind_find(const char *name)
{
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
		if (!strcmp(kinds[i]->name, name))
			return kinds[i];
	return NULL;
}

const struct alert_sink_kind *alert_sink_kind_at(size_t i)
{
	return i < sizeof kinds / sizeof kinds[0] ? kinds[i] : NULL;
}
