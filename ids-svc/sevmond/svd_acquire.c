/*
 * svd_acquire.c — memory acquisitions by sevmond (forensics/acquire.h): a finding at or
 * above `acquire_on` (or POST /v1/targets/{name}/acquisitions) queues an acquisition job
 * on the target; its worker streams the guest's RAM through the target's own session
 * into a LiME (or ELF) image sealed to the daemon's key.
 *
 * Each acquisition is a directory acquire_dir/ID/ (ID: the decimal Unix milliseconds it
 * was made at, taken with mkdir, so replicas sharing the volume never collide):
 *   acquisition.json   what it is: target, trigger (the finding, its scan), status
 *                      (queued, running, done, failed), the replica and process, times
 *   image.lime|.elf    the sealed image; image.*.manifest.json beside it (acquire.h)
 * The API lists and serves them from the directory, so any replica sharing it answers.
 * At most acquire_keep are kept: past that, the oldest finished ones are deleted.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acquire.h"
#include "clock.h"
#include "err.h"
#include "svd.h"

/* Acquisition directories the API lists at most (the keep limit's maximum). */
#define ACQ_LIST_MAX SVD_ACQUIRE_KEEP_MAX
/* A metadata file: a few hundred bytes; the manifest: 64 ranges and the unreadable list. */
#define ACQ_META_MAX (64u << 10)
#define ACQ_MANIFEST_MAX (1u << 20)

struct svd_acq {
	char id[24];
	char dir[SVD_PATH_MAX + 32];
	char image[SVD_PATH_MAX + 64];
	char target[SVD_NAME_MAX + 1];
	char replica[SVD_NAME_MAX + 1];
	int format;
	/* why: a finding (check, kind, subject, severity, scan) or "api" */
	char by[16];
	char check[CHECK_NAME_MAX + 1], kind[64], subject[256];
	enum store_severity severity;
	int64_t scan_id;
	int64_t queued_ms, started_ms, finished_ms;
	/* the worker's outcome */
	int rc;
	char err[320];
	struct acquire_result res;
};

/* ---- files ---- */

static int write_json_file(const char *path, json_t *doc)
{
	char tmp[SVD_PATH_MAX + 256];
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	int rc = json_dump_file(doc, tmp, JSON_COMPACT) == 0 && rename(tmp, path) == 0 ? 0 : SEVMON_EIO;
	if (rc < 0)
		unlink(tmp);
	return rc;
}

static json_t *read_json_file(const char *path, size_t max)
{
	struct stat st;
	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > max)
		return NULL;
	return json_load_file(path, 0, NULL);
}

static void meta_write(const struct svd_acq *a, const char *status)
{
	char path[SVD_PATH_MAX + 128], host[64] = "";
	gethostname(host, sizeof host - 1);
	json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:I}", "id", a->id, "target", a->target,
			      "status", status, "format", a->format ? "elf" : "lime", "replica",
			      a->replica, "host", host, "pid", (json_int_t)getpid(), "queued_ms",
			      (json_int_t)a->queued_ms);
	if (!o)
		return;
	json_t *trig = json_pack("{s:s}", "by", a->by);
	if (trig && !strcmp(a->by, "finding")) {
		json_object_set_new(trig, "check", json_string(a->check));
		json_object_set_new(trig, "kind", json_string(a->kind));
		json_object_set_new(trig, "subject", json_string(a->subject));
		json_object_set_new(trig, "severity", json_string(store_severity_name(a->severity)));
		if (a->scan_id > 0)
			json_object_set_new(trig, "scan", json_sprintf("%" PRId64, a->scan_id));
	}
	json_object_set_new(o, "trigger", trig);
	if (a->started_ms)
		json_object_set_new(o, "started_ms", json_integer(a->started_ms));
	if (a->finished_ms)
		json_object_set_new(o, "finished_ms", json_integer(a->finished_ms));
	if (!strcmp(status, "failed"))
		json_object_set_new(o, "error", json_string(a->err));
	if (!strcmp(status, "done")) {
		const char *base = strrchr(a->image, '/');
		json_object_set_new(o, "image", json_string(base ? base + 1 : a->image));
		json_object_set_new(o, "image_sha256", json_string(a->res.image_sha256));
		json_object_set_new(o, "image_bytes", json_integer((json_int_t)a->res.image_bytes));
		json_object_set_new(o, "file_bytes", json_integer((json_int_t)a->res.file_bytes));
		json_object_set_new(o, "unreadable_bytes",
				    json_integer((json_int_t)a->res.unreadable_bytes));
		json_object_set_new(o, "seconds", json_real(a->res.seconds));
	}
	snprintf(path, sizeof path, "%s/acquisition.json", a->dir);
	if (write_json_file(path, o) < 0)
		svd_log("acquisition %s: cannot write %s", a->id, path);
	json_decref(o);
}

/* A new directory acquire_dir/ID, ID from now (ms), the next free one if taken. */
static int make_dir(struct svd *d, struct svd_acq *a)
{
	const char *root = d->cfg.acquire_dir;
	if (mkdir(root, 0700) < 0 && errno != EEXIST)
		return sevmon_from_errno(errno);
	int64_t t = clock_real_ms();
	for (int i = 0; i < 1000; i++, t++) {
		snprintf(a->id, sizeof a->id, "%" PRId64, t);
		snprintf(a->dir, sizeof a->dir, "%s/%s", root, a->id);
		if (mkdir(a->dir, 0700) == 0)
			return 0;
		if (errno != EEXIST)
			return sevmon_from_errno(errno);
	}
	return SEVMON_EEXIST;
}

static void remove_dir(const char *dir)
{
	DIR *dp = opendir(dir);
	struct dirent *e;
	char p[SVD_PATH_MAX + 400];
	while (dp && (e = readdir(dp)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
			unlink(p);
		}
	if (dp)
		closedir(dp);
	rmdir(dir);
}

static int is_id(const char *s)
{
	size_t n = strlen(s);
	return n > 0 && n <= 20 && strspn(s, "0123456789") == n;
}

static int cmp_desc(const void *a, const void *b)
{
	unsigned long long x = strtoull(*(char *const *)a, NULL, 10),
			   y = strtoull(*(char *const *)b, NULL, 10);
	return x < y ? 1 : x > y ? -1 : 0;
}

/* The ids in acquire_dir, newest first (at most ACQ_LIST_MAX). Caller frees each and v. */
static int list_ids(struct svd *d, char ***out, size_t *n)
{
	*out = NULL;
	*n = 0;
	DIR *dp = opendir(d->cfg.acquire_dir);
	if (!dp)
		return errno == ENOENT ? 0 : sevmon_from_errno(errno);
	char **v = NULL;
	size_t cap = 0;
	struct dirent *e;
	int rc = 0;
	while ((e = readdir(dp)) && *n < ACQ_LIST_MAX) {
		if (!is_id(e->d_name))
			continue;
		if (*n == cap) {
			size_t nc = cap ? cap * 2 : 32;
			char **nv = realloc(v, nc * sizeof *v);
			if (!nv) {
				rc = SEVMON_ENOMEM;
				break;
			}
			v = nv;
			cap = nc;
		}
		if (!(v[*n] = strdup(e->d_name))) {
			rc = SEVMON_ENOMEM;
			break;
		}
		(*n)++;
	}
	closedir(dp);
	if (*n)
		qsort(v, *n, sizeof *v, cmp_desc);
	*out = v;
	return rc;
}

static void free_ids(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* acquisition.json of id, with a status that a dead process left as running read as
 * "interrupted" (it was on this host and its process is gone). */
static json_t *meta_read(struct svd *d, const char *id)
{
	char path[SVD_PATH_MAX + 128], host[64] = "";
	snprintf(path, sizeof path, "%s/%s/acquisition.json", d->cfg.acquire_dir, id);
	json_t *o = read_json_file(path, ACQ_META_MAX);
	if (!json_is_object(o)) {
		json_decref(o);
		return NULL;
	}
	const char *st = json_string_value(json_object_get(o, "status"));
	const char *h = json_string_value(json_object_get(o, "host"));
	json_int_t pid = json_integer_value(json_object_get(o, "pid"));
	gethostname(host, sizeof host - 1);
	if (st && (!strcmp(st, "running") || !strcmp(st, "queued")) && h && !strcmp(h, host) &&
	    pid > 0 && kill((pid_t)pid, 0) < 0 && errno == ESRCH)
		json_object_set_new(o, "status", json_string("interrupted"));
	return o;
}

/* Past acquire_keep: delete the oldest finished (done, failed, interrupted). */
static void prune(struct svd *d)
{
	char **v;
	size_t n;
	if (list_ids(d, &v, &n) < 0)
		return;
	for (size_t i = d->cfg.acquire_keep; i < n; i++) {
		json_t *o = meta_read(d, v[i]);
		const char *st = o ? json_string_value(json_object_get(o, "status")) : "failed";
		if (st && strcmp(st, "running") && strcmp(st, "queued")) {
			char dir[SVD_PATH_MAX + 64];
			snprintf(dir, sizeof dir, "%s/%s", d->cfg.acquire_dir, v[i]);
			remove_dir(dir);
			svd_log("acquisition %s: removed (acquire_keep = %u)", v[i], d->cfg.acquire_keep);
		}
		json_decref(o);
	}
	free_ids(v, n);
}

/* ---- the job ---- */

static void count(struct svd *d, const char *status)
{
	const char *labels[] = { "status", status, NULL };
	metrics_counter_add(d->metrics, "sevmond_acquisitions_total", labels, 1);
}

static void acq_done(struct svd *d, struct svd_job *j)
{
	struct svd_acq *a = j->acq;
	a->finished_ms = clock_real_ms();
	if (j->session_rc < 0 && !a->rc) {
		a->rc = j->session_rc;
		svd_copy(a->err, sizeof a->err, j->session_err);
	}
	if (a->rc < 0) {
		meta_write(a, "failed");
		svd_log("acquisition %s of %s: failed: %s", a->id, a->target, a->err);
		count(d, "failed");
	} else {
		meta_write(a, "done");
		svd_log("acquisition %s of %s: %" PRIu64 " bytes of memory in %.1f s, image sha256 %s",
			a->id, a->target, a->res.memory_bytes, a->res.seconds, a->res.image_sha256);
		count(d, "done");
	}
	prune(d);
}

static void acq_drop(struct svd *d, struct svd_job *j, int status, const char *why)
{
	struct svd_acq *a = j->acq;
	a->rc = status;
	svd_copy(a->err, sizeof a->err, why);
	a->finished_ms = clock_real_ms();
	meta_write(a, "failed");
	svd_log("acquisition %s of %s: not run: %s", a->id, a->target, why);
	count(d, "failed");
}

static const struct svd_job_ops acq_ops = { acq_done, acq_drop };

void svd_acquire_work(struct svd_job *j)
{
	struct svd_target *t = j->t;
	struct svd_acq *a = j->acq;
	struct ids_agent_info info;
	a->started_ms = clock_real_ms();
	meta_write(a, "running");
	a->rc = ids_agent_get_info(&t->conn, &info, a->err, sizeof a->err);
	if (a->rc < 0)
		return;
	char *ev = acquire_evidence_json(&t->pol.peer.last);
	struct acquire_opts o = { .out = a->image, .format = (enum image_format)a->format,
				  .sealed = 1, .key = &t->pol.key, .source_uri = j->uri,
				  .evidence_json = ev };
	a->rc = acquire_run(&t->conn, &info, &o, &a->res, a->err, sizeof a->err);
	free(ev);
}

/* Queue an acquisition of t (why: a->by and the trigger filled by the caller); a is the
 * job's from here, or freed. id (may be NULL) gets its id. */
static int start(struct svd *d, struct svd_target *t, struct svd_acq *a, char *id)
{
	int rc = make_dir(d, a);
	if (rc < 0) {
		svd_log("acquisition of %s: %s: %s", t->cfg.name, d->cfg.acquire_dir,
			sevmon_strerror(rc));
		free(a);
		return rc;
	}
	svd_copy(a->target, sizeof a->target, t->cfg.name);
	svd_copy(a->replica, sizeof a->replica, d->replica);
	a->format = d->cfg.acquire_format;
	a->queued_ms = clock_real_ms();
	snprintf(a->image, sizeof a->image, "%s/image.%s", a->dir, a->format ? "elf" : "lime");
	struct svd_job *j = svd_job_new(d, t, SVD_JOB_ACQUIRE, 0, &acq_ops);
	if (!j) {
		remove_dir(a->dir);
		free(a);
		return SEVMON_ENOMEM;
	}
	j->acq = a;
	meta_write(a, "queued");
	if ((rc = svd_job_queue(d, t, j)) < 0) {
		acq_drop(d, j, rc, "the target's queue is full");
		svd_job_free(j);
		return rc;
	}
	t->last_acquire_ms = a->queued_ms;
	if (id)
		snprintf(id, REST_NAME_MAX + 1, "%s", a->id);
	svd_log("acquisition %s of %s: queued (%s%s%s)", a->id, t->cfg.name, a->by,
		a->kind[0] ? ": " : "", a->kind);
	svd_dispatch(d);
	return 0;
}

void svd_acquire_after_scan(struct svd *d, struct svd_job *j)
{
	struct svd_target *t = j->t;
	if (!d->cfg.acquire_on || !t || t->removed || j->session_rc < 0)
		return;
	const struct check_finding *hit = NULL;
	const char *check = NULL;
	for (size_t i = 0; i < check_count() && !hit; i++) {
		if (!(j->checks & (1ull << i)) || j->out[i].rc < 0)
			continue;
		for (size_t k = 0; k < j->out[i].findings.n && !hit; k++)
			if ((int)j->out[i].findings.v[k].severity + 1 >= d->cfg.acquire_on) {
				hit = &j->out[i].findings.v[k];
				check = check_at(i)->name;
			}
	}
	if (!hit)
		return;
	int64_t now = clock_real_ms();
	if (t->last_acquire_ms && now - t->last_acquire_ms < (int64_t)d->cfg.acquire_interval_s * 1000)
		return; /* one per acquire_interval: a finding that stays raises it every scan */
	struct svd_acq *a = calloc(1, sizeof *a);
	if (!a)
		return;
	snprintf(a->by, sizeof a->by, "finding");
	svd_copy(a->check, sizeof a->check, check);
	svd_copy(a->kind, sizeof a->kind, hit->kind ? hit->kind : "");
	svd_copy(a->subject, sizeof a->subject, hit->subject ? hit->subject : "");
	a->severity = hit->severity;
	a->scan_id = j->scan_id;
	(void)start(d, t, a, NULL);
}

int svd_acquire_start(struct svd *d, const char *name, char *id)
{
	if (!d->cfg.acquire_dir[0])
		return SEVMON_ENOTSUP;
	struct svd_target *t = svd_target_find(d, name);
	if (!t) {
		struct store_target row;
		int rc = store_target_get(d->store, name, &row);
		if (rc == 0)
			store_target_clear(&row);
		return rc == 0 ? SEVMON_EBUSY : SEVMON_ENOENT; /* another replica holds it */
	}
	for (struct svd_job *q = t->qhead; q; q = q->next)
		if (q->kind == SVD_JOB_ACQUIRE)
			return SEVMON_EBUSY;
	struct svd_acq *a = calloc(1, sizeof *a);
	if (!a)
		return SEVMON_ENOMEM;
	snprintf(a->by, sizeof a->by, "api");
	return start(d, t, a, id);
}

void svd_acq_free(struct svd_acq *a)
{
	free(a);
}

/* ---- the API's views ---- */

int svd_acquisitions_json(struct svd *d, const char *target, json_t **out)
{
	if (!d->cfg.acquire_dir[0]) {
		*out = json_array();
		return *out ? 0 : SEVMON_ENOMEM;
	}
	char **v;
	size_t n;
	int rc = list_ids(d, &v, &n);
	if (rc < 0)
		return rc;
	json_t *arr = json_array();
	for (size_t i = 0; arr && i < n; i++) {
		json_t *o = meta_read(d, v[i]);
		const char *tg = o ? json_string_value(json_object_get(o, "target")) : NULL;
		if (o && (!target || (tg && !strcmp(tg, target))))
			json_array_append_new(arr, o);
		else
			json_decref(o);
	}
	free_ids(v, n);
	*out = arr;
	return arr ? 0 : SEVMON_ENOMEM;
}

/* The image file of a finished acquisition (its meta names it). */
static int image_path(struct svd *d, const char *id, json_t *o, char *path, size_t cap)
{
	const char *st = json_string_value(json_object_get(o, "status"));
	const char *img = json_string_value(json_object_get(o, "image"));
	if (!st || strcmp(st, "done"))
		return SEVMON_EBUSY;
	if (!img || (strcmp(img, "image.lime") && strcmp(img, "image.elf")))
		return SEVMON_ENOENT;
	snprintf(path, cap, "%s/%s/%s", d->cfg.acquire_dir, id, img);
	return 0;
}

int svd_acquisition_json(struct svd *d, const char *id, json_t **out)
{
	if (!d->cfg.acquire_dir[0] || !is_id(id))
		return SEVMON_ENOENT;
	json_t *o = meta_read(d, id);
	if (!o)
		return SEVMON_ENOENT;
	char img[SVD_PATH_MAX + 128], man[SVD_PATH_MAX + 160];
	if (image_path(d, id, o, img, sizeof img) == 0) {
		snprintf(man, sizeof man, "%s.manifest.json", img);
		json_t *m = read_json_file(man, ACQ_MANIFEST_MAX);
		if (m)
			json_object_set_new(o, "manifest", m);
	}
	*out = o;
	return 0;
}

int svd_acquisition_file(struct svd *d, const char *id, char *path, size_t cap)
{
	if (!d->cfg.acquire_dir[0] || !is_id(id))
		return SEVMON_ENOENT;
	json_t *o = meta_read(d, id);
	if (!o)
		return SEVMON_ENOENT;
	int rc = image_path(d, id, o, path, cap);
	json_decref(o);
	return rc;
}
