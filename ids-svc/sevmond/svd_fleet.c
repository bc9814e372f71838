/*
 * svd_fleet.c — sevmond's set of targets: add (persisted, a connect queued), change (a
 * new policy closes the session), remove (queued jobs dropped, the store forgets it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "err.h"
#include "svd.h"

/* What the store keeps beside uri and key: where the target came from and its policy. */
static char *policy_json(const struct svd_target_cfg *cfg, int from_config)
{
	json_t *m = json_array();
	for (unsigned i = 0; i < cfg->nmeasurements; i++)
		json_array_append_new(m, json_string(cfg->measurements[i]));
	json_t *tr = json_array();
	for (unsigned i = 0; i < cfg->ntrust; i++)
		json_array_append_new(tr, json_string(cfg->trust[i]));
	json_t *ck = json_array();
	for (size_t i = 0; i < check_count(); i++)
		if (cfg->checks & (1ull << i))
			json_array_append_new(ck, json_string(check_at(i)->name));
	json_t *o = json_pack("{s:s, s:o, s:o, s:I, s:o}", "origin", from_config ? "config" : "api",
			      "measurements", m, "trust", tr, "interval_s",
			      (json_int_t)cfg->interval_s, "checks", ck);
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
	if (!d->draining)
		svd_job_queue_connect(d, t);
	if (out)
		*out = t;
	return 0;
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
	svd_job_drop_queued(d, t, SEVMON_ENOENT, "target removed");
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
