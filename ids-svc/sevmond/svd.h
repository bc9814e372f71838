/*
 * svd.h — sevmond's insides: the daemon, its targets (sessions), the job pool, scans.
 *
 * Threads: everything here runs on the daemon's one uv loop, except svd_job_work(), which
 * runs on libuv's thread pool and touches only its job and the job's target session
 * (a target runs at most one job at a time, so its session has one user). Results come
 * back to the loop (after_work), where the store (the one writer handle) records them.
 * The store is called on the loop too: each call is one short transaction, bounded by
 * the backend's timeouts (docs/scale-out.md, "Where database calls run").
 *
 * Replicas: the targets in memory (d->targets) are those this replica holds the lease of
 * (svd_lease.c); every target's definition lives in the store, where any replica reads
 * it. A scan is a scan request in the store with one job per target; each target's
 * owner claims and runs its jobs. With SQLite the one process holds every lease.
 *
 * Target states: idle -> connecting -> (attesting) -> ready; any failure -> failed, with
 * a retry after an exponential backoff with jitter; a job for a target still in backoff
 * fails at once with the last error, so a dead agent costs nothing but its own results.
 *
 * Files, each calling only those below it:
 *   svd_sys.c      log lines, the process's RSS
 *   svd_target.c   a target: its session, persisted state, JSON
 *   svd_metrics.c  sevmond's metric families
 *   svd_job.c      job queues, the pool, the checks run on a worker, the target's update;
 *                  what a finished job means is its creator's (struct svd_job_ops)
 *   svd_fleet.c    targets defined (store), adopted and dropped (memory, connect jobs)
 *   svd_scan.c     scans: requests, their jobs' results into the store, progress, JSON
 *   svd_lease.c    this replica's leases: beat, renew, claim its share, release; jobs
 *                  pulled from the store; wake-ups from other replicas
 *   svd_backend.c  the REST backend (live views are jobs too)
 *   svd_main.c     the daemon: config, signals, reload, scheduler
 * The checks are the registry's (ids-svc/checks/check.h).
 */
#ifndef SEVMON_SVD_H
#define SEVMON_SVD_H

#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include <uv.h>

#include "check.h"
#include "ids_conn.h"
#include "ids_kernel.h"
#include "rest.h"
#include "store.h"
#include "svd_config.h"

/* Jobs waiting in the whole daemon: a scan of every target plus live views. */
#define SVD_JOBS_MAX (SVD_TARGETS_MAX * 4u)
/* Finished jobs whose results wait for the store to come back (it was unreachable):
 * each holds its checks' payloads (tens of KiB); past this, the oldest are dropped and
 * their jobs run again under the next holder of the target's lease. */
#define SVD_OUTBOX_MAX 1024u
/* Claim rounds one lease tick runs to reach its share (each of claim_batch targets): a
 * replica alone takes a fleet of STORE_LEASE_BATCH_MAX x this at once. */
#define SVD_CLAIM_ROUNDS_MAX 64u

enum svd_state {
	SVD_IDLE = 0,
	SVD_CONNECTING,
	SVD_ATTESTING,
	SVD_READY,
	SVD_FAILED,
};
#define SVD_NSTATES 5
static inline const char *svd_state_name(enum svd_state s)
{
	static const char *const names[SVD_NSTATES] = { "idle", "connecting", "attesting", "ready",
							"failed" };
	return (unsigned)s < SVD_NSTATES ? names[s] : "unknown";
}

enum svd_job_kind {
	SVD_JOB_CONNECT = 0, /* (re)establish the session only */
	SVD_JOB_SCAN,
	SVD_JOB_VIEW,
	SVD_JOB_ACQUIRE, /* a memory acquisition (svd_acquire.c) */
};

struct svd;
struct svd_scan;
struct svd_trust;
struct svd_job;
struct svd_acq;

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
	int64_t last_acquire_ms;  /* the last acquisition queued (acquire_interval) */
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
	/* the lease (svd_lease.c) */
	int64_t lease_token;      /* fences this replica's results for it */
	int64_t version;          /* of its row in the store: a newer one is applied */
	int lost;                 /* the lease went elsewhere: dropped when its job is back */
	struct svd_target *next;
};

struct svd_check_out {
	int rc;                   /* 0 ok, else SEVMON_E* */
	char err[256];
	char *payload;            /* malloc'd JSON text when ok */
	struct check_findings findings; /* the check's own, when ok */
	uint32_t ms;
	uint64_t requests, bytes;
};

/* What a finished job means, given by whoever made it: a scan records its results, a
 * live view answers its client. Both run on the loop. drop is for a job that will not
 * run (removed target, shutdown, backoff, full pool): status and why say why. NULL ops
 * (a connect job): nothing beyond the target's update. */
struct svd_job_ops {
	void (*done)(struct svd *d, struct svd_job *j);
	void (*drop)(struct svd *d, struct svd_job *j, int status, const char *why);
};

struct svd_job {
	uv_work_t work;
	struct svd *d;
	struct svd_target *t;
	enum svd_job_kind kind;
	const struct svd_job_ops *ops;
	check_set checks;         /* the registry's checks it runs */
	int64_t scan_id;          /* SCAN: the store's scan and job (scan_id, target) */
	int64_t started_ms;       /* SCAN: when it was taken from the store (fencing) */
	char target[SVD_NAME_MAX + 1]; /* SCAN: its target's name (t may go first) */
	int64_t kept_token;       /* SCAN in the outbox: the lease token it ran under */
	int kept;                 /* its done/drop op kept it (the outbox): not freed */
	struct rest_async *op;    /* VIEW */
	struct svd_acq *acq;      /* ACQUIRE (owned) */
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
	struct svd_check_out *out; /* check_count() entries, by registry index */
	struct svd_job *next;
};

struct svd {
	uv_loop_t *loop;
	struct svd_config cfg;
	char config_path[SVD_PATH_MAX + 1];
	struct store *store;
	struct metrics *metrics;
	struct rest_server *rest;
	struct svd_target *targets; /* those this replica holds the lease of */
	size_t ntargets;
	char replica[SVD_NAME_MAX + 1];
	/* the fleet (svd_lease.c) */
	uv_timer_t lease_timer;
	uv_poll_t *wake;          /* on the store's wake-up descriptor, or NULL */
	int wake_fd;
	uint64_t renewed_ms;      /* last successful renewal (readiness) */
	uint32_t replicas_seen;   /* live replicas at the last beat */
	uint64_t fleet_targets;   /* targets in the store at the last beat */
	int released;             /* drain: leases handed back */
	int lease_on;             /* lease_timer is initialized */
	struct svd_job *outbox, *outbox_tail; /* finished jobs waiting for the store */
	unsigned noutbox;
	uint64_t store_err_logged_ms; /* rate limit of "store unreachable" lines */
	uint64_t sources_next_ms;     /* next listing of the polled target sources (svd_source.h) */
	uint64_t libvirt_said;        /* hash of what the last libvirt listing logged: said once */
	unsigned running;         /* jobs on the pool */
	unsigned queued;          /* jobs waiting */
	struct svd_target *rr;    /* round-robin position of the dispatcher */
	int draining;
	int rest_closed;
	uv_timer_t tick;
	uv_async_t kick;
	uint64_t scans_started;   /* scans this replica requested (metrics) */          /* dispatch from a later loop turn (live views) */
	uv_signal_t sighup, sigterm, sigint;
	uint64_t jitter_state;
	/* after every finished job (loop): the daemon exits from here once drained */
	void (*idle)(struct svd *d);
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

/* svd_sys.c */
void svd_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* RSS of this process in bytes (0 if unknown). */
uint64_t svd_rss_bytes(void);
/* The store setting with any password replaced by ***, for logs. */
void svd_store_label(const char *db, char *out, size_t cap);
/* HOSTNAME-PID (the host name cut to [A-Za-z0-9_-]): unique among live processes. */
void svd_default_replica(char *out, size_t cap);

/* Log a store failure, at most once a second while they repeat (an unreachable database
 * fails every call). */
void svd_store_failed(struct svd *d, const char *what);

/* svd_target.c */
struct svd_target *svd_target_find(struct svd *d, const char *name);
json_t *svd_target_json(const struct svd_target *t);
/* A target this replica does not hold, as its row in the store shows it. */
json_t *svd_target_row_json(const struct store_target *row);
/* The target's configuration from its row (policy JSON: origin, measurements, trust,
 * interval, checks). *origin: "config", "file" or "api". */
int svd_target_cfg_from_row(const struct store_target *row, struct svd_target_cfg *cfg,
			    char *origin, size_t origin_cap);
/* The policy JSON kept with a target's row. Caller frees. */
char *svd_target_policy_json(const struct svd_target_cfg *cfg, const char *origin);
/* Record the target's state in the store (loop). */
void svd_target_persist(struct svd *d, struct svd_target *t);
/* Close its session (loop; only while no job runs). */
void svd_target_close_session(struct svd_target *t);
void svd_target_free(struct svd_target *t);

/* svd_metrics.c */
int svd_metrics_declare(struct metrics *m);
void svd_metrics_collect(void *ctx, struct metrics *m);
/* Record a finished job's figures. */
void svd_metrics_job(struct svd *d, const struct svd_job *j);

/* svd_job.c */
/* A job of kind on t running checks, finished by ops (NULL for a connect job). */
struct svd_job *svd_job_new(struct svd *d, struct svd_target *t, enum svd_job_kind kind,
			    check_set checks, const struct svd_job_ops *ops);
/* Queue a job on t (takes ownership). EBUSY when t's queue or the daemon's is full. */
int svd_job_queue(struct svd *d, struct svd_target *t, struct svd_job *j);
/* A connect job on t, if its queue has room (a failure to queue costs only the attempt). */
void svd_job_queue_connect(struct svd *d, struct svd_target *t);
/* Finish a job that will not run (removed target, shutdown): its ops' drop, then free. */
void svd_job_drop(struct svd *d, struct svd_job *j, int status, const char *why);
/* Drop every job queued on t. */
void svd_job_drop_queued(struct svd *d, struct svd_target *t, int status, const char *why);
void svd_job_free(struct svd_job *j);
void svd_dispatch(struct svd *d);

/* svd_fleet.c */
/* Define a target in the store (origin "config", "file" or "api"): created, or updated
 * when something changed. Returns 1 created, 0 existed (changed or not), or an error. */
int svd_target_define(struct svd *d, const struct svd_target_cfg *cfg, const char *origin);
/* Take a target this replica now holds the lease of into memory (a connect queued). */
int svd_target_adopt(struct svd *d, const struct svd_target_cfg *cfg, int from_config,
		     const struct store_lease *lease, struct svd_target **out);
/* Forget a target in memory (queued jobs dropped, the session closed, or marked for its
 * running job). The store is not touched. */
void svd_target_drop(struct svd *d, struct svd_target *t, int status, const char *why);
/* Put cfg in place; a changed uri/key/policy closes the session. Returns 1 if changed. */
int svd_target_update(struct svd *d, struct svd_target *t, const struct svd_target_cfg *cfg);
/* Seed the store with the config file's targets and the targets file's; remove those of
 * these origins that left them. Returns 0 or the first store error. */
int svd_targets_seed(struct svd *d);

/* svd_lease.c */
/* Start the lease timer (and a first round at once); stop it. */
void svd_lease_start(struct svd *d);
/* One round: beat, renew, apply changes, claim or release toward this replica's share,
 * pull jobs. Also on a wake-up. */
void svd_lease_round(struct svd *d);
/* Take this replica's queued jobs from the store into the target queues. */
void svd_jobs_pull(struct svd *d);
/* Drain: hand every lease back (their claimed jobs with them) and leave the fleet. */
void svd_lease_release_all(struct svd *d);
/* Stop the timer and the wake-up poll (their close callbacks run on the loop). */
void svd_lease_stop(struct svd *d);
/* Ready: the last renewal is younger than a lease, and not draining. */
int svd_ready(const struct svd *d);

/* svd_scan.c */
/* checks 0: each target's own (or the daemon's) set. names NULL: every target in the
 * store. The owners run it (svd_jobs_pull). */
int svd_scan_start(struct svd *d, const char *const *names, size_t n, check_set checks,
		   int64_t *id);
/* A scan job for t from the store's job (checks_json NULL: the target's own set). */
struct svd_job *svd_scan_job(struct svd *d, struct svd_target *t, const struct store_job *sj);
/* Retry the outbox (jobs whose results the store could not take). */
void svd_outbox_flush(struct svd *d);
/* Free what the outbox holds (exit). */
void svd_outbox_free(struct svd *d);
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

/* svd_acquire.c */
/* After a scan job's results (loop): a finding at or above acquire_on queues an
 * acquisition of its target, at most one per acquire_interval. */
void svd_acquire_after_scan(struct svd *d, struct svd_job *j);
/* POST /v1/targets/{name}/acquisitions: queue one now; id gets its id. ENOENT, EBUSY
 * (one is queued, or another replica holds the target), ENOTSUP (no acquire_dir). */
int svd_acquire_start(struct svd *d, const char *name, char *id);
/* Worker: the acquisition of job j, its session open. */
void svd_acquire_work(struct svd_job *j);
void svd_acq_free(struct svd_acq *a);
int svd_acquisitions_json(struct svd *d, const char *target, json_t **out);
int svd_acquisition_json(struct svd *d, const char *id, json_t **out);
int svd_acquisition_file(struct svd *d, const char *id, char *path, size_t cap);

/* svd_backend.c */
extern const struct rest_backend svd_backend;

#endif
