/*
 * svd_lease.c — this replica's part of the fleet (store.h, "the fleet"; docs/scale-out.md).
 *
 * Every lease_renew (and when another replica wakes us: jobs queued, leases released,
 * targets changed) one round:
 *   beat      this replica is alive; how many are, how many targets there are
 *   renew     extend every lease held; the answer is what is held: a target missing
 *             from it went to another replica (dropped here), one whose version moved is
 *             re-read and applied
 *   balance   share = ceil(targets / replicas); below it, claim (batches of claim_batch)
 *             free or expired leases; above it, hand idle targets back, so a new replica
 *             gets its share without anyone restarting
 *   jobs      take queued scan jobs of held targets into their queues
 * A replica that cannot reach the store keeps its sessions and its running work, records
 * results when the store is back (the outbox), and is not ready (/readyz) once its last
 * renewal is older than a lease: by then another replica may hold its targets, and its
 * fenced writes would be refused anyway.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "err.h"
#include "svd.h"

/* A wake-up storm (a thousand jobs queued one by one) runs at most one round this often;
 * jobs are pulled on every wake-up regardless. */
#define SVD_WAKE_ROUND_MIN_MS 200u

void svd_store_failed(struct svd *d, const char *what)
{
	uint64_t now = (uint64_t)clock_mono_ms();
	if (now - d->store_err_logged_ms < 1000u)
		return;
	d->store_err_logged_ms = now;
	svd_log("%s: store: %s", what, store_last_error(d->store));
	metrics_counter_add(d->metrics, "sevmond_store_errors_total", NULL, 1);
}

static const struct store_lease *find_lease(const struct store_lease *v, size_t n, const char *name)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(v[mid].target, name);
		if (c == 0)
			return &v[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Take the target of lease l into memory, as its row says. */
static void adopt(struct svd *d, const struct store_lease *l)
{
	struct store_target row;
	int rc = store_target_get(d->store, l->target, &row);
	if (rc < 0) {
		if (rc != SEVMON_ENOENT)
			svd_store_failed(d, "lease");
		/* removed meanwhile (or unreadable): give it back for whoever can */
		(void)store_lease_release(d->store, d->replica, l->target);
		return;
	}
	struct svd_target_cfg cfg;
	char origin[16];
	rc = svd_target_cfg_from_row(&row, &cfg, origin, sizeof origin);
	struct store_lease cur = *l;
	cur.version = row.version;
	store_target_clear(&row);
	if (rc == 0)
		rc = svd_target_adopt(d, &cfg, strcmp(origin, "api") != 0, &cur, NULL);
	if (rc < 0) {
		svd_log("target %s: cannot take it: %s", l->target, sevmon_strerror(rc));
		(void)store_lease_release(d->store, d->replica, l->target);
		return;
	}
	metrics_counter_add(d->metrics, "sevmond_lease_claims_total", NULL, 1);
}

/* Re-read a held target whose row changed, and apply it. */
static void refresh(struct svd *d, struct svd_target *t, int64_t version)
{
	struct store_target row;
	if (store_target_get(d->store, t->cfg.name, &row) < 0) {
		svd_store_failed(d, "target refresh");
		return;
	}
	struct svd_target_cfg cfg;
	char origin[16];
	if (svd_target_cfg_from_row(&row, &cfg, origin, sizeof origin) == 0) {
		t->from_config = strcmp(origin, "api") != 0;
		if (svd_target_update(d, t, &cfg) > 0)
			svd_log("target %s: changed in the store (version %lld)", t->cfg.name,
				(long long)row.version);
	}
	t->version = version;
	store_target_clear(&row);
}

/* Hand up to n idle targets back (the share shrank: another replica came). */
static void shed(struct svd *d, size_t n)
{
	for (struct svd_target *t = d->targets, *next; t && n; t = next) {
		next = t->next;
		if (t->busy || t->qhead)
			continue;
		if (store_lease_release(d->store, d->replica, t->cfg.name) < 0) {
			svd_store_failed(d, "lease release");
			return;
		}
		metrics_counter_add(d->metrics, "sevmond_leases_released_total", NULL, 1);
		svd_target_drop(d, t, SEVMON_ECANCELED, "handed to another replica");
		n--;
	}
}

void svd_lease_round(struct svd *d)
{
	if (d->released)
		return;
	struct store_fleet f;
	if (store_replica_beat(d->store, d->replica, d->cfg.lease_ms, &f) < 0) {
		metrics_counter_add(d->metrics, "sevmond_lease_renewals_total",
				    (const char *[]){ "result", "failed", NULL }, 1);
		svd_store_failed(d, "replica beat");
		return;
	}
	d->replicas_seen = f.replicas;
	d->fleet_targets = f.targets;
	struct store_lease *held = NULL;
	size_t nheld = 0;
	if (store_leases_renew(d->store, d->replica, d->cfg.lease_ms, &held, &nheld) < 0) {
		metrics_counter_add(d->metrics, "sevmond_lease_renewals_total",
				    (const char *[]){ "result", "failed", NULL }, 1);
		svd_store_failed(d, "lease renew");
		return;
	}
	metrics_counter_add(d->metrics, "sevmond_lease_renewals_total",
			    (const char *[]){ "result", "ok", NULL }, 1);
	d->renewed_ms = (uint64_t)clock_mono_ms();
	svd_outbox_flush(d);
	/* what went elsewhere, what changed */
	for (struct svd_target *t = d->targets, *next; t; t = next) {
		next = t->next;
		const struct store_lease *l = find_lease(held, nheld, t->cfg.name);
		if (!l || l->token != t->lease_token) {
			svd_log("target %s: its lease is no longer ours: dropped", t->cfg.name);
			metrics_counter_add(d->metrics, "sevmond_leases_lost_total", NULL, 1);
			svd_target_drop(d, t, SEVMON_ECANCELED, "lease lost");
			continue;
		}
		if (l->version != t->version)
			refresh(d, t, l->version);
	}
	/* held in the store but not here: a restart under the same name */
	for (size_t i = 0; i < nheld && !d->draining; i++)
		if (!svd_target_find(d, held[i].target))
			adopt(d, &held[i]);
	free(held);
	if (!d->draining) {
		uint32_t reps = f.replicas ? f.replicas : 1;
		uint64_t share = (f.targets + reps - 1) / reps;
		if (share > SVD_TARGETS_MAX)
			share = SVD_TARGETS_MAX;
		for (unsigned round = 0; d->ntargets < share && round < SVD_CLAIM_ROUNDS_MAX; round++) {
			size_t want = share - d->ntargets;
			if (want > d->cfg.claim_batch)
				want = d->cfg.claim_batch;
			struct store_lease *got = NULL;
			size_t ngot = 0;
			if (store_leases_claim(d->store, d->replica, d->cfg.lease_ms, want, &got, &ngot) <
			    0) {
				svd_store_failed(d, "lease claim");
				break;
			}
			for (size_t i = 0; i < ngot; i++)
				adopt(d, &got[i]);
			free(got);
			if (ngot < want)
				break; /* nothing more is free */
		}
		if (d->ntargets > share)
			shed(d, d->ntargets - share);
		svd_jobs_pull(d);
	}
	svd_dispatch(d);
}

void svd_jobs_pull(struct svd *d)
{
	if (d->draining || d->released)
		return;
	for (unsigned round = 0; round < SVD_CLAIM_ROUNDS_MAX; round++) {
		size_t room = d->queued < SVD_JOBS_MAX ? SVD_JOBS_MAX - d->queued : 0;
		if (room > d->cfg.claim_batch * 4u)
			room = d->cfg.claim_batch * 4u;
		if (room == 0)
			return;
		struct store_job *v = NULL;
		size_t n = 0;
		if (store_jobs_claim(d->store, d->replica, room, &v, &n) < 0) {
			svd_store_failed(d, "job claim");
			return;
		}
		for (size_t i = 0; i < n; i++) {
			struct svd_target *t = svd_target_find(d, v[i].target);
			if (!t) {
				/* its lease left us a moment ago: the job goes back with it */
				(void)store_lease_release(d->store, d->replica, v[i].target);
				continue;
			}
			struct svd_job *j = svd_scan_job(d, t, &v[i]);
			if (!j)
				continue;
			int rc = svd_job_queue(d, t, j);
			if (rc < 0)
				svd_job_drop(d, j, rc, "the target's queue is full");
		}
		store_jobs_free(v, n);
		if (n < room)
			break;
	}
	svd_dispatch(d);
}

/* ---- wake-ups: the store's descriptor on the loop ---- */

static void wake_closed(uv_handle_t *h)
{
	free(h);
}

static void wake_close(struct svd *d)
{
	if (!d->wake)
		return;
	uv_poll_stop(d->wake);
	uv_close((uv_handle_t *)d->wake, wake_closed);
	d->wake = NULL;
	d->wake_fd = -1;
}

static uint64_t last_wake_round_ms;
static void on_lease_timer_cb(uv_timer_t *tm);

static void on_wake(uv_poll_t *p, int status, int events)
{
	struct svd *d = p->data;
	(void)events;
	int mask = status < 0 ? SEVMON_EIO : store_wake_drain(d->store);
	if (mask < 0 || store_wake_fd(d->store) != d->wake_fd) {
		/* the connection went (its descriptor with it): the next round re-arms */
		wake_close(d);
		return;
	}
	if (d->draining)
		return;
	uint64_t now = (uint64_t)clock_mono_ms();
	if (mask & STORE_WAKE_FLEET) {
		uint64_t since = now - last_wake_round_ms;
		if (since >= SVD_WAKE_ROUND_MIN_MS) {
			last_wake_round_ms = now;
			svd_lease_round(d);
		} else {
			/* not now, but soon: the lease timer's next round moves up */
			uv_timer_start(&d->lease_timer, on_lease_timer_cb, SVD_WAKE_ROUND_MIN_MS - since,
				       d->cfg.lease_renew_ms);
		}
	} else if (mask & STORE_WAKE_JOBS) {
		svd_jobs_pull(d);
	}
}

static void wake_arm(struct svd *d)
{
	if (d->wake || d->draining)
		return;
	int fd = store_wake_fd(d->store);
	if (fd < 0)
		return;
	uv_poll_t *p = malloc(sizeof *p);
	if (!p)
		return;
	if (uv_poll_init(d->loop, p, fd) < 0) {
		free(p);
		return;
	}
	p->data = d;
	d->wake = p;
	d->wake_fd = fd;
	uv_poll_start(p, UV_READABLE, on_wake);
	/* what arrived before the poll started */
	int mask = store_wake_drain(d->store);
	if (mask < 0)
		wake_close(d);
}

static void on_lease_timer_cb(uv_timer_t *tm)
{
	struct svd *d = tm->data;
	last_wake_round_ms = (uint64_t)clock_mono_ms();
	svd_lease_round(d);
	wake_arm(d);
}

void svd_lease_start(struct svd *d)
{
	d->wake_fd = -1;
	d->lease_on = 1;
	uv_timer_init(d->loop, &d->lease_timer);
	d->lease_timer.data = d;
	uv_timer_start(&d->lease_timer, on_lease_timer_cb, 0, d->cfg.lease_renew_ms);
}

static void close_noop(uv_handle_t *h)
{
	(void)h;
}

void svd_lease_stop(struct svd *d)
{
	wake_close(d);
	if (d->lease_on && !uv_is_closing((uv_handle_t *)&d->lease_timer))
		uv_close((uv_handle_t *)&d->lease_timer, close_noop);
}

void svd_lease_release_all(struct svd *d)
{
	if (d->released)
		return;
	svd_outbox_flush(d);
	d->released = 1;
	/* leave first: the others, woken by the release, must already count one replica
	 * fewer, or their shares would not grow by what is released */
	if (store_replica_leave(d->store, d->replica) < 0)
		svd_store_failed(d, "replica leave");
	int n = store_lease_release(d->store, d->replica, NULL);
	if (n < 0)
		svd_store_failed(d, "lease release");
	else
		svd_log("released %d leases for the other replicas", n);
}

int svd_ready(const struct svd *d)
{
	if (d->draining || !d->renewed_ms)
		return 0;
	return (uint64_t)clock_mono_ms() - d->renewed_ms < d->cfg.lease_ms;
}
