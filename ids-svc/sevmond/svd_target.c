/*
 * svd_target.c — one of sevmond's targets: its session, its persisted state, its JSON.
 * (Adding, changing and removing targets is svd_fleet.c's.)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "err.h"
#include "svd.h"

struct svd_target *svd_target_find(struct svd *d, const char *name)
{
	for (struct svd_target *t = d->targets; t; t = t->next)
		if (!strcmp(t->cfg.name, name))
			return t;
	return NULL;
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

char *svd_target_policy_json(const struct svd_target_cfg *cfg, const char *origin)
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
	json_t *o = json_pack("{s:s, s:o, s:o, s:I, s:o}", "origin", origin, "measurements", m,
			      "trust", tr, "interval_s", (json_int_t)cfg->interval_s, "checks", ck);
	char *s = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(o);
	return s;
}

int svd_target_cfg_from_row(const struct store_target *row, struct svd_target_cfg *cfg,
			    char *origin, size_t origin_cap)
{
	memset(cfg, 0, sizeof *cfg);
	if (strlen(row->name) > SVD_NAME_MAX || strlen(row->uri) > SVD_URI_MAX ||
	    strlen(row->pinned_key) > 64)
		return SEVMON_ETOOBIG;
	svd_copy(cfg->name, sizeof cfg->name, row->name);
	svd_copy(cfg->uri, sizeof cfg->uri, row->uri);
	svd_copy(cfg->key, sizeof cfg->key, row->pinned_key);
	json_t *pol = row->policy_json ? json_loads(row->policy_json, 0, NULL) : NULL;
	const char *o = json_string_value(json_object_get(pol, "origin"));
	svd_copy(origin, origin_cap, o ? o : "api");
	size_t k;
	json_t *v;
	json_array_foreach(json_object_get(pol, "measurements"), k, v) {
		const char *m = json_string_value(v);
		if (m && strlen(m) == 96 && cfg->nmeasurements < SVD_MEASUREMENTS_MAX)
			svd_copy(cfg->measurements[cfg->nmeasurements++], 97, m);
	}
	json_array_foreach(json_object_get(pol, "trust"), k, v) {
		const char *f = json_string_value(v);
		if (f && strlen(f) <= SVD_PATH_MAX && cfg->ntrust < SVD_TRUST_MAX)
			svd_copy(cfg->trust[cfg->ntrust++], sizeof cfg->trust[0], f);
	}
	json_int_t iv = json_integer_value(json_object_get(pol, "interval_s"));
	cfg->interval_s = iv > 0 && iv <= 30 * 86400 ? (uint32_t)iv : 0;
	json_array_foreach(json_object_get(pol, "checks"), k, v) {
		int i = json_string_value(v) ? check_index(json_string_value(v)) : -1;
		if (i >= 0)
			cfg->checks |= 1ull << i;
	}
	json_decref(pol);
	return 0;
}

json_t *svd_target_row_json(const struct store_target *row)
{
	struct svd_target_cfg cfg;
	char origin[16];
	if (svd_target_cfg_from_row(row, &cfg, origin, sizeof origin) < 0)
		return NULL;
	json_t *m = json_array();
	for (unsigned i = 0; i < cfg.nmeasurements; i++)
		json_array_append_new(m, json_string(cfg.measurements[i]));
	/* the owner's last word on it (svd_target_persist) */
	json_t *a = row->attestation_json ? json_loads(row->attestation_json, 0, NULL) : NULL;
	const char *st = json_string_value(json_object_get(a, "status"));
	json_t *att = json_pack("{s:s}", "status", st ? st : "none");
	const char *det = json_string_value(json_object_get(a, "detail"));
	if (det && det[0])
		json_object_set_new(att, "detail", json_string(det));
	const char *meas = json_string_value(json_object_get(a, "measurement"));
	if (meas && meas[0]) {
		json_object_set_new(att, "measurement", json_string(meas));
		const char *ak = json_string_value(json_object_get(a, "agent_key"));
		json_object_set_new(att, "agent_key", json_string(ak ? ak : ""));
		json_object_set_new(att, "verified_at",
				    json_integer(json_integer_value(json_object_get(a, "at")) / 1000));
	}
	json_decref(a);
	/* a row's state is "unknown" until an owner writes one */
	const char *state = strcmp(row->state, "unknown") ? row->state : "idle";
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:I, s:I, s:I, s:I}", "name",
			      row->name, "uri", row->uri, "origin", origin, "state", state,
			      "attestation", att, "measurements", m, "failures", (json_int_t)0,
			      "queued", (json_int_t)0, "last_seen", (json_int_t)(row->last_seen / 1000),
			      "interval_s", (json_int_t)cfg.interval_s);
	if (!o)
		return NULL;
	if (cfg.key[0])
		json_object_set_new(o, "key", json_string(cfg.key));
	if (row->state_detail[0])
		json_object_set_new(o, "detail", json_string(row->state_detail));
	if (row->owner[0] && row->lease_left_ms > 0) {
		json_object_set_new(o, "owner", json_string(row->owner));
		json_object_set_new(o, "lease_left_ms", json_integer(row->lease_left_ms));
	}
	return o;
}
