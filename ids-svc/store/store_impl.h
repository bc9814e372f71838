/*
 * store_impl.h — internal to the store: the handle, and what the front (the calls of
 * store.h) and every backend share: errors, the clock, validation, the diffs.
 *
 * The store is two layers. The front (store.c, store_calls.c, store_diff.c, store_json.c)
 * checks every argument, bounds every text and JSON document, and computes what adding a
 * result records (store_result_diff); it knows no SQL. A backend (store_backend.h: SQLite
 * in store_sqlite*.c) keeps the rows, in transactions, and knows nothing of payload
 * shapes. A backend's ops are called with arguments the front has validated.
 */
#ifndef SEVMON_STORE_IMPL_H
#define SEVMON_STORE_IMPL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* Room for one error message shown to a REST client: a sentence plus a quoted name. */
#define STORE_ERRMSG_MAX 512

struct store_backend;

/* Whether a scan is requested with jobs (store_scan_request) and which checks they carry. */
enum store_jobs_mode {
	STORE_JOBS_NONE = 0,   /* store_scan_begin: the caller runs the scan itself */
	STORE_JOBS_CHECKS,     /* one job per target, each with the scan's checks */
	STORE_JOBS_OWN_CHECKS, /* one job per target, each with its target's own set */
};

struct store {
	const struct store_backend *be;
	uint64_t round_trips; /* statements sent to a server (store_round_trips) */
	void *impl; /* the backend's own state (its connection) */
	bool readonly;
	struct store_retention ret;
	store_clock_fn clock;
	void *clock_arg;
	bool test_clock; /* a test's clock: a server backend uses it instead of its own */
	char err[STORE_ERRMSG_MAX];
};

/* Set the handle's message and return err. */
int store_fail(struct store *s, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The same into a caller's buffer (msg may be NULL): for the pure parts (diffs, JSON). */
int store_msg(char *msg, size_t len, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Clear the message at the start of a call. */
void store_ok(struct store *s);
int64_t store_now(struct store *s);
/* Refuse writes on a read-only handle. */
int store_writable(struct store *s);

/* Validation, each with the field's name for the message. */
int store_check_name(struct store *s, const char *what, const char *v); /* target names */
int store_check_word(struct store *s, const char *what, const char *v, size_t max); /* [a-z0-9_] */
int store_check_technique(struct store *s, const char *v); /* NULL, or T1234[.567] */
/* v present, at most max bytes, valid UTF-8. */
int store_check_text(struct store *s, const char *what, const char *v, size_t max);
/* v must be JSON of at most max bytes. NULL passes (absent). */
int store_check_json(struct store *s, const char *what, const char *v, size_t max);
/* Parse text (at most max bytes) as JSON; msg explains a failure. */
int store_json_parse(const char *text, size_t max, json_t **out, char *msg, size_t msg_len);

size_t store_cap_limit(size_t limit);
/* Make room for one more element in a growing array (*v, *cap); 0 or SEVMON_ENOMEM. */
int store_grow(void **v, size_t *cap, size_t cnt, size_t elem);

/*
 * Identity lists: what a ps or modules payload is reduced to for diffing (store_diff.c).
 * The store keeps each payload's list next to it in a compact binary form (a result's
 * "ident"), so a diff parses only the new payload's JSON, not the baseline's too.
 */
enum store_idkind { STORE_ID_PROCESSES = 1, STORE_ID_MODULES = 2 };
struct store_id_item {
	int64_t pid;      /* -1 for modules */
	const char *name; /* comm or module name: borrowed from the list's backing */
	int64_t uid;      /* -1 unknown */
	int64_t ppid;     /* -1 unknown */
	bool kthread;
};
struct store_idlist {
	enum store_idkind kind;
	json_t *doc;   /* backing when parsed from JSON */
	uint8_t *blob; /* backing when read from the compact form */
	struct store_id_item *v; /* sorted by (pid, name), no duplicates */
	size_t n;
	bool partial;
};
void store_idlist_free(struct store_idlist *l);
/* SEVMON_EINVAL / ETOOBIG / ENOMEM with msg saying why. */
int store_idlist_from_json(enum store_idkind k, const char *text, struct store_idlist *l,
			   char *msg, size_t msg_len);
/* The compact form: SEVMON_EDECODE if blob is not one of kind k (a damaged row). */
int store_idlist_from_blob(enum store_idkind k, const void *blob, size_t len,
			   struct store_idlist *l);
/* Never larger than the JSON the list came from (plus a 7-byte header). Caller frees. */
int store_idlist_to_blob(const struct store_idlist *l, uint8_t **blob, size_t *len);
int store_idlist_diff(const struct store_idlist *prev, const struct store_idlist *cur,
		      struct store_diff *out);

/*
 * Adding a result, the part every backend shares (store_result_diff.c). The backend
 * looks up the baseline inside its transaction (the previous ok result of the same
 * target and check, added by another scan: store_result_wants_baseline says whether it
 * needs to) and hands it here; this gives the diff's findings and the compact form to keep
 * with the new result. A baseline that does not parse is not the new result's fault: the
 * diff is skipped. Errors (the new payload's shape, ENOMEM) are set on s.
 */
struct store_baseline {
	int found;             /* 0: none */
	const char *payload;   /* its JSON (NULL when only the compact form was read) */
	const void *ident;     /* its compact form (NULL or damaged: the payload is parsed) */
	size_t ident_len;
};
struct store_result_diff {
	struct store_diff findings; /* from the diff (the check's own are r->findings) */
	uint8_t *ident;             /* compact form of the new payload, or NULL */
	size_t ident_len;
};
int store_result_wants_baseline(const struct store_result_in *r);
/* Which baseline parts the rule reads: its payload (banner) or its compact form (lists). */
int store_result_baseline_is_ident(const struct store_result_in *r);
int store_result_diff(struct store *s, const struct store_result_in *r,
		      const struct store_baseline *base, struct store_result_diff *out);
void store_result_diff_free(struct store_result_diff *d);

#endif
