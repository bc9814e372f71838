/*
 * prom_check.c — see prom_check.h. Written from the format's description; a test tool,
 * so it favours clear reasons over speed.
 */
#include "prom_check.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PC_MAX_FAMILIES 256
#define PC_MAX_SERIES 4096
#define PC_NAME_MAX 200
#define PC_KEY_MAX 1024

struct pc_family {
	char name[PC_NAME_MAX];
	char type[16];
	int has_help;
};

/* Running state of one histogram series (keyed by its labels without le). */
struct pc_hist {
	char key[PC_KEY_MAX];
	double last_bucket;
	int nbuckets, saw_inf;
	double inf_count;
	int has_count;
	double count;
};

struct pc {
	struct pc_family fam[PC_MAX_FAMILIES];
	int nfam;
	struct pc_hist *hist;
	int nhist;
	char *why;
	size_t cap;
	int line;
};

static int fail(struct pc *c, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	snprintf(c->why, c->cap, "line %d: %s", c->line, msg);
	return -1;
}

static int is_name_char(char ch, int first, int colon)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' ||
	       (colon && ch == ':') || (!first && ch >= '0' && ch <= '9');
}

/* Length of the name at s, 0 if none. */
static size_t scan_name(const char *s, int colon)
{
	size_t n = 0;
	while (s[n] && is_name_char(s[n], n == 0, colon))
		n++;
	return n;
}

static int parse_value(const char *s, size_t n, double *v)
{
	char buf[64];
	if (n == 0 || n >= sizeof buf)
		return 0;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (!strcmp(buf, "+Inf")) {
		*v = INFINITY;
		return 1;
	}
	if (!strcmp(buf, "-Inf")) {
		*v = -INFINITY;
		return 1;
	}
	if (!strcmp(buf, "NaN")) {
		*v = NAN;
		return 1;
	}
	/* strtod would take "inf", "nan" and hex: the format does not. */
	if (strspn(buf, "0123456789+-.eE") != n)
		return 0;
	char *end;
	*v = strtod(buf, &end);
	return *end == '\0';
}

static struct pc_family *family(struct pc *c, const char *name, size_t n)
{
	for (int i = 0; i < c->nfam; i++)
		if (strlen(c->fam[i].name) == n && !memcmp(c->fam[i].name, name, n))
			return &c->fam[i];
	return NULL;
}

static struct pc_family *new_family(struct pc *c, const char *name, size_t n)
{
	if (c->nfam == PC_MAX_FAMILIES || n >= PC_NAME_MAX)
		return NULL;
	struct pc_family *f = &c->fam[c->nfam++];
	memset(f, 0, sizeof *f);
	memcpy(f->name, name, n);
	return f;
}

static int comment_line(struct pc *c, const char *s)
{
	int help = !strncmp(s, "# HELP ", 7), type = !strncmp(s, "# TYPE ", 7);
	if (!help && !type)
		return 0; /* other comments are allowed */
	const char *name = s + 7;
	size_t n = scan_name(name, 1);
	if (n == 0 || (name[n] != ' ' && !(help && name[n] == '\0')))
		return fail(c, "bad metric name in HELP/TYPE");
	struct pc_family *f = family(c, name, n);
	if (!f && !(f = new_family(c, name, n)))
		return fail(c, "too many families");
	const char *rest = name[n] ? name + n + 1 : name + n;
	if (help) {
		if (f->has_help)
			return fail(c, "second HELP for %s", f->name);
		f->has_help = 1;
		for (const char *p = rest; *p; p++)
			if (*p == '\\' && p[1] != '\\' && p[1] != 'n')
				return fail(c, "bad escape in HELP");
			else if (*p == '\\')
				p++;
		return 0;
	}
	if (f->type[0])
		return fail(c, "second TYPE for %s", f->name);
	static const char *const types[] = { "counter", "gauge", "histogram", "summary",
					     "untyped" };
	for (size_t i = 0; i < 5; i++)
		if (!strcmp(rest, types[i])) {
			strcpy(f->type, types[i]);
			return 0;
		}
	return fail(c, "unknown TYPE '%s'", rest);
}

static struct pc_hist *hist_series(struct pc *c, const char *key)
{
	for (int i = 0; i < c->nhist; i++)
		if (!strcmp(c->hist[i].key, key))
			return &c->hist[i];
	if (c->nhist == PC_MAX_SERIES)
		return NULL;
	struct pc_hist *h = &c->hist[c->nhist++];
	memset(h, 0, sizeof *h);
	snprintf(h->key, sizeof h->key, "%s", key);
	h->last_bucket = -1;
	return h;
}

static int sample_line(struct pc *c, const char *s)
{
	size_t n = scan_name(s, 1);
	if (n == 0)
		return fail(c, "sample without a metric name");
	const char *p = s + n;
	/* Family: exact name, or a histogram's name + suffix. */
	static const char *const sfx[] = { "_bucket", "_sum", "_count" };
	struct pc_family *f = family(c, s, n);
	int suffix = -1;
	for (int i = 0; i < 3 && !(f && f->type[0]); i++) {
		size_t sl = strlen(sfx[i]);
		if (n > sl && !memcmp(s + n - sl, sfx[i], sl)) {
			struct pc_family *g = family(c, s, n - sl);
			if (g && !strcmp(g->type, "histogram")) {
				f = g;
				suffix = i;
			}
		}
	}
	if (!f || !f->type[0])
		return fail(c, "sample %.*s has no TYPE line before it", (int)n, s);
	if (!strcmp(f->type, "histogram") && suffix < 0)
		return fail(c, "histogram sample without _bucket/_sum/_count");

	char key[PC_KEY_MAX];
	char le[64] = "";
	snprintf(key, sizeof key, "%s|", f->name);
	int has_le = 0;
	if (*p == '{') {
		p++;
		while (*p != '}') {
			size_t ln = scan_name(p, 0);
			if (ln == 0)
				return fail(c, "bad label name");
			const char *lname = p;
			p += ln;
			if (p[0] != '=' || p[1] != '"')
				return fail(c, "label without =\"");
			p += 2;
			const char *vstart = p;
			while (*p && *p != '"') {
				if (*p == '\n')
					return fail(c, "raw newline in label value");
				if (*p == '\\') {
					if (p[1] != '\\' && p[1] != '"' && p[1] != 'n')
						return fail(c, "bad escape in label value");
					p++;
				}
				p++;
			}
			if (*p != '"')
				return fail(c, "unterminated label value");
			int is_le = ln == 2 && !memcmp(lname, "le", 2);
			if (is_le) {
				snprintf(le, sizeof le, "%.*s", (int)(p - vstart), vstart);
				has_le = 1;
			} else if (strlen(key) + (size_t)(p - lname) + 2 < sizeof key) {
				strncat(key, lname, (size_t)(p - lname + 1));
				strcat(key, ",");
			}
			p++;
			if (*p == ',')
				p++;
			else if (*p != '}')
				return fail(c, "expected , or } after a label");
		}
		p++;
	}
	if (*p != ' ')
		return fail(c, "expected a space before the value");
	p++;
	const char *sp = strchr(p, ' ');
	double v;
	if (!parse_value(p, sp ? (size_t)(sp - p) : strlen(p), &v))
		return fail(c, "bad value '%s'", p);
	if (sp && (sp[1] == '\0' || strspn(sp + 1, "-0123456789") != strlen(sp + 1)))
		return fail(c, "bad timestamp");

	if (suffix >= 0) {
		struct pc_hist *h = hist_series(c, key);
		if (!h)
			return fail(c, "too many histogram series");
		if (suffix == 0) {
			double lev;
			if (!has_le || !parse_value(le, strlen(le), &lev))
				return fail(c, "bucket without a valid le");
			if (h->saw_inf)
				return fail(c, "bucket after le=\"+Inf\"");
			if (v < h->last_bucket)
				return fail(c, "buckets not cumulative (%g < %g)", v, h->last_bucket);
			h->last_bucket = v;
			h->nbuckets++;
			if (isinf(lev) && lev > 0) {
				h->saw_inf = 1;
				h->inf_count = v;
			}
		} else if (suffix == 2) {
			if (!h->saw_inf)
				return fail(c, "_count before the le=\"+Inf\" bucket");
			if (v != h->inf_count)
				return fail(c, "_count %g != +Inf bucket %g", v, h->inf_count);
			h->has_count = 1;
		}
	} else if (has_le && strcmp(f->type, "summary") != 0) {
		/* le is reserved for histogram buckets. */
		return fail(c, "label le outside a histogram bucket");
	}
	if (!strcmp(f->type, "counter") && !(v >= 0))
		return fail(c, "negative counter");
	return 0;
}

int prom_check(const char *text, char *why, size_t cap)
{
	struct pc *c = calloc(1, sizeof *c);
	if (!c) {
		snprintf(why, cap, "out of memory");
		return -1;
	}
	c->hist = calloc(PC_MAX_SERIES, sizeof *c->hist);
	c->why = why;
	c->cap = cap;
	int rc = c->hist ? 0 : -1;
	const char *s = text;
	while (rc == 0 && *s) {
		const char *nl = strchr(s, '\n');
		if (!nl) {
			c->line++;
			rc = fail(c, "last line without a newline");
			break;
		}
		char line[4096];
		size_t n = (size_t)(nl - s);
		c->line++;
		if (n >= sizeof line) {
			rc = fail(c, "line too long");
			break;
		}
		memcpy(line, s, n);
		line[n] = '\0';
		if (n == 0)
			; /* blank lines are allowed */
		else if (line[0] == '#')
			rc = comment_line(c, line);
		else
			rc = sample_line(c, line);
		s = nl + 1;
	}
	for (int i = 0; rc == 0 && i < c->nhist; i++)
		if (!c->hist[i].saw_inf || !c->hist[i].has_count)
			rc = fail(c, "histogram series {%s} lacks +Inf bucket or _count",
				  c->hist[i].key);
	free(c->hist);
	free(c);
	return rc;
}
