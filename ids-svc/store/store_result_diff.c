/*
 * store_result_diff.c — what adding a result records besides the result, the same for
 * every backend: its payload checked against the shape its diff rule reads, the findings
 * of the diff against the baseline the backend found, and the compact identity list kept
 * with it (store_impl.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "store.h"
#include "store_impl.h"

/* How a result is compared: not at all, as an identity list, or as one value. */
enum diff_how { DIFF_NONE, DIFF_LIST, DIFF_BANNER };

static enum diff_how diff_for(const struct store_result_in *r, enum store_idkind *k)
{
	if (!r->ok)
		return DIFF_NONE;
	switch (r->diff) {
	case STORE_DIFF_PROCESSES:
		*k = STORE_ID_PROCESSES;
		return DIFF_LIST;
	case STORE_DIFF_MODULES:
		*k = STORE_ID_MODULES;
		return DIFF_LIST;
	case STORE_DIFF_BANNER:
		return DIFF_BANNER;
	default:
		return DIFF_NONE;
	}
}

int store_result_wants_baseline(const struct store_result_in *r)
{
	enum store_idkind k;
	return diff_for(r, &k) != DIFF_NONE;
}

int store_result_baseline_is_ident(const struct store_result_in *r)
{
	enum store_idkind k;
	return diff_for(r, &k) == DIFF_LIST;
}

void store_result_diff_free(struct store_result_diff *d)
{
	store_diff_free(&d->findings);
	free(d->ident);
	memset(d, 0, sizeof *d);
}

/* The baseline's identity list: its compact form, else (none, or damaged) its payload.
 * *usable 0 when neither parses: a damaged row or another build's rules are not the new
 * result's fault, so the diff is skipped. */
static int baseline_list(struct store *s, enum store_idkind k, const struct store_baseline *b,
			 struct store_idlist *l, int *usable)
{
	*usable = 0;
	int rc = store_idlist_from_blob(k, b->ident, b->ident_len, l);
	if (rc == SEVMON_EDECODE)
		rc = b->payload ? store_idlist_from_json(k, b->payload, l, NULL, 0) : SEVMON_EINVAL;
	if (rc == SEVMON_ENOMEM)
		return store_fail(s, rc, "out of memory");
	*usable = rc == 0;
	return 0;
}

int store_result_diff(struct store *s, const struct store_result_in *r,
		      const struct store_baseline *base, struct store_result_diff *out)
{
	memset(out, 0, sizeof *out);
	enum store_idkind k = STORE_ID_PROCESSES;
	enum diff_how how = diff_for(r, &k);
	struct store_idlist cur = { 0 }, prev = { 0 };
	char msg[256] = "";
	int rc = 0, usable = 0;
	if (how == DIFF_NONE)
		return 0;
	if (how == DIFF_BANNER) {
		const char *pb = base->found ? base->payload : NULL;
		rc = store_diff_banner(pb, r->payload_json, &out->findings, msg, sizeof(msg));
		/* a bad baseline again is not this result's fault */
		if (rc == SEVMON_EINVAL && pb &&
		    store_diff_banner(NULL, r->payload_json, &out->findings, NULL, 0) == 0)
			rc = 0;
		if (rc < 0)
			rc = store_fail(s, rc, "%s payload: %s", r->check, msg);
		goto out;
	}
	if ((rc = store_idlist_from_json(k, r->payload_json, &cur, msg, sizeof(msg))) < 0) {
		rc = store_fail(s, rc, "%s payload: %s", r->check, msg);
		goto out;
	}
	if (base->found && (rc = baseline_list(s, k, base, &prev, &usable)) < 0)
		goto out;
	if (usable && (rc = store_idlist_diff(&prev, &cur, &out->findings)) < 0) {
		rc = store_fail(s, rc, "diff: %s", sevmon_strerror(rc));
		goto out;
	}
	if ((rc = store_idlist_to_blob(&cur, &out->ident, &out->ident_len)) < 0)
		rc = store_fail(s, rc, "identity list: %s", sevmon_strerror(rc));
out:
	store_idlist_free(&cur);
	store_idlist_free(&prev);
	if (rc < 0)
		store_result_diff_free(out);
	return rc < 0 ? rc : 0;
}
