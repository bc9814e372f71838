/*
 * svd_target.c — sevmond's targets: the table, their persisted state, their JSON.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "err.h"
#include "svd.h"

const char *svd_state_name(enum svd_state s)
{
	static const char *const names[SVD_NSTATES] = { "idle", "connecting", "attesting", "ready",
							"failed" };
	return (unsigned)s < SVD_NSTATES ? names[s] : "unknown";
}

struct svd_target *svd_target_find(struct svd *d, const char *name)
{
	for (struct svd_target *t = d->targets; t; t = t->next)
		if (!strcmp(t->cfg.name, name))
			return t;
	return NULL;
}

/* What the store keeps beside uri and key: where the target came from and its policy. */
static char *policy_json(const struct svd_target_cfg *cfg, int from_config)
{
	json_t *m = json_array();
	for (unsigned i = 0; i < cfg->nmeasurements; i++)
		json_array_append_new(m, json_string(cfg->measurements[i]));
	json_t *tr = json_array();
	for (unsigned i = 0; i < cfg->ntrust; i++)
		json_array_append_new(tr, json_string(cfg->trust[i]));
	json_t *o = json_pack("{s:s, s:o, s:o, s:I, s:I}", "origin", from_config ? "config" : "api",
			      "measurements", m, "trust", tr, "interval_s",
			      (json_int_t)cfg->interval_s, "checks", (json_int_t)cfg->checks);
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	return s;
}

int svd_target_add(struct svd *d, const struct svd_target_cfg *cfg, int from_config,
		   struct svd_target **out)
{
	if (svd_target_find(d, cfg->name))
		return SEVMON_EEXIST;
	if (d->ntargets >= SVD_TARGETS_MAX)
		return SEVMON_ETOOBIG;
	char *pol = policy_json(cfg, from_config);
	if (!pol)
		return SEVMON_ENOMEM;
	int rc = store_target_upsert(d->store, cfg->name, cfg->uri, cfg->key[0] ? cfg->key : NULL,
				     pol);
	free(pol);
	if (rc < 0) {
		svd_log("target %s: store: %s", cfg->name, store_last_error(d->store));
		return rc;
	}
	struct svd_target *t = calloc(1, sizeof *t);
	if (!t)
		return SEVMON_ENOMEM;
	t->cfg = *cfg;
	t->from_config = from_config;
	atomic_store(&t->state, SVD_IDLE);
	snprintf(t->attest_status, sizeof t->attest_status, "none");
	uint32_t iv = cfg->interval_s ? cfg->interval_s : d->cfg.interval_s;
	t->next_scan_ms = iv ? (uint64_t)clock_real_ms() + (uint64_t)iv * 1000u : 0;
	t->next = d->targets;
	d->targets = t;
	d->ntargets++;
	svd_target_persist(d, t);
	if (!d->draining) {
		struct svd_job *j = svd_job_new(d, t, SVD_JOB_CONNECT);
		if (j && svd_job_queue(d, t, j) < 0)
			free(j);
	}
	if (out)
		*out = t;
	return 0;
}

void svd_target_close_session(struct svd_target *t)
{
	if (t->kernel_open)
		ids_kernel_close(&t->kk);
	if (t->conn_open)
		ids_conn_close(&t->conn);
	if (t->pol_ready) {
		if (t->pol_shared)
			t->pol.peer.trust = NULL; /* the daemon's: dropped by reference below */
		ids_policy_free(&t->pol); /* rebuilt at the next connect: key files may change */
	}
	svd_trust_unref(t->pol_shared);
	t->pol_shared = NULL;
	t->kernel_open = t->conn_open = t->pol_ready = 0;
}

void svd_target_free(struct svd_target *t)
{
	svd_target_close_session(t);
	free(t);
}

int svd_target_remove(struct svd *d, struct svd_target *t)
{
	for (struct svd_target **pp = &d->targets; *pp; pp = &(*pp)->next)
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	d->ntargets--;
	if (d->rr == t)
		d->rr = NULL;
	while (t->qhead) {
		struct svd_job *j = t->qhead;
		t->qhead = j->next;
		t->nqueued--;
		d->queued--;
		svd_job_drop(d, j, SEVMON_ENOENT, "target removed");
	}
	t->qtail = NULL;
	int rc = store_target_remove(d->store, t->cfg.name);
	if (rc < 0 && rc != SEVMON_ENOENT)
		svd_log("target %s: store: %s", t->cfg.name, store_last_error(d->store));
	if (t->busy)
		t->removed = 1; /* its job's completion frees it */
	else
		svd_target_free(t);
	return 0;
}

static int same_policy(const struct svd_target_cfg *a, const struct svd_target_cfg *b)
{
	if (strcmp(a->uri, b->uri) || strcmp(a->key, b->key) || a->nmeasurements != b->nmeasurements ||
	    a->ntrust != b->ntrust)
		return 0;
	for (unsigned i = 0; i < a->nmeasurements; i++)
		if (strcmp(a->measurements[i], b->measurements[i]))
			return 0;
	for (unsigned i = 0; i < a->ntrust; i++)
		if (strcmp(a->trust[i], b->trust[i]))
			return 0;
	return 1;
}

int svd_target_update(struct svd *d, struct svd_target *t, const struct svd_target_cfg *cfg)
{
	int changed = !same_policy(&t->cfg, cfg);
	int sched = t->cfg.interval_s != cfg->interval_s || t->cfg.checks != cfg->checks;
	if (!changed && !sched)
		return 0;
	t->cfg = *cfg;
	char *pol = policy_json(cfg, t->from_config);
	if (pol && store_target_upsert(d->store, cfg->name, cfg->uri, cfg->key[0] ? cfg->key : NULL,
				       pol) < 0)
		svd_log("target %s: store: %s", cfg->name, store_last_error(d->store));
	free(pol);
	if (changed) {
		/* a new uri or policy: the old session proves nothing about the new one */
		if (t->busy)
			t->stale = 1; /* closed when its job comes back */
		else
			svd_target_close_session(t);
		t->failures = 0;
		t->retry_at_ms = 0;
		atomic_store(&t->state, SVD_IDLE);
		snprintf(t->attest_status, sizeof t->attest_status, "none");
		t->attest_detail[0] = t->attest_measurement[0] = t->attest_key[0] = 0;
		svd_target_persist(d, t);
	}
	return changed || sched;
}

void svd_target_persist(struct svd *d, struct svd_target *t)
{
	json_t *a = json_pack("{s:s, s:s, s:s, s:s, s:I}", "status", t->attest_status, "detail",
			      t->attest_detail, "measurement", t->attest_measurement, "agent_key",
			      t->attest_key, "at", (json_int_t)t->attest_at_ms);
	char *aj = a ? json_dumps(a, JSON_COMPACT) : NULL;
	json_decref(a);
	if (store_target_set_state(d->store, t->cfg.name, svd_state_name(atomic_load(&t->state)),
				   t->detail, aj, t->last_seen_ms) < 0)
		svd_log("target %s: store: %s", t->cfg.name, store_last_error(d->store));
	free(aj);
}

json_t *svd_target_json(const struct svd_target *t)
{
	json_t *m = json_array();
	for (unsigned i = 0; i < t->cfg.nmeasurements; i++)
		json_array_append_new(m, json_string(t->cfg.measurements[i]));
	json_t *att = json_pack("{s:s}", "status", t->attest_status);
	if (t->attest_detail[0])
		json_object_set_new(att, "detail", json_string(t->attest_detail));
	if (t->attest_measurement[0]) {
		/* the last evidence that verified (also after a later failure: what it was) */
		json_object_set_new(att, "measurement", json_string(t->attest_measurement));
		json_object_set_new(att, "agent_key", json_string(t->attest_key));
		json_object_set_new(att, "verified_at", json_integer(t->attest_at_ms / 1000));
	}
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:I, s:I, s:I, s:I}", "name",
			      t->cfg.name, "uri", t->cfg.uri, "origin",
			      t->from_config ? "config" : "api", "state",
			      svd_state_name(atomic_load(&t->state)), "attestation", att,
			      "measurements", m, "failures", (json_int_t)t->failures, "queued",
			      (json_int_t)t->nqueued, "last_seen", (json_int_t)(t->last_seen_ms / 1000),
			      "interval_s", (json_int_t)t->cfg.interval_s);
	if (!o)
		return NULL;
	if (t->cfg.key[0])
		json_object_set_new(o, "key", json_string(t->cfg.key));
	json_object_set_new(o, "connects", json_integer((json_int_t)t->connects));
	json_object_set_new(o, "requests", json_integer((json_int_t)t->requests));
	json_object_set_new(o, "bytes", json_integer((json_int_t)t->bytes));
	if (t->detail[0])
		json_object_set_new(o, "detail", json_string(t->detail));
	uint64_t now = (uint64_t)clock_real_ms();
	if (atomic_load(&t->state) == SVD_FAILED && t->retry_at_ms > now)
		json_object_set_new(o, "retry_in_ms", json_integer((json_int_t)(t->retry_at_ms - now)));
	return o;
}
