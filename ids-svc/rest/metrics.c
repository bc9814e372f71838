/*
 * metrics.c — a bounded registry of counters, gauges and histograms, and its Prometheus
 * text exposition (format 0.0.4):
 *
 *   # HELP name escaped help          (help: \ -> \\, newline -> \n)
 *   # TYPE name counter|gauge|histogram
 *   name{l="v",...} value             (label values: \ -> \\, " -> \", newline -> \n)
 *   name_bucket{...,le="0.005"} n     (cumulative; the last is le="+Inf" == _count)
 *   name_sum{...} s
 *   name_count{...} n
 *
 * A series is keyed by its rendered label text, so the key is also what gets written.
 */
#include "rest.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

struct metrics_series {
	char *labels; /* rendered pairs without braces; "" for none */
	double value;
	uint64_t *buckets; /* per-bucket (not cumulative) counts, nbuckets + 1 (+Inf) */
	double sum;
	uint64_t count;
};

struct metrics_family {
	char *name;
	char *help;
	enum metrics_type type;
	double *bounds;
	size_t nbounds;
	struct metrics_series *series;
	size_t nseries, cap;
};

struct metrics {
	struct metrics_family fam[METRICS_MAX_FAMILIES];
	size_t nfam;
};

/* Request latencies of a daemon that talks to agents over vsock: 5 ms .. 10 s. */
static const double default_bounds[] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
					 0.5,   1,    2.5,   5,    10 };

/* ------------------------------------------------------------- text buffer */

struct mtext {
	char *p;
	size_t len, cap;
	int oom;
};

static void mt_put(struct mtext *t, const char *s, size_t n)
{
	if (t->oom)
		return;
	if (t->cap - t->len < n + 1) {
		size_t ncap = t->cap ? t->cap : 1024;
		while (ncap - t->len < n + 1)
			ncap *= 2;
		char *np = realloc(t->p, ncap);
		if (!np) {
			t->oom = 1;
			return;
		}
		t->p = np;
		t->cap = ncap;
	}
	memcpy(t->p + t->len, s, n);
	t->len += n;
	t->p[t->len] = '\0';
}

static void mt_str(struct mtext *t, const char *s)
{
	mt_put(t, s, strlen(s));
}

/* Shortest decimal text that reads back as the same double; Prometheus spellings for
 * the non-finite values. */
static void fmt_double(double v, char out[32])
{
	if (isnan(v)) {
		strcpy(out, "NaN");
		return;
	}
	if (isinf(v)) {
		strcpy(out, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	/* Plain notation where it stays short: le="10", not le="1e+01". */
	int plain_ok = fabs(v) >= 1e-4 && fabs(v) < 1e15;
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(out, 32, "%.*g", prec, v);
		if (strtod(out, NULL) == v && !(plain_ok && strchr(out, 'e')))
			return;
	}
	snprintf(out, 32, "%.17g", v);
}

static void mt_double(struct mtext *t, double v)
{
	char b[32];
	fmt_double(v, b);
	mt_str(t, b);
}

static void mt_u64(struct mtext *t, uint64_t v)
{
	char b[24];
	int n = snprintf(b, sizeof b, "%llu", (unsigned long long)v);
	mt_put(t, b, (size_t)n);
}

/* Escape for a label value (quote too) or for HELP text (quote kept as is). */
static void mt_escaped(struct mtext *t, const char *s, int quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			mt_str(t, "\\\\");
		else if (*s == '\n')
			mt_str(t, "\\n");
		else if (quote && *s == '"')
			mt_str(t, "\\\"");
		else
			mt_put(t, s, 1);
	}
}

/* ------------------------------------------------------------- validation */

static int name_ok(const char *s, int colon)
{
	if (!s || !*s)
		return 0;
	for (size_t i = 0; s[i]; i++) {
		char c = s[i];
		int alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
			    (colon && c == ':');
		if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
			return 0;
	}
	return 1;
}

/* Render labels into their canonical text; EINVAL on bad names, values or counts. */
static int render_labels(const char *const *labels, struct mtext *t)
{
	mt_str(t, "");
	if (!labels)
		return t->oom ? SEVMON_ENOMEM : 0;
	size_t n = 0;
	for (; labels[0]; labels += 2, n++) {
		if (n == METRICS_MAX_LABELS || !labels[1])
			return SEVMON_EINVAL;
		if (!name_ok(labels[0], 0) || strncmp(labels[0], "__", 2) == 0 ||
		    strcmp(labels[0], "le") == 0)
			return SEVMON_EINVAL;
		if (strlen(labels[1]) > METRICS_LABEL_VALUE_MAX)
			return SEVMON_EINVAL;
		if (n)
			mt_str(t, ",");
		mt_str(t, labels[0]);
		mt_str(t, "=\"");
		mt_escaped(t, labels[1], 1);
		mt_str(t, "\"");
	}
	return t->oom ? SEVMON_ENOMEM : 0;
}

/* ------------------------------------------------------------- registry */

struct metrics *metrics_new(void)
{
	return calloc(1, sizeof(struct metrics));
}

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->nfam; i++) {
		struct metrics_family *f = &m->fam[i];
		for (size_t j = 0; j < f->nseries; j++) {
			free(f->series[j].labels);
			free(f->series[j].buckets);
		}
		free(f->series);
		free(f->bounds);
		free(f->name);
		free(f->help);
	}
	free(m);
}

static struct metrics_family *find_family(const struct metrics *m, const char *name)
{
	for (size_t i = 0; i < m->nfam; i++)
		if (strcmp(m->fam[i].name, name) == 0)
			return (struct metrics_family *)&m->fam[i];
	return NULL;
}

int metrics_declare(struct metrics *m, const char *name, enum metrics_type type,
		    const char *help, const double *buckets, size_t nbuckets)
{
	if (!m || !name_ok(name, 1) || type > METRICS_HISTOGRAM)
		return SEVMON_EINVAL;
	struct metrics_family *old = find_family(m, name);
	if (old)
		return old->type == type ? 0 : SEVMON_EINVAL;
	if (type == METRICS_HISTOGRAM) {
		if (!buckets) {
			if (nbuckets)
				return SEVMON_EINVAL;
			buckets = default_bounds;
			nbuckets = sizeof default_bounds / sizeof default_bounds[0];
		}
		if (nbuckets == 0 || nbuckets > METRICS_MAX_BUCKETS)
			return SEVMON_EINVAL;
		for (size_t i = 0; i < nbuckets; i++)
			if (!isfinite(buckets[i]) || (i && buckets[i] <= buckets[i - 1]))
				return SEVMON_EINVAL;
	} else if (buckets || nbuckets) {
		return SEVMON_EINVAL;
	}
	if (m->nfam == METRICS_MAX_FAMILIES)
		return SEVMON_ETOOBIG;
	struct metrics_family f = { .type = type };
	f.name = strdup(name);
	f.help = strdup(help ? help : "");
	if (type == METRICS_HISTOGRAM) {
		f.bounds = malloc(nbuckets * sizeof(double));
		if (f.bounds) {
			memcpy(f.bounds, buckets, nbuckets * sizeof(double));
			f.nbounds = nbuckets;
		}
	}
	if (!f.name || !f.help || (type == METRICS_HISTOGRAM && !f.bounds)) {
		free(f.name);
		free(f.help);
		free(f.bounds);
		return SEVMON_ENOMEM;
	}
	m->fam[m->nfam++] = f;
	return 0;
}

/* The series of `name` with these labels, created on first use. */
static int get_series(struct metrics *m, const char *name, enum metrics_type type,
		      const char *const *labels, struct metrics_series **out)
{
	if (!m || !name)
		return SEVMON_EINVAL;
	struct metrics_family *f = find_family(m, name);
	if (!f)
		return SEVMON_ENOENT;
	if (f->type != type)
		return SEVMON_EINVAL;
	struct mtext key = { 0 };
	int rc = render_labels(labels, &key);
	if (rc) {
		free(key.p);
		return rc;
	}
	for (size_t i = 0; i < f->nseries; i++) {
		if (strcmp(f->series[i].labels, key.p) == 0) {
			free(key.p);
			*out = &f->series[i];
			return 0;
		}
	}
	if (f->nseries == METRICS_MAX_SERIES) {
		free(key.p);
		return SEVMON_ETOOBIG;
	}
	if (f->nseries == f->cap) {
		size_t ncap = f->cap ? f->cap * 2 : 4;
		struct metrics_series *ns = realloc(f->series, ncap * sizeof *ns);
		if (!ns) {
			free(key.p);
			return SEVMON_ENOMEM;
		}
		f->series = ns;
		f->cap = ncap;
	}
	struct metrics_series s = { .labels = key.p };
	if (type == METRICS_HISTOGRAM) {
		s.buckets = calloc(f->nbounds + 1, sizeof(uint64_t));
		if (!s.buckets) {
			free(key.p);
			return SEVMON_ENOMEM;
		}
	}
	f->series[f->nseries] = s;
	*out = &f->series[f->nseries++];
	return 0;
}

int metrics_counter_add(struct metrics *m, const char *name, const char *const *labels, double v)
{
	if (!(v >= 0)) /* also refuses NaN */
		return SEVMON_EINVAL;
	struct metrics_series *s;
	int rc = get_series(m, name, METRICS_COUNTER, labels, &s);
	if (rc == 0)
		s->value += v;
	return rc;
}

int metrics_gauge_set(struct metrics *m, const char *name, const char *const *labels, double v)
{
	struct metrics_series *s;
	int rc = get_series(m, name, METRICS_GAUGE, labels, &s);
	if (rc == 0)
		s->value = v;
	return rc;
}

int metrics_gauge_add(struct metrics *m, const char *name, const char *const *labels, double v)
{
	struct metrics_series *s;
	int rc = get_series(m, name, METRICS_GAUGE, labels, &s);
	if (rc == 0)
		s->value += v;
	return rc;
}

int metrics_histogram_observe(struct metrics *m, const char *name, const char *const *labels,
			      double v)
{
	if (isnan(v))
		return SEVMON_EINVAL;
	struct metrics_series *s;
	int rc = get_series(m, name, METRICS_HISTOGRAM, labels, &s);
	if (rc)
		return rc;
	struct metrics_family *f = find_family(m, name);
	size_t i = 0;
	while (i < f->nbounds && v > f->bounds[i])
		i++;
	s->buckets[i]++;
	s->sum += v;
	s->count++;
	return 0;
}

/* ------------------------------------------------------------- exposition */

/* name + suffix + {labels[,extra]} */
static void write_head(struct mtext *t, const char *name, const char *suffix, const char *labels,
		       const char *extra)
{
	mt_str(t, name);
	mt_str(t, suffix);
	int has = labels[0] != '\0';
	if (has || extra) {
		mt_str(t, "{");
		mt_str(t, labels);
		if (extra) {
			if (has)
				mt_str(t, ",");
			mt_str(t, extra);
		}
		mt_str(t, "}");
	}
	mt_str(t, " ");
}

static void write_histogram(struct mtext *t, const struct metrics_family *f,
			    const struct metrics_series *s)
{
	uint64_t cum = 0;
	for (size_t b = 0; b <= f->nbounds; b++) {
		char le[48], num[32];
		if (b < f->nbounds)
			fmt_double(f->bounds[b], num);
		else
			strcpy(num, "+Inf");
		snprintf(le, sizeof le, "le=\"%s\"", num);
		cum += s->buckets[b];
		write_head(t, f->name, "_bucket", s->labels, le);
		mt_u64(t, cum);
		mt_str(t, "\n");
	}
	write_head(t, f->name, "_sum", s->labels, NULL);
	mt_double(t, s->sum);
	mt_str(t, "\n");
	write_head(t, f->name, "_count", s->labels, NULL);
	mt_u64(t, s->count);
	mt_str(t, "\n");
}

int metrics_write(const struct metrics *m, char **out, size_t *len)
{
	static const char *const tnames[] = { "counter", "gauge", "histogram" };
	struct mtext t = { 0 };
	mt_str(&t, "");
	for (size_t i = 0; m && i < m->nfam; i++) {
		const struct metrics_family *f = &m->fam[i];
		mt_str(&t, "# HELP ");
		mt_str(&t, f->name);
		mt_str(&t, " ");
		mt_escaped(&t, f->help, 0);
		mt_str(&t, "\n# TYPE ");
		mt_str(&t, f->name);
		mt_str(&t, " ");
		mt_str(&t, tnames[f->type]);
		mt_str(&t, "\n");
		for (size_t j = 0; j < f->nseries; j++) {
			const struct metrics_series *s = &f->series[j];
			if (f->type == METRICS_HISTOGRAM) {
				write_histogram(&t, f, s);
				continue;
			}
			write_head(&t, f->name, "", s->labels, NULL);
			mt_double(&t, s->value);
			mt_str(&t, "\n");
		}
	}
	if (t.oom) {
		free(t.p);
		return SEVMON_ENOMEM;
	}
	*out = t.p;
	*len = t.len;
	return 0;
}
