/*
 * alert.h — where findings go beyond the store: one table of sink kinds (alert_sinks.c),
 * each a row of the same ops, so a new kind (webhook, syslog, ...) is its file and a row.
 *
 * An alert is one finding as a security team's tooling receives it. Its JSON (alert_json.c)
 * is the one encoding every sink that writes JSON uses.
 *
 * Contract of a sink kind's ops
 * - open(spec, &state, err): spec is the kind's own argument string from the config (a
 *   path, a URL, ...), checked here; 0 with *state, or a negative SEVMON_E* with err saying
 *   what is wrong with spec. Nothing is delivered by open.
 * - deliver(state, alert, err): hand one alert over, in order. 0: delivered (the receiver
 *   has it, as far as this kind can know); SEVMON_EBUSY: not now (the receiver is down or
 *   slow), the caller keeps it and retries the same alert later; any other error: this
 *   alert cannot be delivered by this sink (err says why). deliver never blocks longer
 *   than its own bounded timeout and never keeps a pointer into alert.
 * - close(state): release everything; state may be NULL.
 * The caller (sevmond) owns ordering, retries, backoff and the record of what was
 * delivered; a sink keeps no queue of its own.
 */
#ifndef SEVMON_ALERT_H
#define SEVMON_ALERT_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct alert {
	int64_t id;               /* the finding's id in the store */
	int64_t at;               /* ms since the epoch, UTC */
	const char *target;
	enum store_severity severity;
	const char *kind;         /* "process_appeared", "hidden_module", ... */
	const char *subject;
	const char *detail_json;  /* NULL or a JSON document (our own encoding) */
	int64_t scan_id;          /* 0: not from a scan */
};

struct alert_sink_kind {
	const char *name;         /* the config word: "jsonl" */
	const char *summary;      /* one line for docs and errors */
	int (*open)(const char *spec, void **state, char *err, size_t errcap);
	int (*deliver)(void *state, const struct alert *a, char *err, size_t errcap);
	void (*close)(void *state);
};

/* The row named name, or NULL. */
const struct alert_sink_kind *alert_sink_kind_find(const char *name);
/* Rows in table order, for docs and --help; NULL past the end. */
const struct alert_sink_kind *alert_sink_kind_at(size_t i);

/* The alert as one JSON object (no newline), malloc'd (caller frees); NULL on ENOMEM. */
char *alert_json(const struct alert *a);

#endif
