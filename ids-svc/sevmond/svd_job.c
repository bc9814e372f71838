/*
 * svd_job.c — sevmond's work: per-target job queues, a bounded pool (libuv's thread pool,
 * at most cfg.workers jobs at once), the registry's checks run with the synchronous
 * ids_conn + ids_kernel on a worker thread, and the results brought back to the loop,
 * where the target is updated and the job's creator finishes it (struct svd_job_ops).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "err.h"
#include "svd.h"

struct svd_job *svd_job_new(struct svd *d, struct svd_target *t, enum svd_job_kind kind,
			    check_set checks, const struct svd_job_ops *ops)
{
	struct svd_job *j = calloc(1, sizeof *j);
	if (!j || !(j->out = calloc(check_count(), sizeof *j->out))) {
		free(j);
		return NULL;
	}
	j->d = d;
	j->t = t;
	j->kind = kind;
	j->checks = checks;
	j->ops = ops;
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

void svd_job_queue_connect(struct svd *d, struct svd_target *t)
{
	struct svd_job *j = svd_job_new(d, t, SVD_JOB_CONNECT, 0, NULL);
	if (j && svd_job_queue(d, t, j) < 0)
		svd_job_free(j);
}

/* The checks' outcomes, ready to run again (a retry on a fresh session). */
static void clear_outs(struct svd_job *j)
{
	for (size_t i = 0; i < check_count(); i++) {
		free(j->out[i].payload);
		check_findings_free(&j->out[i].findings);
		memset(&j->out[i], 0, sizeof j->out[i]);
	}
}

void svd_job_free(struct svd_job *j)
{
	if (!j)
		return;
	svd_trust_unref(j->shared);
	svd_acq_free(j->acq);
	if (j->out)
		clear_outs(j);
	free(j->out);
	free(j);
}

void svd_job_drop(struct svd *d, struct svd_job *j, int status, const char *why)
{
	if (j->ops && j->ops->drop)
		j->ops->drop(d, j, status, why);
	if (!j->kept)
		svd_job_free(j);
}

void svd_job_drop_queued(struct svd *d, struct svd_target *t, int status, const char *why)
{
	while (t->qhead) {
		struct svd_job *j = t->qhead;
		t->qhead = j->next;
		t->nqueued--;
		d->queued--;
		svd_job_drop(d, j, status, why);
	}
	t->qtail = NULL;
}

/* ---------------------------------------------------------------- worker thread */

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
		clear_outs(j);
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
		t->conn.request_timeout_ms = j->request_timeout_ms;
		j->connected = 1;
		j->attested = 1;
		session_hex_encode(t->pol.peer.last.report.measurement, SNP_MEASUREMENT_LEN,
				   j->measurement);
		session_hex_encode(session_peer_key(t->conn.session), NOISE_DH_LEN, j->peer_key);
	}
	/* what this job runs: a view's one check, a scan's set (a connect job none) */
	check_set want = j->checks;
	if (!t->kernel_open && (j->kind == SVD_JOB_CONNECT || check_set_needs(want, CHECK_NEEDS_KERNEL))) {
		/* the kernel's profile: where its lists are; set up with the session */
		char err[256] = "";
		int rc = ids_kernel_open_memo(&t->kk, &t->conn, &j->d->kmemo, err, sizeof err);
		if (rc < 0) {
			if (t->conn.lost) {
				session_fail(j, t->conn.lost, "connection lost");
				return reused;
			}
			/* reachable but no kernel we understand: the session stands, checks fail */
			atomic_store(&t->state, SVD_READY);
			for (size_t i = 0; i < check_count(); i++) {
				if (!(check_at(i)->needs & CHECK_NEEDS_KERNEL))
					continue; /* the evidence checks do not need it */
				j->out[i].rc = rc;
				snprintf(j->out[i].err, sizeof j->out[i].err, "kernel: %s (%s)",
					 sevmon_strerror(rc), err);
			}
			return 0;
		}
		t->kernel_open = 1;
	}
	t->conn.request_timeout_ms = j->request_timeout_ms;
	if (t->kernel_open)
		t->kk.agent.timeout_ms = j->request_timeout_ms;
	atomic_store(&t->state, SVD_READY);
	struct check_env env = { .k = t->kernel_open ? &t->kk.k : NULL,
				 .evidence = &t->pol.peer.last };
	/* one sweep: the kernel views its checks compare are read together, once (a
	 * failure to allocate them only costs round trips: each check reads its own) */
	if (check_sweep_begin(&env, want) < 0)
		env.kv = NULL;
	for (size_t i = 0; i < check_count(); i++) {
		if (!(want & (1ull << i)))
			continue;
		struct svd_check_out *o = &j->out[i];
		if (o->rc < 0)
			continue; /* failed before it ran (no kernel profile) */
		struct rpc_client_stats s0, s1;
		rpc_client_get_stats(t->conn.rpc, &s0);
		uint64_t t0 = (uint64_t)clock_mono_ms();
		o->rc = check_run_json(check_at(i), &env, &o->payload, NULL, &o->findings, o->err,
				       sizeof o->err);
		rpc_client_get_stats(t->conn.rpc, &s1);
		o->ms = (uint32_t)((uint64_t)clock_mono_ms() - t0);
		o->requests = s1.requests - s0.requests;
		o->bytes = s1.bytes_sent + s1.bytes_received - s0.bytes_sent - s0.bytes_received;
		if (t->conn.lost) {
			int lost = t->conn.lost;
			session_fail(j, lost, "connection lost");
			if (reused && first) {
				check_sweep_end(&env);
				return 1;
			}
			/* the checks not run yet fail with the session */
			for (size_t k = i + 1; k < check_count(); k++) {
				j->out[k].rc = lost;
				svd_copy(j->out[k].err, sizeof j->out[k].err, j->session_err);
			}
			check_sweep_end(&env);
			return 0;
		}
		first = 0;
	}
	check_sweep_end(&env);
	if (j->kind == SVD_JOB_ACQUIRE) {
		svd_acquire_work(j);
		if (t->conn.lost)
			session_fail(j, t->conn.lost, "connection lost");
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
		for (size_t i = 0; i < check_count(); i++)
			if (j->out[i].rc < 0 && !t->detail[0])
				svd_copy(t->detail, sizeof t->detail, j->out[i].err);
		atomic_store(&t->state, SVD_READY);
	}
	if (j->connected && j->session_rc == 0)
		t->connects++;
	for (size_t i = 0; i < check_count(); i++) {
		t->requests += j->out[i].requests;
		t->bytes += j->out[i].bytes;
	}
	svd_target_persist(d, t);
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
		if (j->ops && j->ops->done)
			j->ops->done(d, j);
		if (!j->kept)
			svd_job_free(j);
	}
	svd_dispatch(d);
	if (d->idle)
		d->idle(d);
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
