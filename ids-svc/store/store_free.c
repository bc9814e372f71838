/*
 * store_free.c — releasing what the store hands out (store.h's *_clear and *_free):
 * the same for every backend.
 */
#include <stdlib.h>
#include <string.h>

#include "store.h"

void store_target_clear(struct store_target *t)
{
	if (!t)
		return;
	free(t->policy_json);
	free(t->attestation_json);
	memset(t, 0, sizeof(*t));
}

void store_targets_free(struct store_target *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		store_target_clear(&v[i]);
	free(v);
}

void store_scan_clear(struct store_scan *sc)
{
	if (!sc)
		return;
	free(sc->targets_json);
	free(sc->checks_json);
	memset(sc, 0, sizeof(*sc));
}

void store_scans_free(struct store_scan *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		store_scan_clear(&v[i]);
	free(v);
}

void store_result_clear(struct store_result *r)
{
	if (!r)
		return;
	free(r->error);
	free(r->payload_json);
	memset(r, 0, sizeof(*r));
}

void store_results_free(struct store_result *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		store_result_clear(&v[i]);
	free(v);
}

void store_finding_clear(struct store_finding *f)
{
	if (!f)
		return;
	free(f->detail_json);
	memset(f, 0, sizeof(*f));
}

void store_findings_free(struct store_finding *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		store_finding_clear(&v[i]);
	free(v);
}

void store_jobs_free(struct store_job *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i].checks_json);
	free(v);
}

void store_diff_free(struct store_diff *d)
{
	if (!d)
		return;
	store_findings_free(d->v, d->n);
	*d = (struct store_diff){ 0 };
}
