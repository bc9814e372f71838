/*
 * check_banner.c — the kernel's linux_banner, what /proc/version shows.
 */
#include <string.h>

#include "kchecks.h"
#include "kview.h"

/* Read with the sweep's other first reads (kview), or alone: one Gather either way. */
static int banner_run(const struct check_env *env, void *res)
{
	struct banner_result *r = res;
	int rc = kview_load(env->kv, KV_BANNER);
	if (rc == 0)
		snprintf(r->text, sizeof r->text, "%s", env->kv->banner);
	return rc;
}

static void banner_encode(const void *res, struct jw *w)
{
	const struct banner_result *r = res;
	jw_obj(w);
	jw_key(w, "banner");
	jw_str(w, r->text);
	jw_obj_end(w);
}

static void banner_print(const void *res, FILE *f)
{
	const struct banner_result *r = res;
	fprintf(f, "%s\n", r->text);
}

const struct check_def check_banner = {
	.name = "banner",
	.summary = "the kernel's version banner (linux_banner, as /proc/version shows it)",
	.needs = CHECK_NEEDS_KERNEL,
	.in_default = 1,
	.diff = STORE_DIFF_BANNER,
	.views = KV_BANNER,
	.result_size = sizeof(struct banner_result),
	.run = banner_run,
	.encode = banner_encode,
	.print = banner_print,
};
