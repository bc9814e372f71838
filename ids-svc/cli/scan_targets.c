/*
 * scan_targets.c — the targets file of `sevmon scan` (format in scan_targets.h).
 */
#include "scan_targets.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"

/* Fields one line may hold: name, URI, a pin and SCAN_MEAS_MAX measurements, plus one so
 * an extra field is reported as such rather than cut. */
#define SCAN_FIELDS_MAX (2u + 1u + SCAN_MEAS_MAX + 1u)

static void target_clear(struct scan_target *t)
{
	free(t->pin);
	for (size_t i = 0; i < t->nmeas; i++)
		free(t->meas[i]);
	memset(t, 0, sizeof *t);
}

void scan_targets_free(struct scan_targets *t)
{
	for (size_t i = 0; i < t->n; i++)
		target_clear(&t->v[i]);
	free(t->v);
	t->v = NULL;
	t->n = 0;
}

static int name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > SCAN_NAME_MAX)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      *s == '.' || *s == '_' || *s == '-'))
			return 0;
	return 1;
}

static int hex_ok(const char *s, size_t len)
{
	if (strlen(s) != len)
		return 0;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f') || (*s >= 'A' && *s <= 'F')))
			return 0;
	return 1;
}

/* Split line in place at blanks; a '#' outside a field ends it. Returns the field count,
 * or SCAN_FIELDS_MAX when there are more. */
static size_t split(char *line, char **f)
{
	size_t n = 0;
	char *p = line;
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\r')
			p++;
		if (!*p || *p == '#' || *p == '\n')
			return n;
		if (n == SCAN_FIELDS_MAX)
			return n;
		f[n++] = p;
		while (*p && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
			p++;
		if (!*p)
			return n;
		*p++ = 0;
	}
}

static int parse_fields(struct scan_target *t, char **f, size_t nf, char *err, size_t cap)
{
	if (nf < 2) {
		snprintf(err, cap, "line %u: want NAME URI [pin=PUBFILE] [measurement=HEX]...", t->line);
		return SEVMON_EINVAL;
	}
	if (nf == SCAN_FIELDS_MAX) {
		snprintf(err, cap, "line %u: too many fields (at most %u measurements)", t->line, SCAN_MEAS_MAX);
		return SEVMON_EINVAL;
	}
	if (!name_ok(f[0])) {
		snprintf(err, cap, "line %u: bad target name '%.80s' ([A-Za-z0-9._-], 1..%u bytes)", t->line,
			 f[0], SCAN_NAME_MAX);
		return SEVMON_EINVAL;
	}
	strcpy(t->name, f[0]);
	if (strlen(f[1]) > SCAN_URI_MAX || !strstr(f[1], "://")) {
		snprintf(err, cap, "line %u: bad agent URI '%.80s'", t->line, f[1]);
		return SEVMON_EINVAL;
	}
	strcpy(t->uri, f[1]);
	for (size_t i = 2; i < nf; i++) {
		if (!strncmp(f[i], "pin=", 4) && f[i][4] && !t->pin) {
			if (!(t->pin = strdup(f[i] + 4)))
				return SEVMON_ENOMEM;
		} else if (!strncmp(f[i], "measurement=", 12) && hex_ok(f[i] + 12, SCAN_MEAS_HEX_LEN)) {
			if (t->nmeas == SCAN_MEAS_MAX) {
				snprintf(err, cap, "line %u: too many measurements (at most %u)", t->line,
					 SCAN_MEAS_MAX);
				return SEVMON_EINVAL;
			}
			if (!(t->meas[t->nmeas] = strdup(f[i] + 12)))
				return SEVMON_ENOMEM;
			t->nmeas++;
		} else {
			snprintf(err, cap, "line %u: bad field '%.80s' (pin=PUBFILE once, measurement=%u hex digits)",
				 t->line, f[i], SCAN_MEAS_HEX_LEN);
			return SEVMON_EINVAL;
		}
	}
	return 0;
}

/* Names are checked for uniqueness after reading: sort a copy of the indices by name. */
static int cmp_name(const void *a, const void *b, void *ctx)
{
	const struct scan_target *v = ctx;
	return strcmp(v[*(const size_t *)a].name, v[*(const size_t *)b].name);
}

static int check_unique(const struct scan_targets *t, char *err, size_t cap)
{
	if (t->n < 2)
		return 0;
	size_t *ix = malloc(t->n * sizeof *ix);
	if (!ix)
		return SEVMON_ENOMEM;
	for (size_t i = 0; i < t->n; i++)
		ix[i] = i;
	qsort_r(ix, t->n, sizeof *ix, cmp_name, t->v);
	int rc = 0;
	for (size_t i = 1; i < t->n && !rc; i++) {
		if (!strcmp(t->v[ix[i]].name, t->v[ix[i - 1]].name)) {
			const struct scan_target *a = &t->v[ix[i - 1]], *b = &t->v[ix[i]];
			snprintf(err, cap, "line %u: target '%s' already named on line %u",
				 a->line > b->line ? a->line : b->line, a->name,
				 a->line > b->line ? b->line : a->line);
			rc = SEVMON_EINVAL;
		}
	}
	free(ix);
	return rc;
}

/* One line without its '\n' into buf (cap > SCAN_LINE_MAX). 1: a line, 0: end of file,
 * or SEVMON_ETOOBIG / SEVMON_EINVAL (a NUL byte) / SEVMON_EIO. */
static int read_line(FILE *f, char *buf, size_t cap)
{
	size_t n = 0;
	int ch;
	while ((ch = getc(f)) != EOF && ch != '\n') {
		if (n == cap - 1)
			return SEVMON_ETOOBIG;
		if (ch == 0)
			return SEVMON_EINVAL;
		buf[n++] = (char)ch;
	}
	if (ferror(f))
		return SEVMON_EIO;
	buf[n] = 0;
	return ch == EOF && n == 0 ? 0 : 1;
}

int scan_targets_parse(struct scan_targets *out, FILE *f, char *err, size_t errcap)
{
	char line[SCAN_LINE_MAX + 1];
	char *fields[SCAN_FIELDS_MAX];
	size_t cap = 0;
	unsigned lineno = 0;
	int rc = 0;

	memset(out, 0, sizeof *out);
	err[0] = 0;
	while ((rc = read_line(f, line, sizeof line)) == 1) {
		lineno++;
		size_t nf = split(line, fields);
		if (nf == 0)
			continue;
		if (out->n == SCAN_TARGETS_MAX) {
			snprintf(err, errcap, "line %u: more than %u targets", lineno, SCAN_TARGETS_MAX);
			rc = SEVMON_ETOOBIG;
			goto fail;
		}
		if (out->n == cap) {
			size_t ncap = cap ? 2 * cap : 64;
			struct scan_target *v = realloc(out->v, ncap * sizeof *v);
			if (!v) {
				rc = SEVMON_ENOMEM;
				goto fail;
			}
			out->v = v;
			cap = ncap;
		}
		struct scan_target *t = &out->v[out->n++];
		memset(t, 0, sizeof *t);
		t->line = lineno;
		if ((rc = parse_fields(t, fields, nf, err, errcap)) < 0)
			goto fail;
	}
	if (rc < 0) {
		lineno++;
		if (rc == SEVMON_ETOOBIG)
			snprintf(err, errcap, "line %u: longer than %u bytes", lineno, SCAN_LINE_MAX);
		else
			snprintf(err, errcap, "line %u: %s", lineno, rc == SEVMON_EINVAL ? "NUL byte" : "read error");
		goto fail;
	}
	if ((rc = check_unique(out, err, errcap)) < 0)
		goto fail;
	return 0;
fail:
	if (rc == SEVMON_ENOMEM && !err[0])
		snprintf(err, errcap, "out of memory at line %u", lineno);
	scan_targets_free(out);
	return rc;
}
