/*
 * jw.h — a JSON writer: one growable, bounded text buffer, written front to back.
 *
 * Every check encodes its result with it (check.h), so a value is encoded one way
 * wherever it goes: the CLI's --json, `sevmon scan`'s lines, sevmond's store and REST.
 *
 * Strings are written byte-safe: '"', '\\' and control characters are escaped, and every
 * byte >= 0x7f is written as \u00XX (its Latin-1 code point), so text read from a guest
 * (a comm, a module name: any bytes an intruder chose) always gives valid ASCII JSON and
 * never an encoder failure. Commas are placed by the writer.
 *
 * Errors are sticky: after the first (ENOMEM, ETOOBIG past `max`, EINVAL for a misuse
 * such as a value where a key is due or nesting deeper than JW_MAX_DEPTH) every call is
 * a no-op and jw_finish returns it.
 */
#ifndef SEVMON_JW_H
#define SEVMON_JW_H

#include <stddef.h>
#include <stdint.h>

/* Objects and arrays nested at most this deep: check payloads are two or three. */
#define JW_MAX_DEPTH 16

struct jw {
	char *buf;
	size_t len, cap, max;
	int err;
	int depth;
	uint32_t has_elem; /* bit d: the container at depth d has an element already */
	uint32_t in_obj;   /* bit d: the container at depth d is an object */
	int after_key;     /* a key was written; its value is next */
};

/* An empty writer whose text may grow to max bytes (SIZE_MAX: no limit but memory). */
void jw_init(struct jw *w, size_t max);
/* Free the buffer (after jw_finish took it, this is a no-op). */
void jw_free(struct jw *w);

void jw_obj(struct jw *w);
void jw_obj_end(struct jw *w);
void jw_arr(struct jw *w);
void jw_arr_end(struct jw *w);
/* A member name inside an object; the next call writes its value. */
void jw_key(struct jw *w, const char *key);

void jw_str(struct jw *w, const char *s);
/* At most n bytes of s, stopping at a NUL: a fixed-size field copied from a guest. */
void jw_strn(struct jw *w, const char *s, size_t n);
void jw_int(struct jw *w, int64_t v);
void jw_uint(struct jw *w, uint64_t v);
void jw_bool(struct jw *w, int v);
void jw_null(struct jw *w);
/* A 64-bit value as a string "0x..." (JSON numbers lose precision past 2^53). */
void jw_hex(struct jw *w, uint64_t v);
/* Bytes as a string of lowercase hex digits. */
void jw_hexbytes(struct jw *w, const uint8_t *p, size_t n);
/* A number with a fixed count of decimals (durations: "12.345"); non-finite gives null. */
void jw_fixed(struct jw *w, double v, int decimals);
/* A value that is JSON text already, written as it is: only for text this program's own
 * encoder made (a check's payload inside a result line), never for text from outside. */
void jw_raw(struct jw *w, const char *json);

/* Hand the text written so far to sink and empty the buffer; the writer's state (nesting,
 * commas) goes on, so `max` bounds what is held between flushes, not the whole text: for
 * output too big to hold at once (an ISF symbol table). 0, or the sink's error (sticky,
 * like the others) or an earlier one. The text after the last flush is jw_finish's. */
int jw_flush(struct jw *w, int (*sink)(void *ctx, const char *p, size_t n), void *ctx);

/* 0 and the NUL-terminated text in *out (the caller frees it; *len its length, may be
 * NULL), or the first error (nothing to free). Nesting must be closed. */
int jw_finish(struct jw *w, char **out, size_t *len);

#endif
