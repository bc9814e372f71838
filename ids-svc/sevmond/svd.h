/*
 * svd.h — sevmond's insides: the daemon, its targets (sessions), the job pool, scans.
 *
 * Threads: everything here runs on the daemon's one uv loop, except svd_job_work(), which
 * runs on libuv's thread pool and touches only its job and the job's target session
 * (a target runs at most one job at a time, so its session has one user). Results come
 * back to the loop (after_work), where the store (the one writer handle) records them.
 *
 * Target states: idle -> connecting -> (attesting) -> ready; any failure -> failed, with
 * a retry after an exponential backoff with jitter; a job for a target still in backoff
 * fails at once with the last error, so a dead agent costs nothing but its own results.
 */
#ifndef SEVMON_SVD_H
#define SEVMON_SVD_H

#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include <uv.h>

#include "ids_conn.h"
#include "ids_kernel.h"
#include "rest.h"
#include "store.h"
#include "svd_config.h"

/* Entries one process or module list holds: the walk's own bound (GMEM_WALK_MAX_NODES). */
#define SVD_LIST_MAX GMEM_WALK_MAX_NODES
/* Jobs waiting in the whole daemon: a scan of every target plus live views. */
#define SVD_JOBS_MAX (SVD_TARGETS_MAX * 4u)
/* Running scans kept in memory for progress; past this, new scans get EBUSY. */
#define SVD_SCANS_RUNNING_MAX 256u

enum svd_state {
	SVD_IDLE = 0,
	SVD_CONNECTING,
	SVD_ATTESTING,
	SVD_READY,
	SVD_FAILED,
};
#define SVD_NSTATES 5
const char *svd_state_name(enum svd_state s);

enum svd_job_kind {
	SVD_JOB_CONNECT = 0, /* (re)establish the session only */
	SVD_JOB_SCAN,
	SVD_JOB_VIEW,
};

struct svd;
struct svd_scan;
struct svd_trust;
struct svd_job;

struct svd_target {
	struct svd_target_cfg cfg;
	int from_config;          /* 1: the config file owns it (reload may change/remove it) */
	_Atomic int state;        /* written by the worker mid-job, read on the loop */
	char detail[256];         /* last error or "" (loop only) */
	char attest_status[32];   /* "none", "verified", "failed" */
	char attest_detail[256];
	char attest_measurement[2 * SNP_MEASUREMENT_LEN + 1]; /* of the last verified evidence */
	char attest_key[2 * NOISE_DH_LEN + 1];                /* the agent's static key then */
	int64_t attest_at_ms;
	int64_t last_seen_ms;
	unsigned failures;        /* consecutive session failures */
	uint64_t retry_at_ms;     /* backoff: no connect attempt before */
	uint64_t next_scan_ms;    /* schedule */
	/* the session, used only by the one running job */
	int conn_open, kernel_open;
	struct ids_policy pol;    /* the channel's policy; outlives conn (ids_conn_open) */
	int pol_ready;
	struct svd_trust *pol_shared; /* pol.peer.trust belongs to it (a reference), not to pol */
	char pol_trust_dir[SVD_PATH_MAX + 1]; /* pol.peer.trust_dir points here */
	struct ids_conn conn;
	struct ids_kernel kk;
	/* jobs */
	int busy;
	int removed;              /* freed when its running job comes back */
	int stale;                /* cfg changed while a job ran: close the session after it */
	struct svd_job *qhead, *qtail;
	unsigned nqueued;
	/* figures */
	uint64_t requests, bytes;
	uint64_t connects;        /* sessions opened (an unchanged count = the session was kept) */
	struct svd_target *next;
};

struct svd_check_out {
	int rc;                   /* 0 ok, else SEVMON_E* */
	char err[256];
	char *payload;            /* malloc'd JSON text when ok */
	uint32_t ms;
	uint64_t requests, bytes;
};

struct svd_job {
	uv_work_t work;
	struct svd *d;
	struct svd_target *t;
	enum svd_job_kind kind;
	unsigned checks;          /* SVD_CHECK_* */
	struct svd_scan *scan;    /* SCAN */
	struct rest_async *op;    /* VIEW */
	enum rest_view view;
	int cancelled;
	/* copied at dispatch (the loop may change the config while the job runs) */
	char uri[SVD_URI_MAX + 1];
	uint32_t connect_timeout_ms, request_timeout_ms;
	struct svd_target_cfg tcfg;
	char key_file[SVD_PATH_MAX + 1], trust_dir[SVD_PATH_MAX + 1], attest[SVD_PATH_MAX + 1];
	char trust[SVD_TRUST_MAX][SVD_PATH_MAX + 1]; /* the daemon's anchors */
	unsigned ntrust;
	struct svd_trust *shared; /* a reference to the daemon's anchors, or NULL: build them */
	/* the agent's verified evidence (worker, after a new session) */
	char measurement[2 * SNP_MEASUREMENT_LEN + 1];
	char peer_key[2 * NOISE_DH_LEN + 1];
	/* results (worker) */
	int session_rc;           /* 0 when the session was (or is) ready */
	char session_err[320];
	int attested;             /* the channel verified the agent's evidence */
	int connected;            /* this job opened a new session */
	struct svd_check_out out[SVD_NCHECKS];
	struct svd_job *next;
};

struct svd_scan {
	int64_t id;
	unsigned total, done, failed;
	uint64_t started_ms;
	struct svd_scan *next;
};

struct svd {
	uv_loop_t *loop;
	struct svd_config cfg;
	char config_path[SVD_PATH_MAX + 1];
	struct store *store;
	struct metrics *metrics;
	struct rest_server *rest;
	struct svd_target *targets;
	size_t ntargets;
	struct svd_scan *scans;
	unsigned nscans;
	unsigned running;         /* jobs on the pool */
	unsigned queued;          /* jobs waiting */
	struct svd_target *rr;    /* round-robin position of the dispatcher */
	int draining;
	int rest_closed;
	uv_timer_t tick;
	uv_async_t kick;          /* dispatch from a later loop turn (live views) */
	uv_signal_t sighup, sigterm, sigint;
	uint64_t jitter_state;
	/* shared by every session (ids_kernel.h, svd_trust.c): one profile per kernel build
	 * and one VMCOREINFO Scan for a fleet of clones; one verified chain per host */
	struct ids_kmemo kmemo;
	struct svd_trust *trust; /* NULL until first needed, and after a reload */
};

/* Copy src into dst[cap], cut to fit (log and state texts). */
static inline void svd_copy(char *dst, size_t cap, const char *src)
{
	size_t n = strnlen(src, cap - 1);
	memcpy(dst, src, n);
	dst[n] = 0;
}

/* svd_target.c */
struct svd_target *svd_target_find(struct svd *d, const char *name);
/* Create from cfg, persist (store_target_upsert) and queue a connect. EEXIST, ETOOBIG,
 * store errors. */
int svd_target_add(struct svd *d, const struct svd_target_cfg *cfg, int from_config,
		   struct svd_target **out);
/* Drop queued jobs, close the session (or mark it for the running job), forget it and
 * delete it from the store. */
int svd_target_remove(struct svd *d, struct svd_target *t);
/* Put cfg in place; a changed uri/key/policy closes the session. Returns 1 if changed. */
int svd_target_update(struct svd *d, struct svd_target *t, const struct svd_target_cfg *cfg);
json_t *svd_target_json(const struct svd_target *t);
/* Record the target's state in the store (loop). */
void svd_target_persist(struct svd *d, struct svd_target *t);
/* Close its session (loop; only while no job runs). */
void svd_target_close_session(struct svd_target *t);
void svd_target_free(struct svd_target *t);

/* svd_job.c */
/* Queue a job on t (takes ownership). EBUSY when t's queue or the daemon's is full. */
int svd_job_queue(struct svd *d, struct svd_target *t, struct svd_job *j);
struct svd_job *svd_job_new(struct svd *d, struct svd_target *t, enum svd_job_kind kind);
/* Finish a job that will not run (removed target, shutdown): complete views, count scans. */
void svd_job_drop(struct svd *d, struct svd_job *j, int status, const char *why);
void svd_dispatch(struct svd *d);

/* svd_scan.c */
int svd_scan_start(struct svd *d, const char *const *names, size_t n, unsigned checks,
		   int64_t *id);
/* A target of scan sc is done (ok or failed); finishes the scan when it was the last. */
void svd_scan_target_done(struct svd *d, struct svd_scan *sc, int failed);
/* id is the REST id (decimal); ENOENT for anything else. */
int svd_scan_json(struct svd *d, const char *id, json_t **out);
int svd_scan_results_json(struct svd *d, const char *id, json_t **out);
int svd_findings_json(struct svd *d, const struct rest_findings_query *q, json_t **out);

/* svd_trust.c */
/* The anchors of cfg ([sevmond] trust_dir, else default_dir; trust = FILE...), one
 * reference. A missing AMD directory is not an error; a bad anchor file is (why filled). */
int svd_trust_build(const struct svd_config *cfg, const char *default_dir, struct svd_trust **out,
		    char *why, size_t whycap);
/* Any thread. The last unref frees the anchors and the chain memo. */
struct svd_trust *svd_trust_ref(struct svd_trust *st);
void svd_trust_unref(struct svd_trust *st);
/* Valid while a reference is held; safe to verify with from many threads. */
struct snp_trust *svd_trust_get(const struct svd_trust *st);

/* svd_backend.c */
extern const struct rest_backend svd_backend;

/* svd_metrics.c */
int svd_metrics_declare(struct metrics *m);
void svd_metrics_collect(void *ctx, struct metrics *m);
/* Record a finished job's figures. */
void svd_metrics_job(struct svd *d, const struct svd_job *j);

/* svd_main.c */
/* Called when a job finished or the REST server closed: exits the loop once draining
 * and nothing runs. */
void svd_maybe_exit(struct svd *d);
void svd_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* RSS of this process in bytes (0 if unknown). */
uint64_t svd_rss_bytes(void);

#endif
