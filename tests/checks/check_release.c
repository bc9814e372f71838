/*
 * check_release.c — a check that exists only in the registry's test build: the kernel's
 * release as init_uts_ns holds it (what uname -r shows), and one info finding naming it,
 * so that a check's own findings can be followed into the store and the REST API.
 */
#include <string.h>

#include "check.h"
#include "err.h"

struct release_result {
	struct check_result h;
	char release[KPROFILE_MAX_RELEASE];
};

static int release_run(const struct check_env *env, void *res)
{
	struct release_result *r = res;
	const struct kprofile *p = &env->k->p;
	uint8_t b[KPROFILE_MAX_RELEASE] = { 0 };
	int rc = gmem_read(env->k->g, p->sym_init_uts_ns + p->uts_release.off, GMEM_VIRT, b,
			   p->uts_release.size);
	if (rc < 0)
		return rc;
	size_t n = strnlen((const char *)b, p->uts_release.size);
	memcpy(r->release, b, n < sizeof r->release ? n : sizeof r->release - 1);
	return 0;
}

static void release_encode(const void *res, struct jw *w)
{
	jw_obj(w);
	jw_key(w, "release");
	jw_str(w, ((const struct release_result *)res)->release);
	jw_obj_end(w);
}

static void release_print(const void *res, FILE *f)
{
	fprintf(f, "%s\n", ((const struct release_result *)res)->release);
}

static int release_findings(const void *res, struct check_findings *out)
{
	return check_finding_add(out, STORE_SEV_INFO, "kernel_release",
				 ((const struct release_result *)res)->release, NULL);
}

static const int release_members[] = { KPROFILE_OFF_uts_release, -1 };

const struct check_def check_release = {
	.name = "release",
	.summary = "the kernel release init_uts_ns holds (a test build's extra check)",
	.needs = CHECK_NEEDS_KERNEL,
	.in_default = 0,
	.diff = STORE_DIFF_NONE,
	.members = release_members,
	.result_size = sizeof(struct release_result),
	.run = release_run,
	.encode = release_encode,
	.print = release_print,
	.findings = release_findings,
};
