/*
 * store_diff.c — what changed between two payloads of one check (contract in store.h).
 *
 * A ps or modules payload is reduced to an identity list: entries sorted by identity,
 * duplicates dropped. Two lists are walked together once: O(n log n) overall, bounded by
 * STORE_DIFF_MAX_ITEMS entries per list. The store keeps each list in a compact binary
 * form beside its payload, so diffing a new result against the baseline parses one JSON
 * document, not two (JSON parsing is most of the cost).
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "rbuf.h"
#include "store.h"
#include "store_impl.h"

/* A comm is 16 bytes in the kernel, a module name 56; a guest may fill either with bytes
 * the encoder escapes (\u00XX, two bytes of UTF-8 each once parsed): 128 holds any. */
#define DIFF_NAME_MAX 128
/* pid_max is at most 2^22 on Linux; anything up to INT32_MAX is accepted as a number. */
#define DIFF_PID_MAX 2147483647LL
/* uid_t is 32 bits and (uid_t)-1 is never a real uid: -1 (unknown) .. 2^32 - 2. */
#define DIFF_UID_MAX 4294967294LL

/* Compact form: u8 version, u8 kind, u8 flags, be32 count, then per entry
 *   processes: be32 pid, be32 uid + 1, be32 ppid + 1, u8 kthread, u8 len, name, u8 0
 *   modules:   u8 len, name, u8 0
 * The trailing 0 lets entries point into the blob as C strings. An entry takes at most
 * 15 + name bytes, less than its JSON ({"pid":N,"comm":"name"} is at least 19 + name). */
#define IDBLOB_VERSION 1
#define IDBLOB_HDR 7
#define IDBLOB_PARTIAL 1u

/* Say that the message is about the baseline, not the payload being added. */
static void prefix_previous(char *msg, size_t len)
{
	if (!msg || !len)
		return;
	char tmp[256];
	snprintf(tmp, sizeof(tmp), "%s", msg);
	snprintf(msg, len, "previous payload: %s", tmp);
}

static int cmp_item(const void *a, const void *b)
{
	const struct store_id_item *x = a, *y = b;
	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	return strcmp(x->name, y->name);
}

static int name_ok(const json_t *v, const char **out)
{
	if (!json_is_string(v))
		return 0;
	size_t len = json_string_length(v);
	const char *s = json_string_value(v);
	/* an embedded NUL would make two different names compare equal */
	if (len == 0 || len > DIFF_NAME_MAX || strlen(s) != len)
		return 0;
	*out = s;
	return 1;
}

void store_idlist_free(struct store_idlist *l)
{
	free(l->v);
	free(l->blob);
	json_decref(l->doc);
	*l = (struct store_idlist){ 0 };
}

static void sort_dedup(struct store_idlist *l)
{
	if (l->n > 1)
		qsort(l->v, l->n, sizeof(*l->v), cmp_item);
	size_t w = 0;
	for (size_t i = 0; i < l->n; i++)
		if (w == 0 || cmp_item(&l->v[w - 1], &l->v[i]) != 0)
			l->v[w++] = l->v[i];
	l->n = w;
}

/* An optional integer member within [lo, hi]; *out -1 if absent or null (unknown). */
static int opt_int(const json_t *e, const char *key, long long lo, long long hi, int64_t *out)
{
	json_t *v = json_object_get(e, key);
	*out = -1;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
		return -1;
	*out = json_integer_value(v);
	return 0;
}

static int proc_item(const json_t *e, struct store_id_item *it)
{
	json_t *kt = json_object_get(e, "kthread");
	if (!name_ok(json_object_get(e, "comm"), &it->name) ||
	    opt_int(e, "pid", 0, DIFF_PID_MAX, &it->pid) < 0 || it->pid < 0 ||
	    opt_int(e, "uid", -1, DIFF_UID_MAX, &it->uid) < 0 ||
	    opt_int(e, "ppid", -1, DIFF_PID_MAX, &it->ppid) < 0 || (kt && !json_is_boolean(kt)))
		return -1;
	it->kthread = json_is_true(kt);
	return 0;
}

int store_idlist_from_json(enum store_idkind k, const char *text, struct store_idlist *l,
			   char *msg, size_t msg_len)
{
	*l = (struct store_idlist){ .kind = k };
	bool procs = k == STORE_ID_PROCESSES;
	const char *key = procs ? "processes" : "modules";
	int rc = store_json_parse(text, STORE_PAYLOAD_MAX, &l->doc, msg, msg_len);
	if (rc < 0)
		return rc;
	json_t *arr = json_is_object(l->doc) ? json_object_get(l->doc, key) : NULL;
	if (!json_is_array(arr)) {
		rc = store_msg(msg, msg_len, SEVMON_EINVAL, "expected an object with array \"%s\"", key);
		goto out;
	}
	json_t *partial = json_object_get(l->doc, "partial");
	if (partial && !json_is_boolean(partial)) {
		rc = store_msg(msg, msg_len, SEVMON_EINVAL, "\"partial\" must be true or false");
		goto out;
	}
	l->partial = json_is_true(partial);
	size_t n = json_array_size(arr);
	if (n > STORE_DIFF_MAX_ITEMS) {
		rc = store_msg(msg, msg_len, SEVMON_ETOOBIG, "%zu entries in \"%s\" (limit %d)", n, key,
			  STORE_DIFF_MAX_ITEMS);
		goto out;
	}
	l->v = calloc(n ? n : 1, sizeof(*l->v));
	if (!l->v) {
		rc = store_msg(msg, msg_len, SEVMON_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_array_get(arr, i);
		struct store_id_item *it = &l->v[i];
		*it = (struct store_id_item){ .pid = -1, .uid = -1, .ppid = -1 };
		if (!json_is_object(e)) {
			rc = store_msg(msg, msg_len, SEVMON_EINVAL, "%s[%zu]: not an object", key, i);
			goto out;
		}
		if (procs ? proc_item(e, it) < 0 : !name_ok(json_object_get(e, "name"), &it->name)) {
			rc = store_msg(msg, msg_len, SEVMON_EINVAL,
				  procs ? "%s[%zu]: needs \"pid\" 0..2^31-1 and \"comm\" of 1..%d "
					  "bytes; uid -1..2^32-2, ppid -1..2^31-1, kthread boolean"
					: "%s[%zu]: needs a \"name\" string of 1..%d bytes",
				  key, i, DIFF_NAME_MAX);
			goto out;
		}
	}
	l->n = n;
	sort_dedup(l);
	return 0;
out:
	store_idlist_free(l);
	return rc;
}

int store_idlist_to_blob(const struct store_idlist *l, uint8_t **blob, size_t *len)
{
	*blob = NULL;
	*len = 0;
	bool procs = l->kind == STORE_ID_PROCESSES;
	size_t cap = IDBLOB_HDR;
	for (size_t i = 0; i < l->n; i++)
		cap += (procs ? 15 : 2) + strlen(l->v[i].name);
	uint8_t *p = malloc(cap);
	if (!p)
		return SEVMON_ENOMEM;
	struct wbuf w = wbuf_make(p, cap);
	int bad = wbuf_put_u8(&w, IDBLOB_VERSION) | wbuf_put_u8(&w, (uint8_t)l->kind) |
		  wbuf_put_u8(&w, l->partial ? IDBLOB_PARTIAL : 0) |
		  wbuf_put_be32(&w, (uint32_t)l->n);
	for (size_t i = 0; !bad && i < l->n; i++) {
		const struct store_id_item *it = &l->v[i];
		size_t nl = strlen(it->name);
		if (procs)
			bad |= wbuf_put_be32(&w, (uint32_t)it->pid) |
			       wbuf_put_be32(&w, (uint32_t)(it->uid + 1)) |
			       wbuf_put_be32(&w, (uint32_t)(it->ppid + 1)) |
			       wbuf_put_u8(&w, it->kthread);
		bad |= wbuf_put_u8(&w, (uint8_t)nl) | wbuf_put_bytes(&w, it->name, nl) |
		       wbuf_put_u8(&w, 0);
	}
	if (bad || w.len != cap) {
		free(p);
		return SEVMON_EINTERNAL;
	}
	*blob = p;
	*len = cap;
	return 0;
}

/* One entry of the compact form; -1 if it is not one. */
static int blob_item(struct rbuf *r, bool procs, struct store_id_item *it)
{
	uint32_t pid = 0, uid = 0, ppid = 0;
	uint8_t kt = 0, nl, nul;
	const uint8_t *name;
	if (procs && (rbuf_get_be32(r, &pid) < 0 || rbuf_get_be32(r, &uid) < 0 ||
		      rbuf_get_be32(r, &ppid) < 0 || rbuf_get_u8(r, &kt) < 0 ||
		      pid > DIFF_PID_MAX || ppid > DIFF_PID_MAX + 1 || kt > 1))
		return -1;
	if (rbuf_get_u8(r, &nl) < 0 || nl == 0 || nl > DIFF_NAME_MAX ||
	    rbuf_get_bytes_direct(r, &name, nl) < 0 || rbuf_get_u8(r, &nul) < 0 || nul != 0 ||
	    memchr(name, 0, nl))
		return -1;
	*it = (struct store_id_item){ .pid = -1, .uid = -1, .ppid = -1,
				      .name = (const char *)name };
	if (procs) {
		it->pid = pid;
		it->uid = (int64_t)uid - 1;
		it->ppid = (int64_t)ppid - 1;
		it->kthread = kt;
	}
	return 0;
}

int store_idlist_from_blob(enum store_idkind k, const void *blob, size_t len,
			   struct store_idlist *l)
{
	*l = (struct store_idlist){ .kind = k };
	if (!blob || len < IDBLOB_HDR || len > (size_t)STORE_PAYLOAD_MAX + IDBLOB_HDR)
		return SEVMON_EDECODE;
	l->blob = malloc(len);
	if (!l->blob)
		return SEVMON_ENOMEM;
	memcpy(l->blob, blob, len);
	struct rbuf r = rbuf_make(l->blob, len);
	uint8_t ver, kind, flags;
	uint32_t n;
	int rc = SEVMON_EDECODE;
	if (rbuf_get_u8(&r, &ver) < 0 || rbuf_get_u8(&r, &kind) < 0 || rbuf_get_u8(&r, &flags) < 0 ||
	    rbuf_get_be32(&r, &n) < 0 || ver != IDBLOB_VERSION || kind != (uint8_t)k ||
	    (flags & ~IDBLOB_PARTIAL) || n > STORE_DIFF_MAX_ITEMS)
		goto out;
	l->partial = flags & IDBLOB_PARTIAL;
	l->v = calloc(n ? n : 1, sizeof(*l->v));
	if (!l->v) {
		rc = SEVMON_ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < n; i++)
		if (blob_item(&r, k == STORE_ID_PROCESSES, &l->v[i]) < 0)
			goto out;
	if (rbuf_left(&r) != 0)
		goto out;
	l->n = n;
	/* written sorted; sorting again costs little and makes a hand-edited row harmless */
	sort_dedup(l);
	return 0;
out:
	store_idlist_free(l);
	return rc;
}

static int diff_push(struct store_diff *d, size_t cap, enum store_severity sev, const char *kind,
		     const char *subject, json_t *detail)
{
	if (d->n >= cap) {
		json_decref(detail);
		return SEVMON_EINTERNAL;
	}
	struct store_finding *f = &d->v[d->n];
	*f = (struct store_finding){ .severity = sev };
	snprintf(f->kind, sizeof(f->kind), "%s", kind);
	snprintf(f->subject, sizeof(f->subject), "%s", subject);
	f->detail_json = detail ? json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(detail);
	if (detail && !f->detail_json)
		return SEVMON_ENOMEM;
	d->n++;
	return 0;
}

static int proc_push(struct store_diff *d, size_t cap, const struct store_id_item *it,
		     bool appeared)
{
	char subj[STORE_SUBJECT_MAX + 1];
	snprintf(subj, sizeof(subj), "%lld:%s", (long long)it->pid, it->name);
	enum store_severity sev = STORE_SEV_INFO;
	if (appeared && it->uid == 0 && !it->kthread)
		sev = STORE_SEV_HIGH;
	json_t *det = json_pack("{s:I, s:s, s:I, s:I, s:b}", "pid", (json_int_t)it->pid, "comm",
				it->name, "uid", (json_int_t)it->uid, "ppid", (json_int_t)it->ppid,
				"kthread", it->kthread);
	if (!det)
		return SEVMON_ENOMEM;
	return diff_push(d, cap, sev, appeared ? "process_appeared" : "process_vanished", subj,
			 det);
}

static int mod_push(struct store_diff *d, size_t cap, const struct store_id_item *it,
		    bool appeared)
{
	json_t *det = json_pack("{s:s}", "name", it->name);
	if (!det)
		return SEVMON_ENOMEM;
	return diff_push(d, cap, STORE_SEV_MEDIUM, appeared ? "module_appeared" : "module_vanished",
			 it->name, det);
}

int store_idlist_diff(const struct store_idlist *a, const struct store_idlist *b,
		      struct store_diff *out)
{
	*out = (struct store_diff){ 0 };
	if (a->kind != b->kind)
		return SEVMON_EINVAL;
	int (*push)(struct store_diff *, size_t, const struct store_id_item *, bool) =
		a->kind == STORE_ID_PROCESSES ? proc_push : mod_push;
	size_t cap = a->n + b->n;
	out->v = calloc(cap ? cap : 1, sizeof(*out->v));
	if (!out->v)
		return SEVMON_ENOMEM;
	int rc = 0;
	/* Why the partial rules: see store.h. A torn current list cannot prove a vanish; a
	 * torn previous list cannot prove an appearance. */
	bool report_vanished = !b->partial, report_appeared = !a->partial;
	/* vanished: in a, not in b */
	for (size_t i = 0, j = 0; i < a->n && report_vanished; i++) {
		while (j < b->n && cmp_item(&b->v[j], &a->v[i]) < 0)
			j++;
		if (j < b->n && cmp_item(&b->v[j], &a->v[i]) == 0)
			continue;
		if ((rc = push(out, cap, &a->v[i], false)) < 0)
			goto fail;
	}
	/* appeared: in b, not in a */
	for (size_t j = 0, i = 0; j < b->n && report_appeared; j++) {
		while (i < a->n && cmp_item(&a->v[i], &b->v[j]) < 0)
			i++;
		if (i < a->n && cmp_item(&a->v[i], &b->v[j]) == 0)
			continue;
		if ((rc = push(out, cap, &b->v[j], true)) < 0)
			goto fail;
	}
	return (int)out->n;
fail:
	store_diff_free(out);
	return rc;
}

static int diff_lists(enum store_idkind k, const char *prev, const char *cur,
		      struct store_diff *out, char *msg, size_t msg_len)
{
	*out = (struct store_diff){ 0 };
	struct store_idlist a = { 0 }, b = { 0 };
	/* Check the current payload even without a baseline: it is stored either way. */
	int rc = store_idlist_from_json(k, cur, &b, msg, msg_len);
	if (rc < 0 || !prev)
		goto done;
	if ((rc = store_idlist_from_json(k, prev, &a, msg, msg_len)) < 0) {
		prefix_previous(msg, msg_len);
		goto done;
	}
	rc = store_idlist_diff(&a, &b, out);
done:
	store_idlist_free(&a);
	store_idlist_free(&b);
	return rc;
}

int store_diff_processes(const char *prev, const char *cur, struct store_diff *out, char *msg,
			 size_t msg_len)
{
	return diff_lists(STORE_ID_PROCESSES, prev, cur, out, msg, msg_len);
}

int store_diff_modules(const char *prev, const char *cur, struct store_diff *out, char *msg,
		       size_t msg_len)
{
	return diff_lists(STORE_ID_MODULES, prev, cur, out, msg, msg_len);
}

static int banner_parse(const char *text, json_t **doc, const char **banner, char *msg,
			size_t msg_len)
{
	int rc = store_json_parse(text, STORE_PAYLOAD_MAX, doc, msg, msg_len);
	if (rc < 0)
		return rc;
	json_t *b = json_is_object(*doc) ? json_object_get(*doc, "banner") : NULL;
	if (!json_is_string(b) || json_string_length(b) > STORE_BANNER_MAX ||
	    strlen(json_string_value(b)) != json_string_length(b)) {
		json_decref(*doc);
		*doc = NULL;
		return store_msg(msg, msg_len, SEVMON_EINVAL,
			    "expected {\"banner\": string of at most %d bytes}", STORE_BANNER_MAX);
	}
	*banner = json_string_value(b);
	return 0;
}

int store_diff_banner(const char *prev, const char *cur, struct store_diff *out, char *msg,
		      size_t msg_len)
{
	*out = (struct store_diff){ 0 };
	json_t *pd = NULL, *cd = NULL;
	const char *pb = NULL, *cb = NULL;
	int rc = banner_parse(cur, &cd, &cb, msg, msg_len);
	if (rc < 0 || !prev)
		goto done;
	if ((rc = banner_parse(prev, &pd, &pb, msg, msg_len)) < 0) {
		prefix_previous(msg, msg_len);
		goto done;
	}
	rc = 0;
	if (strcmp(pb, cb) == 0)
		goto done;
	out->v = calloc(1, sizeof(*out->v));
	json_t *det = json_pack("{s:s, s:s}", "old", pb, "new", cb);
	if (!out->v || !det) {
		json_decref(det);
		rc = SEVMON_ENOMEM;
		goto done;
	}
	rc = diff_push(out, 1, STORE_SEV_HIGH, "banner_changed", "banner", det);
	if (rc == 0)
		rc = 1;
done:
	if (rc < 0)
		store_diff_free(out);
	json_decref(pd);
	json_decref(cd);
	return rc;
}
