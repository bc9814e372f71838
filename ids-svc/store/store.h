/*
 * store.h — sevmond's persistent store: targets, scans, results and findings, and the
 * coordination of a fleet of sevmond replicas (leases on targets, scan jobs), in SQLite
 * (embedded, one process) or PostgreSQL (shared by any number of replicas).
 *
 * What it promises
 * - Durability: every call that changes something is one transaction. SQLite: WAL mode
 *   with synchronous=NORMAL; a committed call survives a crash of the process (SIGKILL);
 *   after a power loss the last few commits may be lost, but the database stays
 *   consistent. PostgreSQL: what the server's settings promise (fsync and
 *   synchronous_commit on: a commit survives a crash of the server). A result added with
 *   store_result_add is committed before the call returns.
 * - Crash recovery: a scan is "running" from store_scan_begin to store_scan_finish (or,
 *   for a scan with jobs, until its last job finishes). SQLite: when a writer opens the
 *   database, every scan still "running" (its writer died mid-scan) is marked
 *   "interrupted"; store_open returns how many, and store_scans_list shows them.
 *   PostgreSQL: other replicas may be running those scans, so nothing is marked: the jobs
 *   of a dead replica go to whoever takes over its leases, and the scan completes.
 * - Diffing: adding an ok result whose diff rule is not STORE_DIFF_NONE compares it with
 *   the ok result of the same check for the same target added last by another scan
 *   (insertion order, so overlapping scans compare with what was seen last) and records
 *   the differences as findings in the same transaction (store_diff_* below), together
 *   with the findings the check raised itself. Which rule a check follows is the check
 *   registry's business (ids-svc/checks/check.h); the store knows rules, not checks.
 *   Error results are never a baseline.
 * - Retention: on a writer's open, in the transaction of every store_scan_finish, and on
 *   store_retention_run, old scans are deleted together with their results and findings
 *   (see struct store_retention).
 * - Bounds: every text has a maximum length and every JSON document a maximum size;
 *   anything over is refused with SEVMON_ETOOBIG and touches nothing. List queries cap
 *   their limit (STORE_LIST_MAX) instead of refusing it.
 *
 * Errors: calls return 0 (or a count) on success, a negative SEVMON_E* (lib/base/err.h) on
 * failure; store_last_error() then says what was wrong in words ("unknown target 'x'",
 * "payload: malformed JSON at line 1 column 7: ..."), fit to be shown to a REST client.
 *   SEVMON_EINVAL   bad argument (malformed name, malformed JSON, scan not running, ...)
 *   SEVMON_ETOOBIG  text, JSON or list over its limit
 *   SEVMON_ENOENT   unknown target, scan or result
 *   SEVMON_EEXIST   the result for (scan, target, check) was already added
 *   SEVMON_EBUSY    another writer holds the database, a lock wait timed out, or the
 *                   database server is unreachable (PostgreSQL: the handle reconnects
 *                   by itself, with backoff, at a later call)
 *   SEVMON_EDENIED  a write through a read-only handle, or a fenced write whose lease
 *                   this replica no longer holds
 *   SEVMON_ENOTSUP  the database was written by a newer schema version
 *   SEVMON_EFULL    the disk (or the server's) is full: the call wrote nothing, the
 *                   database is intact, and the same call works once there is room
 *   SEVMON_EIO      I/O error, a corrupt database file, or a server error
 *   SEVMON_ENOMEM   out of memory
 *
 * Threads: a handle is one database connection and must be used by one thread at a time
 * (it holds the last error's text, and its connection is opened without SQLite's own
 * mutex). Use one handle per thread. The rest of this paragraph is SQLite's; a
 * PostgreSQL database takes any number of writers (the replicas), and what keeps them
 * apart is the leases below. Any number
 * of handles may read the same file at once, from threads or processes (WAL lets readers
 * run beside the writer); exactly one handle may write: a writer handle takes an exclusive
 * lock on "<path>.lock" for its lifetime, and a second writer gets SEVMON_EBUSY. That lock
 * is also what makes crash recovery safe: only a process that holds it marks scans
 * "interrupted", and it is released by the kernel when its holder dies.
 *
 * Times are milliseconds since the Unix epoch (UTC), from the store's clock (real time
 * unless a test sets another with store_set_clock).
 *
 * Memory: structs filled by the store own their heap strings; release them with the
 * matching *_free / *_clear. Nothing the caller passes in is kept after a call returns.
 */
#ifndef SEVMON_STORE_H
#define SEVMON_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Target names go into REST paths and log lines: [A-Za-z0-9._-], 1..64 bytes. */
#define STORE_NAME_MAX 64
/* Agent URIs (vsock://, tcp://host:port, unix:///path): a unix path is at most 108. */
#define STORE_URI_MAX 512
/* Pinned agent static key as text (64 hex digits for X25519; room for a prefix). */
#define STORE_KEY_MAX 128
/* Target state words ("connecting", "ready", "attestation_failed", ...). */
#define STORE_STATE_MAX 32
/* Free-text detail: one error message, not a log. */
#define STORE_DETAIL_MAX 1024
/* Check names: [a-z0-9_], 1..32 bytes ("banner", "ps", "modules", ...). */
#define STORE_CHECK_MAX 32
/* A result's error text. */
#define STORE_ERROR_MAX 4096
/* Finding kinds ("process_appeared", ...): [a-z0-9_], 1..48 bytes. */
#define STORE_KIND_MAX 48
/* A MITRE ATT&CK technique id: T1234 or T1234.567 (attack.mitre.org). */
#define STORE_TECHNIQUE_MAX 16
/* Finding subjects ("1234:bash", a module name): a comm or module name plus a pid. */
#define STORE_SUBJECT_MAX 256
/* A check's JSON payload. A process list of a busy guest (tens of thousands of tasks at
 * ~100 bytes each) is a few MiB; 16 MiB leaves room and still bounds one row. Checking a
 * payload parses it into a tree (jansson), which costs a small multiple of its size in
 * memory, for the length of the call. JSON here means an object or an array at the top,
 * UTF-8, no duplicate keys. */
#define STORE_PAYLOAD_MAX (16u << 20)
/* Small JSON documents: target policy, attestation result, finding detail. */
#define STORE_SMALL_JSON_MAX (64u << 10)
/* Rows one list call returns at most; a larger limit is capped to this. A fleet of a few
 * thousand targets fits one page; a page of findings stays a few MiB. */
#define STORE_LIST_MAX 10000
/* Payload bytes one store_results_list call accumulates before it stops early (it always
 * returns at least one row): four full payloads, so a page never holds gigabytes. */
#define STORE_LIST_BYTES_MAX (64u << 20)
/* Targets one scan may name: a fleet of thousands, with margin. */
#define STORE_SCAN_TARGETS_MAX 100000
/* Checks one scan may name. */
#define STORE_SCAN_CHECKS_MAX 32

struct store;

enum store_scan_status {
	STORE_SCAN_RUNNING = 0,
	STORE_SCAN_DONE,
	STORE_SCAN_FAILED,
	STORE_SCAN_INTERRUPTED,
};

/* Ordered: a filter on min severity keeps every value >= it. */
enum store_severity {
	STORE_SEV_INFO = 0,
	STORE_SEV_LOW,
	STORE_SEV_MEDIUM,
	STORE_SEV_HIGH,
};

/* "running", "done", ...; "info", "low", ... ; NULL for out-of-range values. */
const char *store_scan_status_name(enum store_scan_status s);
const char *store_severity_name(enum store_severity s);
/* Parse a severity word; SEVMON_EINVAL if unknown. */
int store_severity_parse(const char *word, enum store_severity *out);

/*
 * Retention, applied per target: a scan's results and findings for target T are deleted
 * once T has keep_scans newer scans, and any scan (its results and findings, for every
 * target) finished more than max_age_ms ago is deleted. A scan row goes once no target's
 * rows refer to it. Running scans are never touched. Findings without a scan (e.g.
 * attestation_failed at connect time) go by age only. 0 means "no limit" for either.
 * Note: deleting by age can delete a target's baseline; its next scan then produces no
 * diff findings, as a first scan does.
 */
struct store_retention {
	uint32_t keep_scans;
	int64_t max_age_ms;
};

/* Open flags. */
#define STORE_OPEN_READONLY 1u /* a reader: no migration, no recovery, no writes */

/*
 * Open (creating if needed, unless read-only) the database at path and bring its schema
 * to the current version. path picks the backend: "postgresql://..." or "postgres://..."
 * (a libpq connection URI) is PostgreSQL; anything else, or "sqlite:PATH", is an SQLite
 * file (":memory:" an in-memory one). A writer marks scans left "running" as "interrupted" and applies
 * retention. The file is created owner-only (0600): results hold guest data.
 * ret may be NULL (no retention). On success *out is the handle and the return value is
 * the number of scans marked interrupted (0 for a reader). On failure *out is NULL and
 * the message is lost with the handle: errmsg (may be NULL, errmsg_len bytes) receives it.
 */
int store_open(const char *path, unsigned flags, const struct store_retention *ret,
	       struct store **out, char *errmsg, size_t errmsg_len);
/* Close the handle (NULL is fine). Uncommitted work cannot exist between calls. */
void store_close(struct store *s);

/* Why the last failing call on s failed; "" after a success. Valid until the next call. */
const char *store_last_error(const struct store *s);

/* Tests only: the store's notion of now, in ms since the epoch. NULL restores real time. */
typedef int64_t (*store_clock_fn)(void *arg);
void store_set_clock(struct store *s, store_clock_fn fn, void *arg);

/* Replace the retention limits (applied from the next finish / store_retention_run). */
void store_set_retention(struct store *s, const struct store_retention *ret);

/* ---- targets ---- */

struct store_target {
	char name[STORE_NAME_MAX + 1];
	char uri[STORE_URI_MAX + 1];
	char pinned_key[STORE_KEY_MAX + 1]; /* "" if none */
	char *policy_json;                  /* owned; NULL if none */
	int64_t added_at;
	char state[STORE_STATE_MAX + 1];    /* "unknown" until the first store_target_set_state */
	char state_detail[STORE_DETAIL_MAX + 1];
	char *attestation_json;             /* owned; NULL until recorded */
	int64_t last_seen;                  /* 0 = never */
	int64_t version;                    /* grows with every upsert that changes the row */
	int64_t last_scan_at;               /* when its last scan job finished; 0 = never */
	char owner[STORE_NAME_MAX + 1];     /* the replica holding its lease; "" = none */
	int64_t lease_left_ms;              /* the lease's time left (<= 0: expired) */
};
void store_target_clear(struct store_target *t); /* frees the owned strings */
void store_targets_free(struct store_target *v, size_t n);

/*
 * Add the target, or update uri, pinned key and policy of an existing one (its state,
 * history and added_at stay). pinned_key and policy_json may be NULL (none). An update
 * that changes something bumps the row's version (the owner of its lease sees it at its
 * next renewal and applies it); one that changes nothing leaves it.
 * Returns 1 if created, 0 if updated, or a negative error.
 */
int store_target_upsert(struct store *s, const char *name, const char *uri,
			const char *pinned_key, const char *policy_json);
/* Delete the target and, with it, its results and findings. SEVMON_ENOENT if unknown. */
int store_target_remove(struct store *s, const char *name);
/* Fill *out (cleared first). SEVMON_ENOENT if unknown. Free with store_target_clear. */
int store_target_get(struct store *s, const char *name, struct store_target *out);
/* Targets ordered by name, from offset, at most limit (capped to STORE_LIST_MAX).
 * *out (NULL when *n is 0) is freed with store_targets_free. */
int store_target_list(struct store *s, size_t offset, size_t limit, struct store_target **out,
		      size_t *n);
/*
 * Record a target's session state. detail may be NULL (""). attestation_json NULL keeps
 * the recorded attestation result; last_seen 0 keeps the recorded time.
 */
int store_target_set_state(struct store *s, const char *name, const char *state,
			   const char *detail, const char *attestation_json, int64_t last_seen);

/* ---- scans and results ---- */

/*
 * Start a scan of ntargets targets (all must exist) with nchecks checks (names only; the
 * store does not run anything). *scan_id receives the new id (> 0).
 */
int store_scan_begin(struct store *s, const char *const *targets, size_t ntargets,
		     const char *const *checks, size_t nchecks, int64_t *scan_id);

/* How an ok result is compared with the previous ok result of its check and target. */
enum store_diff_rule {
	STORE_DIFF_NONE = 0,  /* not compared; the payload is any JSON object or array */
	STORE_DIFF_PROCESSES, /* a ps payload: process_appeared / process_vanished */
	STORE_DIFF_MODULES,   /* a modules payload: module_appeared / module_vanished */
	STORE_DIFF_BANNER,    /* a banner payload: banner_changed */
};

/* A finding a check raised itself (not from a diff), recorded with its result. */
struct store_finding_in {
	enum store_severity severity;
	const char *kind;        /* [a-z0-9_]{1,STORE_KIND_MAX} */
	const char *subject;     /* at most STORE_SUBJECT_MAX bytes */
	const char *technique;   /* NULL, or a MITRE ATT&CK id (T1014, T1547.006) */
	const char *detail_json; /* NULL or JSON of at most STORE_SMALL_JSON_MAX */
};
/* Findings one result may carry. */
#define STORE_RESULT_FINDINGS_MAX 1024u

struct store_result_in {
	const char *target;       /* one of the scan's targets */
	const char *check;
	bool ok;
	enum store_diff_rule diff; /* when ok: how it compares with the baseline */
	const struct store_finding_in *findings; /* when ok: the check's own findings */
	size_t nfindings;         /* at most STORE_RESULT_FINDINGS_MAX */
	const char *error;        /* when !ok: what failed (may be NULL) */
	const char *payload_json; /* when ok: the check's JSON (required); when !ok: NULL or JSON */
	uint32_t duration_ms;
	uint64_t requests;        /* RPC requests the check made */
	uint64_t bytes;           /* payload bytes it moved */
	/* Fencing (NULL replica: none): the result is refused with SEVMON_EDENIED unless
	 * replica still holds the target's lease with this token (store_leases_claim), so a
	 * replica that lost its lease cannot write over its successor. */
	const char *replica;
	int64_t lease_token;
	int64_t started_at;       /* when the job that ran it started (0: now) */
};

/*
 * Add one result to a running scan, in its own transaction, with the findings its diff
 * against the baseline produces (see "Diffing" above) and the check's own (r->findings).
 * Returns the number of findings recorded (>= 0).
 * SEVMON_EINVAL if the scan is not running, the payload is not JSON (or not in the shape
 * its diff rule reads), or a finding is malformed; SEVMON_ENOENT if the scan is unknown or
 * the target is not part of it; SEVMON_EEXIST if (target, check) already has a result in
 * this scan; SEVMON_ETOOBIG over STORE_PAYLOAD_MAX.
 */
int store_result_add(struct store *s, int64_t scan_id, const struct store_result_in *r);

/* End a running scan with DONE or FAILED, then apply retention. SEVMON_EINVAL if the
 * scan is not running or status is neither. */
int store_scan_finish(struct store *s, int64_t scan_id, enum store_scan_status status);

struct store_scan {
	int64_t id;
	int64_t started_at;
	int64_t finished_at; /* 0 while running */
	enum store_scan_status status;
	char *targets_json;  /* owned: JSON array of the requested target names */
	char *checks_json;   /* owned: JSON array of check names */
	uint64_t nresults;
	uint64_t nfindings;
	/* scans with jobs (store_scan_request): how many, and how many finished / failed */
	uint64_t jobs, jobs_done, jobs_failed;
};
void store_scan_clear(struct store_scan *sc);
void store_scans_free(struct store_scan *v, size_t n);

int store_scan_get(struct store *s, int64_t scan_id, struct store_scan *out);
/* Scans newest first; target NULL for all, else only scans that requested it. */
int store_scans_list(struct store *s, const char *target, size_t offset, size_t limit,
		     struct store_scan **out, size_t *n);

struct store_result {
	int64_t scan_id;
	char target[STORE_NAME_MAX + 1];
	char check[STORE_CHECK_MAX + 1];
	bool ok;
	char *error;        /* owned; NULL if none */
	char *payload_json; /* owned; NULL if none or not asked for */
	int64_t at;         /* when it was added */
	int64_t started_at; /* when its job started (its fencing's start; 0 unknown) */
	char replica[STORE_NAME_MAX + 1]; /* who added it ("" unknown) */
	uint32_t duration_ms;
	uint64_t requests;
	uint64_t bytes;
};
void store_result_clear(struct store_result *r);
void store_results_free(struct store_result *v, size_t n);

/*
 * A scan's results ordered by (target, check); target NULL for all. with_payload false
 * leaves payload_json NULL (a summary). Stops early, after at least one row, once the
 * payloads add up to STORE_LIST_BYTES_MAX: page on with offset += *n.
 */
int store_results_list(struct store *s, int64_t scan_id, const char *target, bool with_payload,
		       size_t offset, size_t limit, struct store_result **out, size_t *n);
/* The ok result of check for target added last. SEVMON_ENOENT if there is none. */
int store_result_latest(struct store *s, const char *target, const char *check,
			struct store_result *out);

/* ---- findings ---- */

struct store_finding {
	int64_t id;
	int64_t scan_id; /* 0 if not from a scan */
	char target[STORE_NAME_MAX + 1];
	int64_t at;
	enum store_severity severity;
	char kind[STORE_KIND_MAX + 1];
	char subject[STORE_SUBJECT_MAX + 1];
	char check[STORE_CHECK_MAX + 1];         /* the check that raised it ("" none) */
	char technique[STORE_TECHNIQUE_MAX + 1]; /* its MITRE ATT&CK technique ("" none) */
	char *detail_json; /* owned; NULL if none */
};
void store_finding_clear(struct store_finding *f);
void store_findings_free(struct store_finding *v, size_t n);

/* Record a finding that no diff produces (e.g. "attestation_failed"). scan_id 0 = none;
 * otherwise the scan must exist. detail_json may be NULL. Returns the new id (> 0). */
int64_t store_finding_add(struct store *s, int64_t scan_id, const char *target,
			  enum store_severity sev, const char *kind, const char *subject,
			  const char *detail_json);

struct store_finding_filter {
	const char *target;            /* NULL: all */
	int64_t scan_id;               /* 0: all */
	int64_t since;                 /* only findings at >= since; 0: all */
	enum store_severity min_severity;
	const char *check;             /* NULL: every check's */
	const char *technique;         /* NULL: any technique */
	size_t offset;
	size_t limit;                  /* capped to STORE_LIST_MAX; 0 means the cap */
};
/* Findings newest first (by id). f may be NULL (everything, up to the cap). */
int store_findings_list(struct store *s, const struct store_finding_filter *f,
			struct store_finding **out, size_t *n);

/* ---- retention ---- */

/* Apply the retention limits now (finish does this itself). Returns rows deleted. */
int store_retention_run(struct store *s);

/* ---- the fleet: replicas, leases on targets, scan jobs ----
 *
 * Any number of sevmond processes (replicas) may share a PostgreSQL store. Each target is
 * owned by at most one replica at a time, through its lease: a row (owner, expiry, token)
 * that a replica claims (FOR UPDATE SKIP LOCKED, so claimers never wait on each other),
 * renews while it works, and releases when it stops. A lease whose owner stopped renewing
 * expires and is claimed by another replica. Every claim draws a new fencing token from
 * one sequence; fenced writes (store_result_in.replica) check it, so results are recorded
 * only under a lease held at that moment: two replicas never record the same target in
 * overlapping lease periods. Expiry is measured by the database server's clock, so the
 * replicas' clocks need not agree.
 *
 * A scan request (store_scan_request) makes one job per target; the target's owner claims
 * its jobs (store_jobs_claim), runs them, and finishes each (store_job_finish); the last
 * job to finish finishes the scan. Any replica reads its progress (struct store_scan).
 *
 * SQLite is one process behind its writer lock, which owns every target: the same calls
 * work, a claim ignores expiry (the lock proves the previous owner dead), and opening the
 * database drops every lease (as it marks running scans interrupted).
 */

/* Replica names: like target names (a Kubernetes pod name is at most 63 bytes). */
#define STORE_REPLICA_MAX STORE_NAME_MAX
/* Leases one claim or renewal returns at most: a replica keeps a few thousand targets. */
#define STORE_LEASE_BATCH_MAX 4096u
/* Longest lease: a replica that dies is replaced within one lease; past an hour is a
 * configuration mistake, not a choice. Shortest: a few round trips. */
#define STORE_LEASE_MS_MAX (3600 * 1000)
#define STORE_LEASE_MS_MIN 100

struct store_lease {
	char target[STORE_NAME_MAX + 1];
	int64_t token;        /* this holding's fencing token (> 0) */
	int64_t version;      /* the target row's version (store_target.version) */
	int64_t last_scan_at; /* store_target.last_scan_at */
};

/* What a replica needs to know for its share: live replicas (including this one, if it
 * beat) and targets in all. */
struct store_fleet {
	uint32_t replicas;
	uint64_t targets;
};

/* Record that replica is alive for ttl_ms more, forget replicas whose time has passed,
 * and fill *out. */
int store_replica_beat(struct store *s, const char *replica, int64_t ttl_ms,
		       struct store_fleet *out);
/* Forget replica now (a clean exit), so the others' shares grow at once. */
int store_replica_leave(struct store *s, const char *replica);

/* Extend every lease replica holds (expired ones too, while nobody else took them) to
 * ttl_ms from now; *out (free()) lists them by target name: what it holds now. */
int store_leases_renew(struct store *s, const char *replica, int64_t ttl_ms,
		       struct store_lease **out, size_t *n);
/* Take up to max (<= STORE_LEASE_BATCH_MAX) targets whose lease is free or expired, each
 * for ttl_ms with a new token; *out (free()) lists what was taken. Never waits on another
 * claimer's rows. */
int store_leases_claim(struct store *s, const char *replica, int64_t ttl_ms, size_t max,
		       struct store_lease **out, size_t *n);
/* Give back target's lease (NULL: every lease replica holds), and put its claimed jobs
 * back in the queue, so another replica may take both at once. Releasing what one does
 * not hold is not an error. Returns the leases released. */
int store_lease_release(struct store *s, const char *replica, const char *target);

/*
 * Start a scan as store_scan_begin does, with one job per target for its owner. checks
 * are the scan's; own_checks true means each target runs its own set (the job carries
 * none: its owner decides) and checks only say what the scan may show.
 */
int store_scan_request(struct store *s, const char *const *targets, size_t ntargets,
		       const char *const *checks, size_t nchecks, bool own_checks,
		       int64_t *scan_id);

struct store_job {
	int64_t scan_id;
	char target[STORE_NAME_MAX + 1];
	char *checks_json; /* owned: JSON array of check names; NULL: the target's own set */
};
void store_jobs_free(struct store_job *v, size_t n);
/* Take up to max queued jobs of running scans on targets replica holds the lease of,
 * oldest first. Jobs stay the replica's until finished or released. */
int store_jobs_claim(struct store *s, const char *replica, size_t max, struct store_job **out,
		     size_t *n);
/* The job of target in scan_id is done (failed: no check of it succeeded); when it was
 * the scan's last, the scan finishes (failed if every job failed, else done) with
 * retention, in the same transaction. Finishing a finished job again changes nothing.
 * Returns 1 when the scan finished, 0 otherwise. */
int store_job_finish(struct store *s, int64_t scan_id, const char *target, bool failed);

/*
 * Wake-ups (PostgreSQL's LISTEN/NOTIFY): a descriptor that becomes readable when another
 * replica queued jobs, changed targets or released leases, for the caller's event loop;
 * -1 when the backend has none (SQLite: one process hears itself) or the server is
 * unreachable. The descriptor changes when the handle reconnects: ask again after every
 * store_wake_drain.
 */
#define STORE_WAKE_JOBS 1u  /* scan jobs were queued */
#define STORE_WAKE_FLEET 2u /* targets changed, or leases were released */
int store_wake_fd(struct store *s);
/* Read what arrived (never blocks): a mask of STORE_WAKE_*, 0 for nothing, or an error
 * (the connection was lost; it is re-opened by a later call). */
int store_wake_drain(struct store *s);
/* Statements sent to the database server since open (0 for SQLite): for figures. */
uint64_t store_round_trips(const struct store *s);

/* ---- diffing (pure functions; the store calls them from store_result_add) ----
 *
 * What each rule reads of a payload (the checks' encoders write these shapes):
 *   STORE_DIFF_PROCESSES
 *            {"processes":[{"pid":1,"tgid":1,"ppid":0,"uid":0,"comm":"init",
 *                            "kthread":false}, ...], "partial":false}
 *            pid (0..2^31-1) and comm (string, 1..128 bytes: a 16-byte comm whose every
 *            byte came escaped) are required; uid (0..2^32-2, or null: unknown) and
 *            ppid (0..2^31-1, or null) default to unknown (-1 is read as unknown too, as
 *            older payloads wrote it), kthread (boolean) to false; other members (tgid,
 *            ...) are ignored.
 *   STORE_DIFF_MODULES
 *            {"modules":[{"name":"dummy","state":"live", ...}, ...], "partial":false}
 *            name (string, 1..128 bytes) is required; other members are ignored.
 *   STORE_DIFF_BANNER
 *            {"banner":"Linux version ..."} (string, <= 4096 bytes)
 * "partial" (optional, default false) says the list may be torn: the walk stopped early
 * or raced with the guest changing it.
 *
 * A process is (pid, comm): a pid reused by another comm is one vanished plus one
 * appeared. A module is its name. Duplicates in one list count once.
 *
 * Severity rules (kept simple; policy can re-rank later):
 *   process_appeared  HIGH if uid 0 and not a kernel thread (a new root user process is
 *                     how privilege escalation and persistence show), else INFO
 *   process_vanished  INFO
 *   module_appeared   MEDIUM (new kernel code)
 *   module_vanished   MEDIUM (also how a rootkit unlinking itself shows)
 *   banner_changed    HIGH (a different kernel under the same target)
 *
 * Partial lists: a torn current list lacks entries that still exist, so it never yields
 * "vanished" findings; likewise a torn previous list lacks entries that existed, so it
 * never yields "appeared" findings. Only the direction a torn list cannot fake is
 * reported.
 */

/* Diff findings have no id, scan, target or time yet (0 / ""). */
struct store_diff {
	struct store_finding *v;
	size_t n;
};
void store_diff_free(struct store_diff *d);

/* Most distinct entries one list may hold: pid_max is at most 4194304 on Linux, but a
 * guest with more than 262144 tasks is not one this IDS is sized for. */
#define STORE_DIFF_MAX_ITEMS 262144
/* Longest banner accepted: linux_banner is a few hundred bytes. */
#define STORE_BANNER_MAX 4096

/*
 * Compare two payloads of one check. prev may be NULL (first scan: no findings).
 * Returns the number of findings (*out filled, freed with store_diff_free) or
 * SEVMON_EINVAL (malformed / wrong shape; msg, if not NULL, says where), SEVMON_ETOOBIG,
 * SEVMON_ENOMEM. The findings come in a stable order: vanished, then appeared, each
 * sorted by identity.
 */
int store_diff_processes(const char *prev, const char *cur, struct store_diff *out,
			 char *msg, size_t msg_len);
int store_diff_modules(const char *prev, const char *cur, struct store_diff *out,
		       char *msg, size_t msg_len);
int store_diff_banner(const char *prev, const char *cur, struct store_diff *out, char *msg,
		      size_t msg_len);

#endif
