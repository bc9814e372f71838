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
