/*
 * svd_fleet.c — sevmond's targets: defined in the store (from the config file, the
 * targets file, or the API), adopted into memory when this replica takes a lease on one
 * (a session, a connect queued), dropped from memory when the lease goes, and changed in
 * place when its row changes (a new policy closes the session).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "err.h"
#include "scan_targets.h"
#include "svd.h"
#include "svd_source.h"

int svd_target_define(struct svd *d, const struct svd_target_cfg *cfg, const char *origin)
{
	char *pol = svd_target_policy_json(cfg, origin);
	if (!pol)
		return SEVMON_ENOMEM;
	/* no write (and no version bump, no session closed anywhere) for an unchanged row */
	struct store_target row;
	int rc = store_target_get(d->store, cfg->name, &row);
	int same = rc == 0 && !strcmp(row.uri, cfg->uri) && !strcmp(row.pinned_key, cfg->key) &&
		   row.policy_json && !strcmp(row.policy_json, pol);
	store_target_clear(&row);
	if (rc < 0 && rc != SEVMON_ENOENT) {
		free(pol);
		return rc;
	}
	int created = rc == SEVMON_ENOENT;
	if (!same) {
		rc = store_target_upsert(d->store, cfg->name, cfg->uri, cfg->key[0] ? cfg->key : NULL,
					 pol);
		if (rc < 0) {
			svd_log("target %s: store: %s", cfg->name, store_last_error(d->store));
			free(pol);
			return rc;
		}
		created = rc == 1;
	}
	free(pol);
	return created;
}

int svd_target_adopt(struct svd *d, const struct svd_target_cfg *cfg, int from_config,
		     const struct store_lease *lease, struct svd_target **out)
{
	if (svd_target_find(d, cfg->name))
		return SEVMON_EEXIST;
	if (d->ntargets >= SVD_TARGETS_MAX)
		return SEVMON_ETOOBIG;
	struct svd_target *t = calloc(1, sizeof *t);
	if (!t)
		return SEVMON_ENOMEM;
	t->cfg = *cfg;
	t->from_config = from_config;
	t->lease_token = lease->token;
	t->version = lease->version;
	atomic_store(&t->state, SVD_IDLE);
	snprintf(t->attest_status, sizeof t->attest_status, "none");
	/* keep the fleet's cadence across a hand-over: due one interval after its last scan
	 * by whoever held it (now, if that is past); a target never scanned waits one */
	uint32_t iv = cfg->interval_s ? cfg->interval_s : d->cfg.interval_s;
	uint64_t now = (uint64_t)clock_real_ms();
	if (iv && lease->last_scan_at > 0) {
		uint64_t due = (uint64_t)lease->last_scan_at + (uint64_t)iv * 1000u;
		t->next_scan_ms = due > now ? due : now;
	} else {
		t->next_scan_ms = iv ? now + (uint64_t)iv * 1000u : 0;
	}
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

void svd_target_drop(struct svd *d, struct svd_target *t, int status, const char *why)
{
	for (struct svd_target **pp = &d->targets; *pp; pp = &(*pp)->next)
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	d->ntargets--;
	if (d->rr == t)
		d->rr = NULL;
	svd_job_drop_queued(d, t, status, why);
	if (t->busy)
		t->removed = 1; /* its job's completion frees it */
	else
		svd_target_free(t);
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
	if (sched) {
		uint32_t iv = cfg->interval_s ? cfg->interval_s : d->cfg.interval_s;
		t->next_scan_ms = iv ? (uint64_t)clock_real_ms() + (uint64_t)iv * 1000u : 0;
	}
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
		if (!t->busy && !t->qhead && !d->draining)
			svd_job_queue_connect(d, t);
	}
	return 1;
}

/* ---- seeding the store from files ---- */

/* The agent's key from a `sevmon keygen` .pub file: its second field, 64 hex digits. */
static int read_pub(const char *path, char *hex, size_t cap)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return SEVMON_ENOENT;
	char line[512], kind[64], key[80];
	int rc = SEVMON_EINVAL;
	if (fgets(line, sizeof line, f) && sscanf(line, "%63s %79s", kind, key) == 2 &&
	    strlen(key) == 64 && strspn(key, "0123456789abcdefABCDEF") == 64 && cap > 64) {
		memcpy(hex, key, 65);
		rc = 0;
	}
	fclose(f);
	return rc;
}

/* The targets file's entries as target configurations (svd_source.h). */
int svd_source_file_load(struct svd *d, struct svd_target_cfg **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	if (!d->cfg.targets_file[0])
		return 0;
	FILE *f = fopen(d->cfg.targets_file, "r");
	if (!f) {
		svd_log("targets file %s: %s", d->cfg.targets_file, strerror(errno));
		return SEVMON_ENOENT;
	}
	struct scan_targets st;
	char err[256];
	int rc = scan_targets_parse(&st, f, err, sizeof err);
	fclose(f);
	if (rc < 0) {
		svd_log("targets file %s: %s", d->cfg.targets_file, err);
		return rc;
	}
	struct svd_target_cfg *v = st.n ? calloc(st.n, sizeof *v) : NULL;
	if (st.n && !v) {
		scan_targets_free(&st);
		return SEVMON_ENOMEM;
	}
	size_t k = 0;
	for (size_t i = 0; i < st.n; i++) {
		const struct scan_target *e = &st.v[i];
		struct svd_target_cfg *c = &v[k];
		if (strlen(e->name) > SVD_NAME_MAX || strlen(e->uri) > SVD_URI_MAX) {
			svd_log("targets file %s:%u: name or uri too long for sevmond",
				d->cfg.targets_file, e->line);
			continue;
		}
		svd_copy(c->name, sizeof c->name, e->name);
		svd_copy(c->uri, sizeof c->uri, e->uri);
		if (e->pin && read_pub(e->pin, c->key, sizeof c->key) < 0) {
			svd_log("targets file %s:%u: pin=%s: not a readable key file (skipped)",
				d->cfg.targets_file, e->line, e->pin);
			continue;
		}
		for (size_t m = 0; m < e->nmeas && c->nmeasurements < SVD_MEASUREMENTS_MAX; m++)
			svd_copy(c->measurements[c->nmeasurements++], 97, e->meas[m]);
		k++;
	}
	scan_targets_free(&st);
	*out = v;
	*n = k;
	return 0;
}

/* Is name one of the source's targets? */
static int listed(const struct svd_target_cfg *v, size_t n, const char *name)
{
	for (size_t k = 0; k < n; k++)
		if (!strcmp(v[k].name, name))
			return 1;
	return 0;
}

int svd_targets_seed(struct svd *d)
{
	/* every configured source's targets; a source that failed lists nothing and
	 * removes nothing (loaded[i] == 0) */
	struct svd_target_cfg *got[SVD_SOURCES_MAX] = { 0 };
	size_t ngot[SVD_SOURCES_MAX] = { 0 };
	int loaded[SVD_SOURCES_MAX] = { 0 };
	int rc = 0;
	unsigned added = 0, removed = 0;
	for (size_t i = 0; i < svd_nsources; i++)
		if (svd_sources[i].configured(&d->cfg))
			loaded[i] = svd_sources[i].load(d, &got[i], &ngot[i]) == 0;
	for (size_t i = 0; rc >= 0 && i < d->cfg.ntargets; i++)
		if ((rc = svd_target_define(d, &d->cfg.targets[i], "config")) > 0)
			added++;
	for (size_t i = 0; i < svd_nsources; i++)
		for (size_t k = 0; rc >= 0 && k < ngot[i]; k++) {
			const char *name = got[i][k].name;
			int earlier = 0; /* the config file's section wins, then the earlier row */
			for (size_t e = 0; e < i && !earlier; e++)
				earlier = listed(got[e], ngot[e], name);
			if (svd_config_target(&d->cfg, name) || earlier)
				continue;
			if ((rc = svd_target_define(d, &got[i][k], svd_sources[i].origin)) > 0)
				added++;
		}
	for (size_t off = 0; rc >= 0;) {
		struct store_target *v;
		size_t n;
		if ((rc = store_target_list(d->store, off, STORE_LIST_MAX, &v, &n)) < 0)
			break;
		if (n == 0)
			break;
		size_t gone = 0;
		for (size_t i = 0; i < n; i++) {
			struct svd_target_cfg c;
			char origin[16];
			if (svd_target_cfg_from_row(&v[i], &c, origin, sizeof origin) < 0)
				continue;
			const char *from = NULL;
			if (!strcmp(origin, "config") && !svd_config_target(&d->cfg, v[i].name))
				from = "configuration";
			for (size_t s = 0; !from && s < svd_nsources; s++) {
				if (strcmp(origin, svd_sources[s].origin))
					continue;
				/* a source no longer configured lists nothing: its targets go */
				int on = svd_sources[s].configured(&d->cfg);
				if (!on || (loaded[s] && !listed(got[s], ngot[s], v[i].name)))
					from = svd_sources[s].origin;
			}
			if (!from)
				continue;
			svd_log("target %s: no longer in the %s: removed", v[i].name, from);
			if (store_target_remove(d->store, v[i].name) == 0) {
				gone++;
				removed++;
			}
		}
		off += n - gone; /* the list shifted by what went */
		store_targets_free(v, n);
	}
	for (size_t i = 0; i < svd_nsources; i++)
		free(got[i]);
	if (rc < 0) {
		svd_log("targets: store: %s", store_last_error(d->store));
		return rc;
	}
	if (added || removed)
		svd_log("targets: %u defined, %u removed from the store", added, removed);
	return 0;
}
