/*
 * svd_trust.c — the daemon's one set of trust anchors, shared by every session whose
 * target names no anchors of its own. One object means one copy of the anchors and one
 * chain memo (snp_chain.c): a fleet on one host verifies its VCEK chain once, not once
 * per agent. Reference-counted because a reload replaces it while sessions still point
 * into it, and sessions close on worker threads.
 */
#include <stdio.h>
#include <stdlib.h>

#include "err.h"
#include "snp_verify.h"
#include "svd.h"

struct svd_trust {
	_Atomic unsigned refs;
	struct snp_trust *t;
};

int svd_trust_build(const struct svd_config *cfg, const char *default_dir, struct svd_trust **out,
		    char *why, size_t whycap)
{
	struct svd_trust *st = calloc(1, sizeof *st);
	*out = NULL;
	if (!st || !(st->t = snp_trust_new())) {
		free(st);
		snprintf(why, whycap, "out of memory");
		return SEVMON_ENOMEM;
	}
	/* absent: only the configured anchors count (as for a target's own set) */
	(void)snp_trust_add_amd(st->t, cfg->trust_dir[0] ? cfg->trust_dir : default_dir);
	for (unsigned i = 0; i < cfg->ntrust; i++) {
		int rc = snp_trust_add_file(st->t, cfg->trust[i]);
		if (rc < 0) {
			snprintf(why, whycap, "trust anchor %.200s: %s", cfg->trust[i],
				 sevmon_strerror(rc));
			snp_trust_free(st->t);
			free(st);
			return rc;
		}
	}
	atomic_store(&st->refs, 1);
	*out = st;
	return 0;
}

struct svd_trust *svd_trust_ref(struct svd_trust *st)
{
	if (st)
		atomic_fetch_add(&st->refs, 1);
	return st;
}

void svd_trust_unref(struct svd_trust *st)
{
	if (st && atomic_fetch_sub(&st->refs, 1) == 1) {
		snp_trust_free(st->t);
		free(st);
	}
}

struct snp_trust *svd_trust_get(const struct svd_trust *st)
{
	return st->t;
}
