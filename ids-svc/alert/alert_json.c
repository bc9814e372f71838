/*
 * alert_json.c — an alert's one JSON encoding (alert.h):
 *   {"id":N,"time":"2026-12-03T07:35:00.123Z","time_ms":N,"target":T,"severity":S,
 *    "kind":K,"subject":SUB,"scan":N,"detail":{...}}
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "alert.h"
#include "jw.h"

/* An alert is small: its detail is bounded by the store (STORE_SMALL_JSON_MAX). */
#define ALERT_JSON_MAX (STORE_SMALL_JSON_MAX + 4096u)

char *alert_json(const struct alert *a)
{
	char when[40];
	time_t sec = (time_t)(a->at / 1000);
	struct tm tm;
	gmtime_r(&sec, &tm);
	size_t n = strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(when + n, sizeof when - n, ".%03dZ", (int)(a->at % 1000));
	struct jw w;
	jw_init(&w, ALERT_JSON_MAX);
	jw_obj(&w);
	jw_key(&w, "id");
	jw_int(&w, a->id);
	jw_key(&w, "time");
	jw_str(&w, when);
	jw_key(&w, "time_ms");
	jw_int(&w, a->at);
	jw_key(&w, "target");
	jw_str(&w, a->target);
	jw_key(&w, "severity");
	jw_str(&w, store_severity_name(a->severity) ? store_severity_name(a->severity) : "info");
	jw_key(&w, "kind");
	jw_str(&w, a->kind);
	jw_key(&w, "subject");
	jw_str(&w, a->subject);
	jw_key(&w, "scan");
	jw_int(&w, a->scan_id);
	if (a->detail_json) {
		jw_key(&w, "detail");
		jw_raw(&w, a->detail_json);
	}
	jw_obj_end(&w);
	char *out;
	return jw_finish(&w, &out, NULL) == 0 ? out : NULL;
}
