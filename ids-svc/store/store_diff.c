/*
 * store_diff.c — what changed between two payloads of one check (contract in store.h).
 *
 * Both lists are parsed into arrays of identities, sorted, and walked together once:
 * O(n log n), and bounded by STORE_DIFF_MAX_ITEMS entries per list.
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "store.h"
#include "store_impl.h"

/* A comm is 16 bytes in the kernel, a module name 56; 64 leaves room for escapes. */
#define DIFF_NAME_MAX 64
/* pid_max is at most 2^22 on Linux; anything up to INT32_MAX is accepted as a number. */
#define DIFF_PID_MAX 2147483647LL

struct item {
	long long pid;    /* -1 for modules */
	const char *name; /* borrowed from the parsed document */
	long long uid;    /* -1 unknown */
	long long ppid;   /* -1 unknown */
	bool kthread;
};

struct list {
	json_t *doc;
	struct item *v;
	size_t n;
	bool partial;
};

static void list_free(struct list *l)
{
	free(l->v);
	json_decref(l->doc);
	*l = (struct list){ 0 };
}

static int fail(char *msg, size_t len, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int fail(char *msg, size_t len, int err, const char *fmt, ...)
{
	if (msg && len) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(msg, len, fmt, ap);
		va_end(ap);
	}
	return err;
}

int store_json_parse(const char *text, size_t max, json_t **out, char *msg, size_t msg_len)
{
	*out = NULL;
	size_t len = strnlen(text, (size_t)max + 1);
	if (len > max)
		return fail(msg, msg_len, SEVMON_ETOOBIG, "JSON over the limit of %zu bytes", max);
	json_error_t e;
	json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &e);
	if (!j)
		return fail(msg, msg_len, SEVMON_EINVAL, "malformed JSON at line %d column %d: %s",
			    e.line, e.column, e.text);
	*out = j;
	return 0;
}

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
	const struct item *x = a, *y = b;
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

/* Parse `text` into a sorted, de-duplicated list of the array member `key`. */
static int list_parse(const char *text, const char *key, bool procs, struct list *l,
		      char *msg, size_t msg_len)
{
	*l = (struct list){ 0 };
	int rc = store_json_parse(text, STORE_PAYLOAD_MAX, &l->doc, msg, msg_len);
	if (rc < 0)
		return rc;
	json_t *arr = json_is_object(l->doc) ? json_object_get(l->doc, key) : NULL;
	if (!json_is_array(arr)) {
		rc = fail(msg, msg_len, SEVMON_EINVAL, "expected an object with array \"%s\"", key);
		goto out;
	}
	json_t *partial = json_object_get(l->doc, "partial");
	if (partial && !json_is_boolean(partial)) {
		rc = fail(msg, msg_len, SEVMON_EINVAL, "\"partial\" must be true or false");
		goto out;
	}
	l->partial = json_is_true(partial);
	size_t n = json_array_size(arr);
	if (n > STORE_DIFF_MAX_ITEMS) {
		rc = fail(msg, msg_len, SEVMON_ETOOBIG, "%zu entries in \"%s\" (limit %d)", n, key,
			  STORE_DIFF_MAX_ITEMS);
		goto out;
	}
	l->v = calloc(n ? n : 1, sizeof(*l->v));
	if (!l->v) {
		rc = fail(msg, msg_len, SEVMON_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_array_get(arr, i);
		struct item *it = &l->v[i];
		*it = (struct item){ .pid = -1, .uid = -1, .ppid = -1 };
		if (!json_is_object(e) ||
		    !name_ok(json_object_get(e, procs ? "comm" : "name"), &it->name)) {
			rc = fail(msg, msg_len, SEVMON_EINVAL,
				  "%s[%zu]: needs a \"%s\" string of 1..%d bytes", key, i,
				  procs ? "comm" : "name", DIFF_NAME_MAX);
			goto out;
		}
		if (!procs)
			continue;
		json_t *pid = json_object_get(e, "pid");
		json_t *uid = json_object_get(e, "uid");
		json_t *ppid = json_object_get(e, "ppid");
		json_t *kt = json_object_get(e, "kthread");
		if (!json_is_integer(pid) || json_integer_value(pid) < 0 ||
		    json_integer_value(pid) > DIFF_PID_MAX) {
			rc = fail(msg, msg_len, SEVMON_EINVAL,
				  "%s[%zu]: \"pid\" must be an integer 0..%lld", key, i, DIFF_PID_MAX);
			goto out;
		}
		if ((uid && !json_is_integer(uid)) || (ppid && !json_is_integer(ppid)) ||
		    (kt && !json_is_boolean(kt))) {
			rc = fail(msg, msg_len, SEVMON_EINVAL,
				  "%s[%zu]: uid/ppid must be integers, kthread a boolean", key, i);
			goto out;
		}
		it->pid = json_integer_value(pid);
		it->uid = uid ? json_integer_value(uid) : -1;
		it->ppid = ppid ? json_integer_value(ppid) : -1;
		it->kthread = json_is_true(kt);
	}
	qsort(l->v, n, sizeof(*l->v), cmp_item);
	size_t w = 0;
	for (size_t i = 0; i < n; i++)
		if (w == 0 || cmp_item(&l->v[w - 1], &l->v[i]) != 0)
			l->v[w++] = l->v[i];
	l->n = w;
	return 0;
out:
	list_free(l);
	return rc;
}

void store_diff_free(struct store_diff *d)
{
	if (!d)
		return;
	store_findings_free(d->v, d->n);
	*d = (struct store_diff){ 0 };
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

static int proc_push(struct store_diff *d, size_t cap, const struct item *it, bool appeared)
{
	char subj[STORE_SUBJECT_MAX + 1];
	snprintf(subj, sizeof(subj), "%lld:%s", it->pid, it->name);
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

static int mod_push(struct store_diff *d, size_t cap, const struct item *it, bool appeared)
{
	json_t *det = json_pack("{s:s}", "name", it->name);
	if (!det)
		return SEVMON_ENOMEM;
	return diff_push(d, cap, STORE_SEV_MEDIUM, appeared ? "module_appeared" : "module_vanished",
			 it->name, det);
}

typedef int (*push_fn)(struct store_diff *, size_t, const struct item *, bool);

static int diff_lists(const char *prev, const char *cur, const char *key, bool procs,
		      push_fn push, struct store_diff *out, char *msg, size_t msg_len)
{
	*out = (struct store_diff){ 0 };
	struct list a = { 0 }, b = { 0 };
	/* Check the current payload even without a baseline: it is stored either way. */
	int rc = list_parse(cur, key, procs, &b, msg, msg_len);
	if (rc < 0 || !prev)
		goto done;
	if ((rc = list_parse(prev, key, procs, &a, msg, msg_len)) < 0) {
		prefix_previous(msg, msg_len);
		goto done;
	}
	size_t cap = a.n + b.n;
	out->v = calloc(cap ? cap : 1, sizeof(*out->v));
	if (!out->v) {
		rc = SEVMON_ENOMEM;
		goto done;
	}
	/* Why the partial rules: see store.h. A torn current list cannot prove a vanish; a
	 * torn previous list cannot prove an appearance. */
	bool report_vanished = !b.partial, report_appeared = !a.partial;
	/* vanished: in a, not in b */
	for (size_t i = 0, j = 0; i < a.n && report_vanished; i++) {
		while (j < b.n && cmp_item(&b.v[j], &a.v[i]) < 0)
			j++;
		if (j < b.n && cmp_item(&b.v[j], &a.v[i]) == 0)
			continue;
		if ((rc = push(out, cap, &a.v[i], false)) < 0)
			goto done;
	}
	for (size_t j = 0, i = 0; j < b.n && report_appeared; j++) {
		while (i < a.n && cmp_item(&a.v[i], &b.v[j]) < 0)
			i++;
		if (i < a.n && cmp_item(&a.v[i], &b.v[j]) == 0)
			continue;
		if ((rc = push(out, cap, &b.v[j], true)) < 0)
			goto done;
	}
	rc = (int)out->n;
done:
	if (rc < 0)
		store_diff_free(out);
	list_free(&a);
	list_free(&b);
	return rc;
}

int store_diff_processes(const char *prev, const char *cur, struct store_diff *out, char *msg,
			 size_t msg_len)
{
	return diff_lists(prev, cur, "processes", true, proc_push, out, msg, msg_len);
}

int store_diff_modules(const char *prev, const char *cur, struct store_diff *out, char *msg,
		       size_t msg_len)
{
	return diff_lists(prev, cur, "modules", false, mod_push, out, msg, msg_len);
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
		return fail(msg, msg_len, SEVMON_EINVAL,
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
