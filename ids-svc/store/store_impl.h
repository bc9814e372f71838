/*
 * store_impl.h — internal to the store: the handle and the helpers its files share.
 */
#ifndef SEVMON_STORE_IMPL_H
#define SEVMON_STORE_IMPL_H

#include <jansson.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* Room for one error message shown to a REST client: a sentence plus a quoted name. */
#define STORE_ERRMSG_MAX 512

struct store {
	sqlite3 *db;
	bool readonly;
	int lock_fd; /* -1 for readers and in-memory databases */
	struct store_retention ret;
	store_clock_fn clock;
	void *clock_arg;
	char err[STORE_ERRMSG_MAX];
};

/* Set the handle's message and return err. */
int store_fail(struct store *s, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Map an SQLite result code to a SEVMON_E* value and record the message with `what`. */
int store_sqlerr(struct store *s, int rc, const char *what);
/* Clear the message at the start of a call. */
void store_ok(struct store *s);
int store_exec(struct store *s, const char *sql);
int store_prepare(struct store *s, const char *sql, sqlite3_stmt **st);
/* BEGIN IMMEDIATE (take the write lock now, so a busy wait happens before any work). */
int store_tx_begin(struct store *s);
int store_tx_commit(struct store *s);
void store_tx_rollback(struct store *s);
int64_t store_now(struct store *s);
/* Refuse writes on a read-only handle. */
int store_writable(struct store *s);

/* Validation, each with the field's name for the message. */
int store_check_name(struct store *s, const char *what, const char *v); /* target names */
int store_check_word(struct store *s, const char *what, const char *v, size_t max); /* [a-z0-9_] */
/* v present, at most max bytes, valid UTF-8. */
int store_check_text(struct store *s, const char *what, const char *v, size_t max);
/* v must be JSON of at most max bytes. NULL passes (absent). */
int store_check_json(struct store *s, const char *what, const char *v, size_t max);
/* Parse text (at most max bytes) as JSON; msg explains a failure. */
int store_json_parse(const char *text, size_t max, json_t **out, char *msg, size_t msg_len);

/* Copy a column into a fixed buffer / a fresh heap string (NULL for SQL NULL). */
void store_col_copy(sqlite3_stmt *st, int col, char *dst, size_t size);
int store_col_dup(sqlite3_stmt *st, int col, char **out);
size_t store_cap_limit(size_t limit);
/* Make room for one more element in a growing array (*v, *cap); 0 or SEVMON_ENOMEM. */
int store_grow(void **v, size_t *cap, size_t cnt, size_t elem);
/* Retention inside the caller's transaction; rows deleted or an error. */
int store_retention_apply(struct store *s);

/* Schema: create or migrate (writer), or check the version (reader). */
int store_schema_apply(struct store *s);

/*
 * Identity lists: what a ps or modules payload is reduced to for diffing (store_diff.c).
 * The store keeps each payload's list next to it in a compact binary form (results.ident),
 * so a diff parses only the new payload's JSON, not the baseline's too.
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

/* Findings of one diff into the findings table (inside the caller's transaction). */
int store_findings_insert(struct store *s, int64_t scan_id, const char *target,
			  const struct store_diff *d);
/* A check's own findings (validated by the caller), likewise. */
int store_findings_insert_in(struct store *s, int64_t scan_id, const char *target,
			     const struct store_finding_in *v, size_t n);

#endif
