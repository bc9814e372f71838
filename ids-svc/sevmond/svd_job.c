/*
 * svd_job.c — sevmond's work: per-target job queues, a bounded pool (libuv's thread pool,
 * at most cfg.workers jobs at once), the checks run with the synchronous ids_conn +
 * ids_kernel on a worker thread, and the results brought back to the loop.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "err.h"
#include "svd.h"

struct svd_job *svd_job_new(struct svd *d, struct svd_target *t, enum svd_job_kind kind)
{
	struct svd_job *j = calloc(1, sizeof *j);
	if (!j)
		return NULL;
	j->d = d;
	j->t = t;
	j->kind = kind;
	return j;
}

int svd_job_queue(struct svd *d, struct svd_target *t, struct svd_job *j)
{
	if (t->nqueued >= d->cfg.queue_per_target || d->queued >= SVD_JOBS_MAX)
		return SEVMON_EBUSY;
	j->next = NULL;
	if (t->qtail)
		t->qtail->next = j;
	else
		t->qhead = j;
	t->qtail = j;
	t->nqueued++;
	d->queued++;
	return 0;
}

/* What a job holds besides itself: check payloads, a reference to the anchors. */
static void free_outs(struct svd_job *j)
{
	svd_trust_unref(j->shared);
	j->shared = NULL;
	for (int i = 0; i < SVD_NCHECKS; i++) {
		free(j->out[i].payload);
		j->out[i].payload = NULL;
	}
}

/* One error result per check of a scan job that did not (fully) run. */
static void record_scan_errors(struct svd *d, struct svd_job *j, const char *why)
{
	for (int i = 0; i < SVD_NCHECKS; i++) {
		if (!(j->checks & (1u << i)))
			continue;
		struct store_result_in r = { .target = j->t->cfg.name, .check = svd_check_names[i],
					     .ok = false, .error = why };
		if (store_result_add(d->store, j->scan->id, &r) < 0 && !j->t->removed)
			svd_log("scan %lld %s/%s: store: %s", (long long)j->scan->id, j->t->cfg.name,
				svd_check_names[i], store_last_error(d->store));
	}
}

void svd_job_drop(struct svd *d, struct svd_job *j, int status, const char *why)
{
	switch (j->kind) {
	case SVD_JOB_CONNECT:
		break;
	case SVD_JOB_SCAN:
		if (status != SEVMON_ECANCELED) {
			record_scan_errors(d, j, why);
			svd_scan_target_done(d, j->scan, 1);
		}
		break;
	case SVD_JOB_VIEW:
		rest_async_complete(j->op, status, NULL);
		break;
	}
	free_outs(j);
	free(j);
}

/* ---------------------------------------------------------------- worker thread */

static const char *module_state(struct kintro *k, int64_t v)
{
	static const char *const fallback[] = { "MODULE_STATE_LIVE", "MODULE_STATE_COMING",
						"MODULE_STATE_GOING", "MODULE_STATE_UNFORMED" };
	const char *s = k->btf ? ktypes_enum_name(k->btf, "module_state", v) : NULL;
	if (!s)
		s = v >= 0 && v < 4 ? fallback[v] : "?";
	if (!strncmp(s, "MODULE_STATE_", 13))
		s += 13;
	return s;
}

/* A check's payload in the store's contract shapes (store.h). */
static int check_payload(struct kintro *k, int which, char **payload, char *err, size_t errcap)
{
	json_t *o = NULL;
	int rc = 0;
	if (which == 0) {
		char banner[KPROFILE_MAX_BANNER];
		if ((rc = kcheck_banner(k, banner, sizeof banner)) < 0)
			goto fail;
		size_t n = strlen(banner);
		while (n && banner[n - 1] == '\n')
			banner[--n] = 0;
		o = json_pack("{s:s%}", "banner", banner, n);
	} else if (which == 1) {
		/* not calloc: the checks write every field of the entries they return, and
		 * zeroing 3 MB per target was a tenth of a fleet scan's CPU */
		struct kproc *p = malloc(SVD_LIST_MAX * sizeof *p);
		int partial = 0;
		if (!p)
			return SEVMON_ENOMEM;
		int n = kcheck_ps(k, p, SVD_LIST_MAX, &partial);
		if (n < 0) {
			free(p);
			rc = n;
			goto fail;
		}
		json_t *a = json_array();
		for (int i = 0; i < n; i++)
			json_array_append_new(a, json_pack("{s:i, s:i, s:i, s:I, s:s, s:b, s:b}", "pid",
							   p[i].pid, "tgid", p[i].tgid, "ppid",
							   p[i].ppid, "uid", (json_int_t)p[i].uid,
							   "comm", p[i].comm, "kthread", p[i].kthread,
							   "exiting", p[i].exiting));
		free(p);
		o = json_pack("{s:o, s:b}", "processes", a, "partial", partial);
	} else {
		struct kmod *m = malloc(SVD_LIST_MAX * sizeof *m); /* as above */
		int partial = 0;
		if (!m)
			return SEVMON_ENOMEM;
		int n = kcheck_modules(k, m, SVD_LIST_MAX, &partial);
		if (n < 0) {
			free(m);
			rc = n;
			goto fail;
		}
		json_t *a = json_array();
		for (int i = 0; i < n; i++) {
			char addr[24];
			snprintf(addr, sizeof addr, "0x%llx", (unsigned long long)m[i].addr);
			json_array_append_new(a, json_pack("{s:s, s:s, s:s}", "name", m[i].name,
							   "state", module_state(k, m[i].state),
							   "addr", addr));
		}
		free(m);
		o = json_pack("{s:o, s:b}", "modules", a, "partial", partial);
	}
	if (!o || !(*payload = json_dumps(o, JSON_COMPACT))) {
		json_decref(o);
		return SEVMON_ENOMEM;
	}
	json_decref(o);
	return 0;
fail:
	snprintf(err, errcap, "%s: %s", svd_check_names[which], sevmon_strerror(rc));
	return rc;
}

#ifndef SEVMON_TRUST_DIR
#define SEVMON_TRUST_DIR "/usr/share/sevmon/trust"
#endif

/* The channel policy of j's target: our key, the pinned agent key, the accepted
 * measurements, the trust anchors, our own evidence. Reads files: worker only. */
static int build_policy(struct svd_job *j, char *why, size_t whycap)
{
	struct svd_target *t = j->t;
	struct ids_policy *p = &t->pol;
	const struct svd_target_cfg *tc = &j->tcfg;
	int rc;
	memset(p, 0, sizeof *p);
	if (!j->key_file[0]) {
		snprintf(why, whycap, "no IDS key (set key = FILE in [sevmond])");
		return SEVMON_EINVAL;
	}
	if ((rc = session_key_load(j->key_file, &p->key)) < 0) {
		snprintf(why, whycap, "IDS key %.200s: %s", j->key_file, sevmon_strerror(rc));
		return rc;
	}
	if (tc->key[0]) {
		if (session_hex_decode(tc->key, p->pin, NOISE_DH_LEN) < 0) {
			snprintf(why, whycap, "pinned key: not %d hex digits", 2 * NOISE_DH_LEN);
			rc = SEVMON_EINVAL;
			goto fail;
		}
		p->has_pin = true;
	}
	for (unsigned i = 0; i < tc->nmeasurements; i++)
		if (session_hex_decode(tc->measurements[i], p->peer.measurements[i],
				       SNP_MEASUREMENT_LEN) < 0) {
			snprintf(why, whycap, "measurement %u: not %d hex digits", i + 1,
				 2 * SNP_MEASUREMENT_LEN);
			rc = SEVMON_EINVAL;
			goto fail;
		}
	p->peer.n_measurements = tc->nmeasurements;
	svd_copy(t->pol_trust_dir, sizeof t->pol_trust_dir,
		 j->trust_dir[0] ? j->trust_dir : SEVMON_TRUST_DIR);
	p->peer.trust_dir = t->pol_trust_dir;
	if (j->shared && !tc->ntrust) {
		/* the daemon's anchors (svd_trust.c): the session keeps the reference */
		p->peer.trust = svd_trust_get(j->shared);
		t->pol_shared = j->shared;
		j->shared = NULL;
		goto own;
	}
	rc = SEVMON_ENOMEM;
	if (!(p->peer.trust = snp_trust_new()))
		goto fail;
	(void)snp_trust_add_amd(p->peer.trust, p->peer.trust_dir); /* absent: only `trust` counts */
	for (unsigned i = 0; i < tc->ntrust + j->ntrust; i++) {
		const char *f = i < tc->ntrust ? tc->trust[i] : j->trust[i - tc->ntrust];
		if ((rc = snp_trust_add_file(p->peer.trust, f)) < 0) {
			snprintf(why, whycap, "trust anchor %.200s: %s", f, sevmon_strerror(rc));
			goto fail;
		}
	}
own:
	if (j->attest[0]) {
		char pwhy[200] = "";
		if ((rc = snp_provider_open(j->attest, &p->own, pwhy, sizeof pwhy)) < 0) {
			snprintf(why, whycap, "own evidence (%.80s): %s", j->attest, pwhy);
			goto fail;
		}
	}
	t->pol_ready = 1;
	return 0;
fail:
	if (t->pol_shared)
		p->peer.trust = NULL;
	ids_policy_free(p);
	svd_trust_unref(t->pol_shared);
	t->pol_shared = NULL;
	return rc;
}

static void session_fail(struct svd_job *j, int rc, const char *what)
{
	struct svd_target *t = j->t;
	j->session_rc = rc;
	snprintf(j->session_err, sizeof j->session_err, "%s: %s", what, sevmon_strerror(rc));
	svd_target_close_session(t);
	atomic_store(&t->state, SVD_FAILED);
}

/* 1 when the job should run again on a fresh session: the session it found open had
 * died while idle (the agent restarted), which says nothing about the agent now. */
static int job_run(struct svd_job *j, int reused);

static void job_work(uv_work_t *w)
{
	struct svd_job *j = (struct svd_job *)w;
	if (job_run(j, j->t->conn_open)) {
		j->session_rc = 0;
		j->session_err[0] = 0;
		for (int i = 0; i < SVD_NCHECKS; i++) {
			free(j->out[i].payload);
			memset(&j->out[i], 0, sizeof j->out[i]);
		}
		(void)job_run(j, 0);
	}
}

static int job_run(struct svd_job *j, int reused)
{
	struct svd_target *t = j->t;
	int first = 1;
	if (!t->conn_open) {
		atomic_store(&t->state, SVD_CONNECTING);
		char why[320] = "";
		int rc = t->pol_ready ? 0 : build_policy(j, why, sizeof why);
		if (rc < 0) {
			session_fail(j, rc, "policy");
			svd_copy(j->session_err, sizeof j->session_err, why);
			return 0;
		}
		atomic_store(&t->state, SVD_ATTESTING);
		rc = ids_conn_open(&t->conn, j->uri, (int)j->connect_timeout_ms, &t->pol);
		if (rc < 0) {
			svd_copy(why, sizeof why, t->conn.why);
			session_fail(j, rc, "channel");
			if (why[0])
				snprintf(j->session_err, sizeof j->session_err, "channel: %.300s", why);
			return 0;
		}
		t->conn_open = 1;
		j->connected = 1;
		j->attested = 1;
		session_hex_encode(t->pol.peer.last.report.measurement, SNP_MEASUREMENT_LEN,
				   j->measurement);
		session_hex_encode(session_peer_key(t->conn.session), NOISE_DH_LEN, j->peer_key);
	}
	if (!t->kernel_open) {
		/* the kernel's profile: where its lists are; needed by every check */
		char err[256] = "";
		int rc = ids_kernel_open_memo(&t->kk, &t->conn, &j->d->kmemo, err, sizeof err);
		if (rc < 0) {
			if (t->conn.lost) {
				session_fail(j, t->conn.lost, "connection lost");
				return reused;
			}
			/* reachable but no kernel we understand: the session stands, checks fail */
			atomic_store(&t->state, SVD_READY);
			for (int i = 0; i < SVD_NCHECKS; i++) {
				j->out[i].rc = rc;
				snprintf(j->out[i].err, sizeof j->out[i].err, "kernel: %s (%s)",
					 sevmon_strerror(rc), err);
			}
			return 0;
		}
		t->kernel_open = 1;
	}
	t->kk.agent.timeout_ms = j->request_timeout_ms;
	atomic_store(&t->state, SVD_READY);
	unsigned want = j->kind == SVD_JOB_VIEW ? 1u << j->view : j->checks;
	for (int i = 0; i < SVD_NCHECKS; i++) {
		if (!(want & (1u << i)))
			continue;
		struct svd_check_out *o = &j->out[i];
		struct rpc_client_stats s0, s1;
		rpc_client_get_stats(t->conn.rpc, &s0);
		uint64_t t0 = (uint64_t)clock_mono_ms();
		o->rc = check_payload(&t->kk.k, i, &o->payload, o->err, sizeof o->err);
		rpc_client_get_stats(t->conn.rpc, &s1);
		o->ms = (uint32_t)((uint64_t)clock_mono_ms() - t0);
		o->requests = s1.requests - s0.requests;
		o->bytes = s1.bytes_sent + s1.bytes_received - s0.bytes_sent - s0.bytes_received;
		if (t->conn.lost) {
			int lost = t->conn.lost;
			session_fail(j, lost, "connection lost");
			if (reused && first)
				return 1;
			/* the checks not run yet fail with the session */
			for (int k = i + 1; k < SVD_NCHECKS; k++) {
				j->out[k].rc = lost;
				svd_copy(j->out[k].err, sizeof j->out[k].err, j->session_err);
			}
			return 0;
		}
		first = 0;
	}
	return 0;
}

/* ---------------------------------------------------------------- back on the loop */

static uint64_t backoff_ms(struct svd *d, unsigned failures)
{
	uint64_t b = d->cfg.backoff_min_ms;
	for (unsigned i = 1; i < failures && b < d->cfg.backoff_max_ms; i++)
		b *= 2;
	if (b > d->cfg.backoff_max_ms)
		b = d->cfg.backoff_max_ms;
	/* jitter: 75..125 %, so a fleet that failed together does not retry together */
	d->jitter_state ^= d->jitter_state << 13;
	d->jitter_state ^= d->jitter_state >> 7;
	d->jitter_state ^= d->jitter_state << 17;
	uint64_t spread = b / 2;
	return b - b / 4 + (spread ? d->jitter_state % (spread + 1) : 0);
}

static void update_target(struct svd *d, struct svd_job *j)
{
	struct svd_target *t = j->t;
	uint64_t now = (uint64_t)clock_real_ms();
	if (j->session_rc < 0) {
		t->failures++;
		t->retry_at_ms = now + backoff_ms(d, t->failures);
		svd_copy(t->detail, sizeof t->detail, j->session_err);
		if (j->session_rc == SEVMON_EATTEST || j->session_rc == SEVMON_EDENIED ||
		    j->session_rc == SEVMON_EAUTH) {
			snprintf(t->attest_status, sizeof t->attest_status, "failed");
			svd_copy(t->attest_detail, sizeof t->attest_detail, j->session_err);
			if (t->failures == 1)
				store_finding_add(d->store, 0, t->cfg.name, STORE_SEV_HIGH,
						  "attestation_failed", t->cfg.name, NULL);
		}
		atomic_store(&t->state, SVD_FAILED);
		if (t->failures == 1 || t->failures % 10 == 0)
			svd_log("target %s: %s (failure %u, retry in %llu ms)", t->cfg.name,
				t->detail, t->failures, (unsigned long long)(t->retry_at_ms - now));
	} else {
		if (j->attested) {
			snprintf(t->attest_status, sizeof t->attest_status, "verified");
			snprintf(t->attest_detail, sizeof t->attest_detail, "%s",
				 j->tcfg.nmeasurements ? "measurement accepted"
						       : "any measurement accepted (none configured)");
			memcpy(t->attest_measurement, j->measurement, sizeof t->attest_measurement);
			memcpy(t->attest_key, j->peer_key, sizeof t->attest_key);
			t->attest_at_ms = (int64_t)now;
		}
		if (t->failures || atomic_load(&t->state) != SVD_READY)
			svd_log("target %s: ready", t->cfg.name);
		t->failures = 0;
		t->retry_at_ms = 0;
		t->last_seen_ms = now;
		t->detail[0] = 0;
		for (int i = 0; i < SVD_NCHECKS; i++)
			if (j->out[i].rc < 0 && !t->detail[0])
				svd_copy(t->detail, sizeof t->detail, j->out[i].err);
		atomic_store(&t->state, SVD_READY);
	}
	if (j->connected && j->session_rc == 0)
		t->connects++;
	for (int i = 0; i < SVD_NCHECKS; i++) {
		t->requests += j->out[i].requests;
		t->bytes += j->out[i].bytes;
	}
	svd_target_persist(d, t);
}

static void record_scan(struct svd *d, struct svd_job *j)
{
	int failed = j->session_rc < 0;
	for (int i = 0; i < SVD_NCHECKS; i++) {
		if (!(j->checks & (1u << i)))
			continue;
		const struct svd_check_out *o = &j->out[i];
		int ok = j->session_rc == 0 && o->rc == 0 && o->payload;
		const char *err = ok ? NULL : o->err[0] ? o->err : j->session_err;
		struct store_result_in r = { .target = j->t->cfg.name, .check = svd_check_names[i],
					     .ok = ok, .error = err,
					     .payload_json = ok ? o->payload : NULL,
					     .duration_ms = o->ms, .requests = o->requests,
					     .bytes = o->bytes };
		int rc = store_result_add(d->store, j->scan->id, &r);
		if (rc < 0) {
			svd_log("scan %lld %s/%s: store: %s", (long long)j->scan->id, j->t->cfg.name,
				svd_check_names[i], store_last_error(d->store));
			failed = 1;
		} else if (rc > 0) {
			metrics_counter_add(d->metrics, "sevmond_findings_total", NULL, rc);
		}
		if (!ok)
			failed = 1;
	}
	svd_scan_target_done(d, j->scan, failed);
}

static void complete_view(struct svd_job *j)
{
	const struct svd_check_out *o = &j->out[j->view];
	if (j->session_rc < 0) {
		rest_async_complete(j->op, j->session_rc == SEVMON_ETIMEDOUT ? SEVMON_ETIMEDOUT
									      : SEVMON_EBUSY,
				    NULL);
		return;
	}
	if (o->rc < 0 || !o->payload) {
		rest_async_complete(j->op, o->rc == SEVMON_ETIMEDOUT ? SEVMON_ETIMEDOUT : SEVMON_EIO,
				    NULL);
		return;
	}
	json_t *body = json_loads(o->payload, 0, NULL);
	if (!body) {
		rest_async_complete(j->op, SEVMON_ENOMEM, NULL);
		return;
	}
	json_object_set_new(body, "target", json_string(j->t->cfg.name));
	rest_async_complete(j->op, 0, body);
}

static void job_done(uv_work_t *w, int status)
{
	struct svd_job *j = (struct svd_job *)w;
	struct svd *d = j->d;
	struct svd_target *t = j->t;
	(void)status;
	d->running--;
	t->busy = 0;
	svd_metrics_job(d, j);
	if (t->removed) {
		svd_job_drop(d, j, SEVMON_ENOENT, "target removed");
		svd_target_free(t);
	} else {
		update_target(d, j);
		if (t->stale) {
			svd_target_close_session(t);
			t->stale = 0;
		}
		if (j->kind == SVD_JOB_SCAN)
			record_scan(d, j);
		else if (j->kind == SVD_JOB_VIEW)
			complete_view(j);
		free_outs(j);
		free(j);
	}
	svd_dispatch(d);
	svd_maybe_exit(d);
}

static void on_view_cancel(void *arg)
{
	struct svd_job *j = arg;
	j->cancelled = 1;
}

/* The daemon's anchors, built on first use (loop: reads the anchor files once, not once
 * per session). NULL when they cannot be built: each session then builds its own and
 * reports why. */
static struct svd_trust *shared_trust(struct svd *d)
{
	if (!d->trust) {
		char why[320];
		if (svd_trust_build(&d->cfg, SEVMON_TRUST_DIR, &d->trust, why, sizeof why) < 0)
			d->trust = NULL;
	}
	return d->trust;
}

void svd_dispatch(struct svd *d)
{
	uint64_t now = (uint64_t)clock_real_ms();
	for (struct svd_target *t = d->targets, *next; t && d->running < d->cfg.workers; t = next) {
		next = t->next;
		while (!t->busy && t->qhead && d->running < d->cfg.workers) {
			struct svd_job *j = t->qhead;
			t->qhead = j->next;
			if (!t->qhead)
				t->qtail = NULL;
			t->nqueued--;
			d->queued--;
			if (j->cancelled) {
				svd_job_drop(d, j, SEVMON_ECANCELED, "client went away");
				continue;
			}
			/* a target in backoff fails at once: a dead agent costs only its own work */
			if (j->kind != SVD_JOB_CONNECT && atomic_load(&t->state) == SVD_FAILED &&
			    t->retry_at_ms > now) {
				char why[320];
				snprintf(why, sizeof why, "target unavailable (retry in %llu ms): %s",
					 (unsigned long long)(t->retry_at_ms - now), t->detail);
				svd_job_drop(d, j, SEVMON_EBUSY, why);
				continue;
			}
			if (j->kind == SVD_JOB_VIEW)
				rest_async_on_cancel(j->op, on_view_cancel, j);
			svd_copy(j->uri, sizeof j->uri, t->cfg.uri);
			j->tcfg = t->cfg;
			svd_copy(j->key_file, sizeof j->key_file, d->cfg.key_file);
			svd_copy(j->trust_dir, sizeof j->trust_dir, d->cfg.trust_dir);
			svd_copy(j->attest, sizeof j->attest, d->cfg.attest);
			memcpy(j->trust, d->cfg.trust, sizeof j->trust);
			j->ntrust = d->cfg.ntrust;
			/* also when a policy stands: the job may rebuild it (a session that died
			 * idle reconnects within the job); an unused reference goes with the job */
			if (!t->cfg.ntrust)
				j->shared = svd_trust_ref(shared_trust(d));
			j->connect_timeout_ms = d->cfg.connect_timeout_ms;
			j->request_timeout_ms = d->cfg.request_timeout_ms;
			t->busy = 1;
			d->running++;
			int rc = uv_queue_work(d->loop, &j->work, job_work, job_done);
			if (rc < 0) {
				t->busy = 0;
				d->running--;
				svd_job_drop(d, j, SEVMON_ENOMEM, "cannot queue work");
			}
		}
	}
}
