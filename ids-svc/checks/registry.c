/*
 * registry.c — the table of checks (check.h). One row per check, in the order --help and
 * GET /v1/checks list them. A new check: its file, and a row here.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "err.h"
#include "kchecks.h"
#include "kview.h"

/* A build that carries more checks than these (the registry's own test adds one, to
 * prove a row is all it takes) names a header that declares them and defines
 * CHECK_REGISTRY_EXTRA as their rows: -DCHECK_REGISTRY_EXTRA_H='"file.h"'. */
#ifdef CHECK_REGISTRY_EXTRA_H
#include CHECK_REGISTRY_EXTRA_H
#endif
#ifndef CHECK_REGISTRY_EXTRA
#define CHECK_REGISTRY_EXTRA
#endif

static const struct check_def *const table[] = {
	&check_banner,
	&check_ps,
	&check_modules,
	&check_attest,
	&check_hidden_procs,
	&check_hidden_modules,
	&check_syscalls,
	&check_idt,
	&check_hooks,
	&check_text,
	&check_bpf,
	&check_creds,
	CHECK_REGISTRY_EXTRA
};
#define NCHECKS (sizeof table / sizeof table[0])
_Static_assert(NCHECKS <= CHECK_MAX, "a check set is a 64-bit mask");

size_t check_count(void)
{
	return NCHECKS;
}

const struct check_def *check_at(size_t i)
{
	return i < NCHECKS ? table[i] : NULL;
}

int check_index(const char *name)
{
	for (size_t i = 0; i < NCHECKS; i++)
		if (!strcmp(table[i]->name, name))
			return (int)i;
	return -1;
}

const struct check_def *check_find(const char *name)
{
	int i = check_index(name);
	return i < 0 ? NULL : table[i];
}

check_set check_default_set(void)
{
	check_set s = 0;
	for (size_t i = 0; i < NCHECKS; i++)
		if (table[i]->in_default)
			s |= 1ull << i;
	return s;
}

int check_set_needs(check_set s, unsigned needs)
{
	for (size_t i = 0; i < NCHECKS; i++)
		if ((s & (1ull << i)) && (table[i]->needs & needs))
			return 1;
	return 0;
}

check_set check_set_with(unsigned needs)
{
	check_set s = 0;
	for (size_t i = 0; i < NCHECKS; i++)
		if (table[i]->needs & needs)
			s |= 1ull << i;
	return s;
}

int check_set_parse(const char *list, check_set *out, char *err, size_t errcap)
{
	check_set s = 0;
	const char *p = list;
	for (;;) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		while (n && (*p == ' ' || *p == '\t'))
			p++, n--;
		while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		char name[CHECK_NAME_MAX + 1];
		if (n == 0 || n > CHECK_NAME_MAX) {
			snprintf(err, errcap, "an empty or over-long check name in '%.64s'", list);
			return SEVMON_EINVAL;
		}
		memcpy(name, p, n);
		name[n] = '\0';
		int i = check_index(name);
		if (i < 0) {
			snprintf(err, errcap, "unknown check '%s' (sevmon check --help lists them)", name);
			return SEVMON_EINVAL;
		}
		if (s & (1ull << i)) {
			snprintf(err, errcap, "check '%s' named twice", name);
			return SEVMON_EINVAL;
		}
		s |= 1ull << i;
		if (!end)
			break;
		p = end + 1;
	}
	*out = s;
	return 0;
}

void check_print_help(FILE *f, int indent)
{
	for (size_t i = 0; i < NCHECKS; i++)
		fprintf(f, "%*s%-15s %s%s\n", indent, "", table[i]->name, table[i]->summary,
			table[i]->in_default ? "" : " [not in the default sweep]");
}

int check_ready(const struct check_def *c, const struct kprofile *p, char *err, size_t errcap)
{
	if (!c->members || !p)
		return 0;
	for (const int *m = c->members; *m >= 0; m++)
		if (kprofile_missing(p, *m)) {
			snprintf(err, errcap, "%s: this kernel's BTF has no struct %s member %s", c->name,
				 kprofile_off_type(*m), kprofile_off_path(*m));
			return SEVMON_ENOTSUP;
		}
	return 0;
}

int check_run_json(const struct check_def *c, const struct check_env *env, char **json,
		   int *partial, struct check_findings *f, char *err, size_t errcap)
{
	*json = NULL;
	if ((c->needs & CHECK_NEEDS_KERNEL) && !env->k) {
		snprintf(err, errcap, "%s: no kernel profile", c->name);
		return SEVMON_EINVAL;
	}
	int rc = check_ready(c, (c->needs & CHECK_NEEDS_KERNEL) ? &env->k->p : NULL, err, errcap);
	if (rc < 0)
		return rc;
	void *res = calloc(1, c->result_size);
	if (!res)
		return SEVMON_ENOMEM;
	if ((rc = check_run(c, env, res)) < 0) {
		snprintf(err, errcap, "%s: %s", c->name, sevmon_strerror(rc));
		free(res);
		return rc;
	}
	struct jw w;
	jw_init(&w, CHECK_PAYLOAD_MAX);
	c->encode(res, &w);
	rc = jw_finish(&w, json, NULL);
	if (rc == 0 && f && c->findings)
		rc = c->findings(res, f);
	if (rc < 0) {
		snprintf(err, errcap, "%s: encoding the result: %s", c->name, sevmon_strerror(rc));
		free(*json);
		*json = NULL;
	} else if (partial) {
		*partial = ((const struct check_result *)res)->partial;
	}
	if (c->release)
		c->release(res);
	free(res);
	return rc;
}

/* ---- sweeps -------------------------------------------------------------------------- */

int check_sweep_begin(struct check_env *env, check_set s)
{
	unsigned views = 0;
	env->kv = NULL;
	for (size_t i = 0; i < NCHECKS; i++)
		if (s & (1ull << i))
			views |= table[i]->views;
	if (!views || !env->k)
		return 0;
	env->kv = kview_new(env->k, views);
	if (env->kv)
		env->kv->baseline = env->baseline;
	return env->kv ? 0 : SEVMON_ENOMEM;
}

void check_sweep_end(struct check_env *env)
{
	kview_free(env->kv);
	env->kv = NULL;
}

uint64_t check_sweep_rounds(const struct check_env *env)
{
	return env->kv ? env->kv->rounds : 0;
}

int check_run(const struct check_def *c, const struct check_env *env, void *result)
{
	if (!c->views || env->kv || !env->k)
		return c->run(env, result);
	/* alone: views of its own for this run */
	struct check_env e = *env;
	if (!(e.kv = kview_new(env->k, c->views)))
		return SEVMON_ENOMEM;
	e.kv->baseline = env->baseline;
	int rc = c->run(&e, result);
	kview_free(e.kv);
	return rc;
}

/* ---- findings ------------------------------------------------------------------------ */

int check_finding_add(struct check_findings *f, enum store_severity sev, const char *kind,
		      const char *subject, const char *detail_json)
{
	return check_finding_addt(f, sev, kind, subject, NULL, detail_json);
}

int check_finding_jw(struct check_findings *f, enum store_severity sev, const char *kind,
		     const char *subject, const char *technique,
		     void (*detail)(struct jw *w, const void *arg), const void *arg)
{
	struct jw w;
	char *json = NULL;
	jw_init(&w, STORE_SMALL_JSON_MAX); /* what the store takes as a finding's detail */
	detail(&w, arg);
	int rc = jw_finish(&w, &json, NULL);
	if (rc == 0)
		rc = check_finding_addt(f, sev, kind, subject, technique, json);
	free(json);
	return rc;
}

int check_finding_addt(struct check_findings *f, enum store_severity sev, const char *kind,
		       const char *subject, const char *technique, const char *detail_json)
{
	if (f->n >= CHECK_FINDINGS_MAX) {
		f->dropped++;
		return 0;
	}
	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 8;
		struct check_finding *v = realloc(f->v, cap * sizeof *v);
		if (!v)
			return SEVMON_ENOMEM;
		f->v = v;
		f->cap = cap;
	}
	struct check_finding *x = &f->v[f->n];
	*x = (struct check_finding){ .severity = sev };
	x->kind = strdup(kind);
	x->subject = strdup(subject ? subject : "");
	x->detail_json = detail_json ? strdup(detail_json) : NULL;
	x->technique = technique ? strdup(technique) : NULL;
	if (!x->kind || !x->subject || (detail_json && !x->detail_json) ||
	    (technique && !x->technique)) {
		free(x->kind);
		free(x->subject);
		free(x->detail_json);
		free(x->technique);
		return SEVMON_ENOMEM;
	}
	f->n++;
	return 0;
}

void check_findings_free(struct check_findings *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free(f->v[i].kind);
		free(f->v[i].subject);
		free(f->v[i].detail_json);
		free(f->v[i].technique);
	}
	free(f->v);
	memset(f, 0, sizeof *f);
}
