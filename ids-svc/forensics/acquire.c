/*
 * acquire.c — memory acquisition through the channel (acquire.h).
 *
 * A window of slots, each one ReadPhys piece of at most ACQ_PIECE bytes. Requests go out
 * in file order; answers come back in any order; the writer takes slots in file order, so
 * the file is written front to back (what makes resume a matter of the file's length).
 * Header and padding bytes of the layout are written when the writer reaches them.
 *
 * Two threads: the connection's loop (requests, answers decrypted into slots) and a
 * writer (hashing, sealing, the file). Each answer costs its decryption on the loop and
 * its two SHA-256s and a page-cache copy (and sealing) on the writer; on one thread the
 * agent waited for every write and the acquisition ran at half the channel's rate.
 * Slots move FREE -> WAIT (loop) -> DONE (loop) -> WRITING -> FREE (writer) under mu; the
 * writer wakes the loop with an async handle when a slot frees or it stops.
 */
#include "acquire.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "check.h"
#include "clock.h"
#include "digest.h"
#include "err.h"
#include "fdio.h"
#include "jw.h"
#include "kchecks.h"
#include "mem_seal.h"
#include "sevmon.sevrpc-client.h"

#define PAGE 4096u
/* Progress callbacks at most this often. */
#define PROGRESS_MS 250
/* The journal's first line, and each unreadable run after it: a few hundred bytes. */
#define JOURNAL_LINE_MAX 8192

enum slot_state { SLOT_FREE = 0, SLOT_WAIT, SLOT_DONE, SLOT_WRITING };

struct acq;

struct slot {
	struct acq *a;
	enum slot_state state;
	uint64_t off;    /* file offset */
	uint64_t phys;
	uint32_t len;
	unsigned waiting; /* requests out for it (1, or its pages after a refusal) */
	uint8_t *buf;
};

/* One page of a refused piece. */
struct page_req {
	struct slot *s;
	uint32_t at; /* offset in the slot */
};

struct acq {
	struct ids_conn *c;
	const struct acquire_opts *o;
	struct image_layout lay;
	int fd;
	struct seal_writer *sw;
	FILE *journal;
	char jpath[4200];
	struct digest img, rng[IMAGE_MAX_RANGES];
	_Atomic uint64_t wr; /* written (and hashed) up to here: the writer's */
	uint64_t rq; /* requested up to here: the loop's */
	pthread_mutex_t mu;  /* slots' states, stop, writer_done */
	pthread_cond_t cv;   /* the writer waits here for a slot to be DONE */
	pthread_mutex_t smu; /* status and err (fail() from either thread) */
	uv_async_t wake;     /* the writer freed a slot, or stopped */
	pthread_t writer;
	int writer_on, stop, writer_done;
	struct slot slot[ACQ_WINDOW];
	struct bad_run {
		uint64_t start, size;
	} bad[ACQ_MAX_UNREADABLE];
	size_t nbad;
	uint64_t bad_bytes, requests;
	int status, done;
	char err[256];
	int64_t t0, last_progress;
};

static int fail(struct acq *a, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct acq *a, int rc, const char *fmt, ...)
{
	pthread_mutex_lock(&a->smu);
	if (a->status == 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(a->err, sizeof a->err, fmt, ap);
		va_end(ap);
		a->status = rc;
	}
	pthread_mutex_unlock(&a->smu);
	return rc;
}

static int status_of(struct acq *a)
{
	pthread_mutex_lock(&a->smu);
	int rc = a->status;
	pthread_mutex_unlock(&a->smu);
	return rc;
}

/* ---- the sink: the plain file or the sealed container ---- */

static int sink_write(struct acq *a, const uint8_t *p, size_t n)
{
	return a->sw ? seal_writer_write(a->sw, p, n) : fd_write_all(a->fd, p, n);
}

/* Hash what goes to the file at offset off, n bytes (memory bytes also per range). */
static void hash(struct acq *a, uint64_t off, const uint8_t *p, size_t n)
{
	digest_update(&a->img, p, n);
	while (n) {
		size_t ri;
		uint64_t phys, len;
		const uint8_t *head;
		int kind = image_layout_at(&a->lay, off, &ri, &phys, &head, &len);
		size_t take = len < n ? (size_t)len : n;
		if (kind == 2)
			digest_update(&a->rng[ri], p, take);
		off += take;
		p += take;
		n -= take;
	}
}

static int emit(struct acq *a, const uint8_t *p, size_t n)
{
	int rc = sink_write(a, p, n);
	if (rc < 0)
		return fail(a, rc, "writing %s: %s", a->o->out, sevmon_strerror(rc));
	hash(a, a->wr, p, n);
	a->wr += n;
	return 0;
}

static void note_unreadable(struct acq *a, uint64_t phys, uint64_t len, int journal)
{
	a->bad_bytes += len;
	if (a->nbad && a->bad[a->nbad - 1].start + a->bad[a->nbad - 1].size == phys)
		a->bad[a->nbad - 1].size += len; /* runs of pages are one entry */
	else if (a->nbad < ACQ_MAX_UNREADABLE)
		a->bad[a->nbad++] = (struct bad_run){ phys, len };
	if (journal && a->journal) {
		fprintf(a->journal, "unreadable 0x%" PRIx64 " %" PRIu64 "\n", phys, len);
		fflush(a->journal);
	}
}

static void progress(struct acq *a, int final)
{
	int64_t now = clock_mono_ms();
	if (!a->o->progress || (!final && now - a->last_progress < PROGRESS_MS))
		return;
	a->last_progress = now;
	a->o->progress(a->o->progress_ctx, a->wr, a->lay.total, (double)(now - a->t0) / 1000.0);
}

/* ---- the writer thread ---- */

/* Everything in file order: header and padding as the layout has them, memory as its
 * slots are DONE. Ends at the file's end, on an error, or when the loop says stop. */
static void *writer_main(void *arg)
{
	static const uint8_t zeros[PAGE];
	struct acq *a = arg;
	pthread_mutex_lock(&a->mu);
	while (!a->stop && a->wr < a->lay.total && status_of(a) == 0) {
		size_t ri;
		uint64_t phys, len;
		const uint8_t *head;
		int kind = image_layout_at(&a->lay, a->wr, &ri, &phys, &head, &len);
		if (kind == 1 || kind == 3) {
			pthread_mutex_unlock(&a->mu);
			if (kind == 1)
				emit(a, head, (size_t)len);
			else
				emit(a, zeros, (size_t)(len < PAGE ? len : PAGE));
			pthread_mutex_lock(&a->mu);
			continue;
		}
		struct slot *s = NULL;
		for (unsigned i = 0; i < ACQ_WINDOW && !s; i++)
			if (a->slot[i].state == SLOT_DONE && a->slot[i].off == a->wr)
				s = &a->slot[i];
		if (!s) {
			pthread_cond_wait(&a->cv, &a->mu);
			continue;
		}
		s->state = SLOT_WRITING;
		pthread_mutex_unlock(&a->mu);
		emit(a, s->buf, s->len);
		pthread_mutex_lock(&a->mu);
		s->state = SLOT_FREE;
		uv_async_send(&a->wake);
	}
	a->writer_done = 1;
	pthread_mutex_unlock(&a->mu);
	uv_async_send(&a->wake);
	return NULL;
}

/* ---- the loop side ---- */

static void issue_locked(struct acq *a);

/* Under mu: the acquisition is over when the writer stopped and no request is out. */
static void check_done(struct acq *a)
{
	int busy = 0;
	for (unsigned i = 0; i < ACQ_WINDOW; i++)
		busy |= a->slot[i].state == SLOT_WAIT;
	if (!busy && a->writer_done)
		a->done = 1;
}

static void on_wake(uv_async_t *h)
{
	struct acq *a = h->data;
	pthread_mutex_lock(&a->mu);
	issue_locked(a);
	check_done(a);
	pthread_mutex_unlock(&a->mu);
	progress(a, 0);
}

static void slot_request_done(struct slot *s)
{
	struct acq *a = s->a;
	pthread_mutex_lock(&a->mu);
	if (--s->waiting == 0) {
		s->state = SLOT_DONE;
		pthread_cond_signal(&a->cv);
	}
	if (status_of(a)) {
		a->stop = 1; /* the writer may be waiting for a slot that will never come */
		pthread_cond_signal(&a->cv);
	}
	issue_locked(a);
	check_done(a);
	pthread_mutex_unlock(&a->mu);
}

static void on_page(void *user, int status, const char *errmsg, Sevmon__V1__ReadResponse *r)
{
	struct page_req *p = user;
	struct slot *s = p->s;
	struct acq *a = s->a;
	uint32_t n = s->len - p->at < PAGE ? s->len - p->at : PAGE;
	(void)errmsg;
	if (status == 0 && r->data.len == n) {
		memcpy(s->buf + p->at, r->data.data, n);
	} else if (status == SEVMON_EFAULT) {
		memset(s->buf + p->at, 0, n); /* recorded, never silently */
		note_unreadable(a, s->phys + p->at, n, 1);
	} else {
		fail(a, status ? status : SEVMON_EPROTO, "page 0x%" PRIx64 ": %s",
		     s->phys + p->at, sevmon_strerror(status ? status : SEVMON_EPROTO));
	}
	free(p);
	slot_request_done(s);
}

static void on_piece(void *user, int status, const char *errmsg, Sevmon__V1__ReadResponse *r)
{
	struct slot *s = user;
	struct acq *a = s->a;
	if (status == 0 && r->data.len == s->len) {
		memcpy(s->buf, r->data.data, s->len); /* the slot is WAIT: the writer keeps off it */
		slot_request_done(s);
		return;
	}
	if (status == 0)
		status = SEVMON_EPROTO; /* an agent answers all bytes or an error */
	if (status != SEVMON_EFAULT || status_of(a)) {
		fail(a, status, "0x%" PRIx64 ": %s", s->phys,
		     errmsg && *errmsg ? errmsg : sevmon_strerror(status));
		slot_request_done(s);
		return;
	}
	/* some byte of the piece is not there: ask page by page which */
	unsigned pages = (s->len + PAGE - 1) / PAGE;
	pthread_mutex_lock(&a->mu);
	s->waiting += pages - 1; /* this request's count is kept until the pages are out */
	pthread_mutex_unlock(&a->mu);
	for (unsigned i = 0; i < pages; i++) {
		struct page_req *p = malloc(sizeof *p);
		Sevmon__V1__ReadPhysRequest req = SEVMON__V1__READ_PHYS_REQUEST__INIT;
		int rc = p ? 0 : SEVMON_ENOMEM;
		if (p) {
			*p = (struct page_req){ s, i * PAGE };
			req.addr = s->phys + p->at;
			req.len = s->len - p->at < PAGE ? s->len - p->at : PAGE;
			rc = sevmon_agent_read_phys(a->c->rpc, &req, a->c->request_timeout_ms, on_page, p);
			a->requests++;
		}
		if (rc < 0) {
			free(p);
			fail(a, rc, "0x%" PRIx64 ": %s", s->phys, sevmon_strerror(rc));
			pthread_mutex_lock(&a->mu);
			s->waiting -= pages - i - 1; /* the ones not sent */
			pthread_mutex_unlock(&a->mu);
			slot_request_done(s);
			return;
		}
	}
}

/* Under mu: fill every free slot with the next piece, in file order. */
static void issue_locked(struct acq *a)
{
	while (status_of(a) == 0 && a->rq < a->lay.total) {
		size_t ri;
		uint64_t phys, len;
		const uint8_t *head;
		int kind = image_layout_at(&a->lay, a->rq, &ri, &phys, &head, &len);
		if (kind != 2) {
			a->rq += len; /* header or padding: the writer makes those */
			continue;
		}
		struct slot *s = NULL;
		for (unsigned i = 0; i < ACQ_WINDOW && !s; i++)
			if (a->slot[i].state == SLOT_FREE)
				s = &a->slot[i];
		if (!s)
			break;
		s->state = SLOT_WAIT;
		s->off = a->rq;
		s->phys = phys;
		s->len = (uint32_t)(len < ACQ_PIECE ? len : ACQ_PIECE);
		s->waiting = 1;
		Sevmon__V1__ReadPhysRequest req = SEVMON__V1__READ_PHYS_REQUEST__INIT;
		req.addr = phys;
		req.len = s->len;
		int rc = sevmon_agent_read_phys(a->c->rpc, &req, a->c->request_timeout_ms, on_piece, s);
		if (rc < 0) {
			s->state = SLOT_FREE;
			fail(a, rc, "sending a read: %s", sevmon_strerror(rc));
			a->stop = 1;
			pthread_cond_signal(&a->cv);
			break;
		}
		a->requests++;
		a->rq += s->len;
	}
}

/* ---- one synchronous read (the VMCOREINFO note for an ELF image) ---- */

struct sync_read {
	int done, status;
	uint8_t *out;
	uint32_t len;
};

static void on_sync(void *user, int status, const char *errmsg, Sevmon__V1__ReadResponse *r)
{
	struct sync_read *w = user;
	(void)errmsg;
	w->status = status == 0 && r->data.len != w->len ? SEVMON_EPROTO : status;
	if (w->status == 0)
		memcpy(w->out, r->data.data, w->len);
	w->done = 1;
}

static int read_sync(struct ids_conn *c, uint64_t addr, uint8_t *out, uint32_t len)
{
	struct sync_read w = { .out = out, .len = len };
	Sevmon__V1__ReadPhysRequest req = SEVMON__V1__READ_PHYS_REQUEST__INIT;
	req.addr = addr;
	req.len = len;
	int rc = sevmon_agent_read_phys(c->rpc, &req, c->request_timeout_ms, on_sync, &w);
	if (rc == 0)
		rc = ids_conn_wait(c, &w.done);
	return rc < 0 ? rc : w.status;
}

/* ---- the journal: what the file is, while it is being written ---- */

static char *journal_header(const struct acq *a)
{
	struct jw w;
	char *t = NULL;
	jw_init(&w, JOURNAL_LINE_MAX);
	jw_obj(&w);
	jw_key(&w, "sevmon_acquire");
	jw_int(&w, 1);
	jw_key(&w, "format");
	jw_str(&w, a->lay.format == IMAGE_ELF ? "elf" : "lime");
	jw_key(&w, "sealed");
	jw_bool(&w, a->o->sealed);
	jw_key(&w, "total");
	jw_uint(&w, a->lay.total);
	jw_key(&w, "ranges");
	jw_arr(&w);
	for (size_t i = 0; i < a->lay.n; i++) {
		jw_arr(&w);
		jw_uint(&w, a->lay.r[i].start);
		jw_uint(&w, a->lay.r[i].size);
		jw_arr_end(&w);
	}
	jw_arr_end(&w);
	jw_key(&w, "head");
	jw_hexbytes(&w, a->lay.head, a->lay.head_len);
	jw_obj_end(&w);
	return jw_finish(&w, &t, NULL) == 0 ? t : NULL;
}

/* Resume: the journal must describe this very acquisition; its unreadable runs come back. */
static int journal_resume(struct acq *a)
{
	FILE *f = fopen(a->jpath, "r");
	if (!f)
		return fail(a, SEVMON_EINVAL, "nothing to resume: no journal %s", a->jpath);
	char *line = malloc(JOURNAL_LINE_MAX + 2), *want = journal_header(a);
	int rc = 0;
	if (!line || !want)
		rc = fail(a, SEVMON_ENOMEM, "out of memory");
	else if (!fgets(line, JOURNAL_LINE_MAX + 2, f) || strcspn(line, "\n") != strlen(want) ||
		 strncmp(line, want, strlen(want)))
		rc = fail(a, SEVMON_EINVAL, "%s is the journal of another acquisition (other ranges, "
			  "format or sealing): start afresh", a->jpath);
	while (rc == 0 && fgets(line, JOURNAL_LINE_MAX + 2, f)) {
		uint64_t start, len;
		if (sscanf(line, "unreadable 0x%" SCNx64 " %" SCNu64, &start, &len) == 2)
			note_unreadable(a, start, len, 0);
	}
	fclose(f);
	free(line);
	free(want);
	if (rc == 0 && !(a->journal = fopen(a->jpath, "a")))
		rc = fail(a, SEVMON_EIO, "cannot append to %s", a->jpath);
	return rc;
}

/* Hash again what an earlier run left in the file: [0, done). */
static int rehash(struct acq *a, uint64_t done)
{
	uint8_t *buf = malloc(ACQ_PIECE);
	if (!buf)
		return fail(a, SEVMON_ENOMEM, "out of memory");
	int rc = 0;
	for (uint64_t off = 0; rc == 0 && off < done;) {
		size_t n = done - off < ACQ_PIECE ? (size_t)(done - off) : ACQ_PIECE;
		if (a->sw)
			rc = seal_writer_pread(a->sw, off, buf, n);
		else
			rc = pread(a->fd, buf, n, (off_t)off) == (ssize_t)n ? 0 : SEVMON_EIO;
		if (rc < 0) {
			fail(a, rc, "reading back %s at %" PRIu64 ": %s", a->o->out, off,
			     sevmon_strerror(rc));
			break;
		}
		hash(a, off, buf, n);
		off += n;
	}
	free(buf);
	a->wr = done;
	a->rq = done;
	return rc;
}

static int open_output(struct acq *a, uint64_t *resumed)
{
	*resumed = 0;
	snprintf(a->jpath, sizeof a->jpath, "%s.acq", a->o->out);
	if (!a->o->resume) {
		a->fd = open(a->o->out, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (a->fd < 0)
			return fail(a, errno == EEXIST ? SEVMON_EEXIST : sevmon_from_errno(errno),
				    "%s: %s", a->o->out, errno == EEXIST ? "exists (--resume it, or "
				    "remove it)" : strerror(errno));
		char *h = journal_header(a);
		if (!h || !(a->journal = fopen(a->jpath, "w")) || fprintf(a->journal, "%s\n", h) < 0 ||
		    fflush(a->journal) != 0) {
			free(h);
			return fail(a, SEVMON_EIO, "cannot write the journal %s", a->jpath);
		}
		free(h);
		if (a->o->sealed) {
			int rc = seal_writer_open(a->fd, a->o->key->pub, &a->sw);
			if (rc < 0)
				return fail(a, rc, "sealing %s: %s", a->o->out, sevmon_strerror(rc));
		}
		return 0;
	}
	if (journal_resume(a) < 0)
		return a->status;
	a->fd = open(a->o->out, O_RDWR | O_CLOEXEC);
	if (a->fd < 0)
		return fail(a, sevmon_from_errno(errno), "%s: %s", a->o->out, strerror(errno));
	uint64_t done;
	if (a->o->sealed) {
		char why[256] = "";
		int rc = seal_writer_resume(a->fd, a->o->key->priv, a->o->key->pub, &a->sw, &done, why,
					    sizeof why);
		if (rc < 0)
			return fail(a, rc, "%s: %s", a->o->out, why);
	} else {
		struct stat st;
		if (fstat(a->fd, &st) < 0)
			return fail(a, SEVMON_EIO, "%s: %s", a->o->out, strerror(errno));
		done = (uint64_t)st.st_size < a->lay.total ? (uint64_t)st.st_size : a->lay.total;
		if (ftruncate(a->fd, (off_t)done) < 0 || lseek(a->fd, (off_t)done, SEEK_SET) < 0)
			return fail(a, SEVMON_EIO, "%s: %s", a->o->out, strerror(errno));
	}
	*resumed = done;
	return rehash(a, done);
}

static int write_manifest(struct acq *a, const struct acquire_result *res,
			  char range_hex[][65], int64_t finished_ms)
{
	struct jw w;
	char *t = NULL, tmp[4300];
	jw_init(&w, 1u << 20);
	jw_obj(&w);
	jw_key(&w, "sevmon_acquire");
	jw_int(&w, 1);
	jw_key(&w, "image");
	jw_str(&w, a->o->out);
	jw_key(&w, "format");
	jw_str(&w, a->lay.format == IMAGE_ELF ? "elf" : "lime");
	jw_key(&w, "sealed");
	jw_bool(&w, a->o->sealed);
	if (a->o->sealed) {
		jw_key(&w, "sealed_to");
		jw_hexbytes(&w, a->o->key->pub, sizeof a->o->key->pub);
	}
	if (a->o->source_uri) {
		jw_key(&w, "source");
		jw_str(&w, a->o->source_uri);
	}
	if (a->o->evidence_json) {
		jw_key(&w, "evidence");
		jw_raw(&w, a->o->evidence_json);
	}
	jw_key(&w, "finished_ms");
	jw_int(&w, finished_ms);
	jw_key(&w, "image_bytes");
	jw_uint(&w, res->image_bytes);
	jw_key(&w, "image_sha256");
	jw_str(&w, res->image_sha256);
	jw_key(&w, "file_bytes");
	jw_uint(&w, res->file_bytes);
	jw_key(&w, "file_sha256");
	jw_str(&w, res->file_sha256);
	jw_key(&w, "ranges");
	jw_arr(&w);
	for (size_t i = 0; i < a->lay.n; i++) {
		jw_obj(&w);
		jw_key(&w, "start");
		jw_hex(&w, a->lay.r[i].start);
		jw_key(&w, "size");
		jw_uint(&w, a->lay.r[i].size);
		jw_key(&w, "file_offset");
		jw_uint(&w, a->lay.r[i].file_off);
		jw_key(&w, "sha256");
		jw_str(&w, range_hex[i]);
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	jw_key(&w, "unreadable_bytes");
	jw_uint(&w, a->bad_bytes);
	jw_key(&w, "unreadable");
	jw_arr(&w);
	for (size_t i = 0; i < a->nbad; i++) {
		jw_obj(&w);
		jw_key(&w, "start");
		jw_hex(&w, a->bad[i].start);
		jw_key(&w, "size");
		jw_uint(&w, a->bad[i].size);
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	jw_obj_end(&w);
	if (jw_finish(&w, &t, NULL) < 0)
		return fail(a, SEVMON_ENOMEM, "out of memory");
	snprintf(tmp, sizeof tmp, "%s.tmp", res->manifest);
	FILE *f = fopen(tmp, "w");
	int ok = f && fprintf(f, "%s\n", t) >= 0;
	ok = (f && fclose(f) == 0) && ok && rename(tmp, res->manifest) == 0;
	free(t);
	return ok ? 0 : fail(a, SEVMON_EIO, "cannot write %s", res->manifest);
}

char *acquire_evidence_json(const struct snp_verdict *v)
{
	struct attest_result r;
	struct check_env env = { .evidence = v };
	memset(&r, 0, sizeof r);
	if (check_attest.run(&env, &r) < 0)
		return NULL;
	struct jw w;
	char *t = NULL;
	jw_init(&w, 4096);
	check_attest.encode(&r, &w);
	return jw_finish(&w, &t, NULL) == 0 ? t : NULL;
}

int acquire_run(struct ids_conn *c, const struct ids_agent_info *info,
		const struct acquire_opts *o, struct acquire_result *res, char *err, size_t errcap)
{
	struct acq *a = calloc(1, sizeof *a);
	memset(res, 0, sizeof *res);
	if (!a)
		return SEVMON_ENOMEM;
	pthread_mutex_init(&a->mu, NULL);
	pthread_mutex_init(&a->smu, NULL);
	pthread_cond_init(&a->cv, NULL);
	a->c = c;
	a->o = o;
	a->fd = -1;
	a->t0 = clock_mono_ms();
	uint8_t note[IMAGE_MAX_NOTE];
	size_t note_len = 0;
	int rc = 0;
	if (o->sealed && !o->key)
		rc = fail(a, SEVMON_EINVAL, "sealing needs this IDS's key");
	if (rc == 0 && info->nregions == 0)
		rc = fail(a, SEVMON_ENOTSUP, "the agent's memory source has no physical ranges");
	/* the ELF image carries VMCOREINFO where the agent knows where it is */
	if (rc == 0 && o->format == IMAGE_ELF && info->vmci_phys && info->vmci_size &&
	    info->vmci_size <= IMAGE_MAX_NOTE) {
		if (read_sync(c, info->vmci_phys, note, info->vmci_size) == 0)
			note_len = info->vmci_size;
	}
	if (rc == 0 && (rc = image_layout_build(&a->lay, o->format, info->region_start,
						info->region_size, info->nregions, note_len ? note : NULL,
						note_len)) < 0)
		fail(a, rc, "the agent's ranges do not make an image: %s", sevmon_strerror(rc));
	for (unsigned i = 0; rc == 0 && i < ACQ_WINDOW; i++)
		if (!(a->slot[i].buf = malloc(ACQ_PIECE)))
			rc = fail(a, SEVMON_ENOMEM, "out of memory");
		else
			a->slot[i].a = a;
	if (rc == 0) {
		rc = digest_init(&a->img);
		for (size_t i = 0; rc == 0 && i < a->lay.n; i++)
			rc = digest_init(&a->rng[i]);
		if (rc < 0)
			fail(a, rc, "out of memory");
		else
			rc = open_output(a, &res->resumed_from);
	}
	int wake_on = 0;
	if (rc == 0) {
		if (uv_async_init(&c->loop, &a->wake, on_wake) != 0) {
			rc = fail(a, SEVMON_ENOMEM, "cannot make the writer's wake-up");
		} else {
			wake_on = 1;
			a->wake.data = a;
		}
	}
	if (rc == 0) {
		if (pthread_create(&a->writer, NULL, writer_main, a) != 0)
			rc = fail(a, SEVMON_ENOMEM, "cannot start the writer thread");
		else
			a->writer_on = 1;
	}
	if (rc == 0) {
		pthread_mutex_lock(&a->mu);
		issue_locked(a);
		check_done(a);
		pthread_mutex_unlock(&a->mu);
		if (!a->done) {
			int lost = ids_conn_wait(c, &a->done);
			if (lost < 0)
				fail(a, lost, "connection lost: %s", sevmon_strerror(lost));
		}
	}
	if (a->writer_on) {
		pthread_mutex_lock(&a->mu);
		a->stop = 1;
		pthread_cond_signal(&a->cv);
		pthread_mutex_unlock(&a->mu);
		pthread_join(a->writer, NULL);
	}
	if (wake_on) {
		uv_close((uv_handle_t *)&a->wake, NULL);
		uv_run(&c->loop, UV_RUN_NOWAIT); /* the handle lives in a: closed before a goes */
	}
	if (rc == 0)
		rc = status_of(a);
	if (rc == 0 && a->wr != a->lay.total)
		rc = fail(a, SEVMON_EINTERNAL, "stopped at %" PRIu64 " of %" PRIu64, (uint64_t)a->wr,
			  a->lay.total);
	progress(a, 1);
	if (rc == 0 && a->sw) {
		rc = seal_writer_finish(a->sw);
		a->sw = NULL;
		if (rc < 0)
			fail(a, rc, "finishing the sealed image: %s", sevmon_strerror(rc));
	} else if (rc == 0 && fsync(a->fd) < 0) {
		rc = fail(a, SEVMON_EIO, "%s: %s", o->out, strerror(errno));
	}
	char range_hex[IMAGE_MAX_RANGES][65];
	if (rc == 0) {
		digest_final_hex(&a->img, res->image_sha256);
		for (size_t i = 0; i < a->lay.n; i++) {
			digest_final_hex(&a->rng[i], range_hex[i]);
			res->memory_bytes += a->lay.r[i].size;
		}
		res->image_bytes = a->lay.total;
		res->unreadable_bytes = a->bad_bytes;
		res->requests = a->requests;
		res->seconds = (double)(clock_mono_ms() - a->t0) / 1000.0;
		snprintf(res->manifest, sizeof res->manifest, "%s.manifest.json", o->out);
		if (!o->sealed) { /* the file is the image */
			memcpy(res->file_sha256, res->image_sha256, sizeof res->file_sha256);
			res->file_bytes = res->image_bytes;
		} else if ((rc = digest_fd(a->fd, res->file_sha256, &res->file_bytes)) < 0) {
			fail(a, rc, "hashing %s: %s", o->out, sevmon_strerror(rc));
		}
		if (rc == 0)
			rc = write_manifest(a, res, range_hex, clock_real_ms());
	}
	if (a->journal)
		fclose(a->journal);
	if (rc == 0)
		unlink(a->jpath); /* finished: the manifest says what the file is now */
	seal_writer_abandon(a->sw);
	if (a->fd >= 0)
		close(a->fd);
	for (unsigned i = 0; i < ACQ_WINDOW; i++)
		free(a->slot[i].buf);
	image_layout_free(&a->lay);
	digest_free(&a->img);
	for (size_t i = 0; i < IMAGE_MAX_RANGES; i++)
		digest_free(&a->rng[i]);
	if (rc < 0)
		snprintf(err, errcap, "%s", a->err[0] ? a->err : sevmon_strerror(rc));
	pthread_cond_destroy(&a->cv);
	pthread_mutex_destroy(&a->smu);
	pthread_mutex_destroy(&a->mu);
	free(a);
	return rc;
}
