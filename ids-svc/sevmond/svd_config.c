/*
 * svd_config.c — parse sevmond's configuration (svd_config.h, docs/sevmond.md).
 */
#include "svd_config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct parser {
	const char *fname;
	unsigned line;
	char *err;
	size_t errcap;
};

static int fail(struct parser *ps, const char *field, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (field)
		snprintf(ps->err, ps->errcap, "%s:%u: %s: %s", ps->fname, ps->line, field, msg);
	else
		snprintf(ps->err, ps->errcap, "%s:%u: %s", ps->fname, ps->line, msg);
	return -1;
}

static int is_name(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n == 0 || n > max)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      *s == '.' || *s == '_' || *s == '-'))
			return 0;
	return 1;
}

static int is_hex(const char *s, size_t n)
{
	if (strlen(s) != n)
		return 0;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f') || (*s >= 'A' && *s <= 'F')))
			return 0;
	return 1;
}

static int copy(struct parser *ps, const char *key, char *dst, size_t cap, const char *v)
{
	size_t n = strlen(v);
	if (n == 0)
		return fail(ps, key, "empty value");
	if (n >= cap)
		return fail(ps, key, "longer than %zu bytes", cap - 1);
	memcpy(dst, v, n + 1);
	return 0;
}

/* Unsigned number with an optional unit; units scale to `base` (1 for counts). */
static int number(struct parser *ps, const char *key, const char *v, uint64_t max, uint64_t *out)
{
	if (*v < '0' || *v > '9')
		return fail(ps, key, "'%s' is not a number", v);
	errno = 0;
	char *end;
	unsigned long long x = strtoull(v, &end, 10);
	if (errno || *end || x > max)
		return fail(ps, key, "'%s' is not a number in 0..%llu", v, (unsigned long long)max);
	*out = x;
	return 0;
}

/* Durations: N with ms, s, m, h or d (no unit = seconds). Result in the unit `in_ms` says. */
static int duration(struct parser *ps, const char *key, const char *v, int in_ms, uint64_t max,
		    uint64_t *out)
{
	if (*v < '0' || *v > '9')
		return fail(ps, key, "'%s' is not a duration (e.g. 30s, 5m, 250ms)", v);
	errno = 0;
	char *end;
	unsigned long long x = strtoull(v, &end, 10);
	uint64_t ms_per;
	if (!strcmp(end, "ms"))
		ms_per = 1;
	else if (!strcmp(end, "") || !strcmp(end, "s"))
		ms_per = 1000;
	else if (!strcmp(end, "m"))
		ms_per = 60000;
	else if (!strcmp(end, "h"))
		ms_per = 3600000;
	else if (!strcmp(end, "d"))
		ms_per = 86400000;
	else
		return fail(ps, key, "'%s': unit must be ms, s, m, h or d", v);
	if (errno || x > UINT64_MAX / 86400000ull)
		return fail(ps, key, "'%s' is too large", v);
	uint64_t ms = x * ms_per;
	uint64_t r = in_ms ? ms : ms / 1000;
	if (!in_ms && ms % 1000)
		return fail(ps, key, "'%s' is not a whole number of seconds", v);
	if (r > max)
		return fail(ps, key, "'%s' is over the limit (%llu%s)", v, (unsigned long long)max,
			    in_ms ? " ms" : " s");
	*out = r;
	return 0;
}

static int size_value(struct parser *ps, const char *key, const char *v, uint64_t *out)
{
	if (*v < '0' || *v > '9')
		return fail(ps, key, "'%s' is not a size (e.g. 512M)", v);
	errno = 0;
	char *end;
	unsigned long long x = strtoull(v, &end, 10);
	unsigned shift;
	if (!strcmp(end, ""))
		shift = 0;
	else if (!strcmp(end, "K"))
		shift = 10;
	else if (!strcmp(end, "M"))
		shift = 20;
	else if (!strcmp(end, "G"))
		shift = 30;
	else
		return fail(ps, key, "'%s': unit must be K, M or G", v);
	if (errno || x > (UINT64_MAX >> 30))
		return fail(ps, key, "'%s' is too large", v);
	*out = (uint64_t)x << shift;
	return 0;
}

/* "HOST:PORT" or "[V6]:PORT". */
static int listen_addr(struct parser *ps, struct svd_config *c, const char *v)
{
	const char *colon = strrchr(v, ':');
	if (!colon)
		return fail(ps, "listen", "'%s' is not HOST:PORT", v);
	const char *h = v;
	size_t hl = (size_t)(colon - v);
	if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']')
		h++, hl -= 2;
	if (hl == 0 || hl >= sizeof c->host)
		return fail(ps, "listen", "'%s': bad host", v);
	uint64_t port;
	if (number(ps, "listen", colon + 1, 65535, &port) < 0)
		return -1;
	memcpy(c->host, h, hl);
	c->host[hl] = 0;
	c->port = (uint16_t)port;
	return 0;
}

/* A bearer token's rules: 16..SVD_TOKEN_MAX token68 characters. */
static const char *token_bad(const char *v)
{
	size_t n = strlen(v);
	if (n < 16 || n > SVD_TOKEN_MAX)
		return "a token is 16..256 characters";
	for (const char *p = v; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      strchr("-._~+/=", *p)))
			return "a token is token68 characters (A-Za-z0-9-._~+/=)";
	return NULL;
}

static int daemon_key(struct parser *ps, struct svd_config *c, const char *k, const char *v)
{
	uint64_t x;
	if (!strcmp(k, "token_file"))
		return copy(ps, k, c->token_file, sizeof c->token_file, v);
	if (!strcmp(k, "listen"))
		return listen_addr(ps, c, v);
	if (!strcmp(k, "unix"))
		return copy(ps, k, c->unix_path, sizeof c->unix_path, v);
	if (!strcmp(k, "token")) {
		size_t n = strlen(v);
		if (c->ntokens == SVD_TOKENS_MAX)
			return fail(ps, k, "at most %u tokens", SVD_TOKENS_MAX);
		if (n < 16 || n > SVD_TOKEN_MAX)
			return fail(ps, k, "a token is 16..%u characters", SVD_TOKEN_MAX);
		for (const char *p = v; *p; p++)
			if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			      (*p >= '0' && *p <= '9') || strchr("-._~+/=", *p)))
				return fail(ps, k, "a token is token68 characters (A-Za-z0-9-._~+/=)");
		memcpy(c->tokens[c->ntokens++], v, n + 1);
		return 0;
	}
	/* store = is the name; database = (the older one) stays an alias */
	if (!strcmp(k, "store") || !strcmp(k, "database"))
		return copy(ps, k, c->database, sizeof c->database, v);
	if (!strcmp(k, "targets_file"))
		return copy(ps, k, c->targets_file, sizeof c->targets_file, v);
	if (!strcmp(k, "libvirt"))
		return copy(ps, k, c->libvirt, sizeof c->libvirt, v);
	if (!strcmp(k, "libvirt_port")) {
		if (number(ps, k, v, 65535, &x) < 0)
			return -1;
		if (x == 0)
			return fail(ps, k, "a port is 1..65535");
		c->libvirt_port = (uint16_t)x;
		return 0;
	}
	if (!strcmp(k, "libvirt_poll")) {
		if (duration(ps, k, v, 1, 3600000, &x) < 0)
			return -1;
		if (x < 100)
			return fail(ps, k, "at least 100ms");
		c->libvirt_poll_ms = (uint32_t)x;
		return 0;
	}
	if (!strcmp(k, "replica")) {
		if (!is_name(v, SVD_NAME_MAX))
			return fail(ps, k, "a replica name is 1..%u of A-Za-z0-9._-", SVD_NAME_MAX);
		memcpy(c->replica, v, strlen(v) + 1);
		return 0;
	}
	if (!strcmp(k, "lease") || !strcmp(k, "lease_renew")) {
		if (duration(ps, k, v, 1, SVD_LEASE_MS_MAX, &x) < 0)
			return -1;
		if (x < SVD_LEASE_MS_MIN)
			return fail(ps, k, "at least %ums", SVD_LEASE_MS_MIN);
		*(!strcmp(k, "lease") ? &c->lease_ms : &c->lease_renew_ms) = (uint32_t)x;
		return 0;
	}
	if (!strcmp(k, "claim_batch")) {
		if (number(ps, k, v, SVD_CLAIM_BATCH_MAX, &x) < 0)
			return -1;
		if (x == 0)
			return fail(ps, k, "at least 1");
		c->claim_batch = (unsigned)x;
		return 0;
	}
	if (!strcmp(k, "keep_scans")) {
		if (number(ps, k, v, UINT32_MAX, &x) < 0)
			return -1;
		c->keep_scans = (uint32_t)x;
		return 0;
	}
	if (!strcmp(k, "max_age"))
		return duration(ps, k, v, 0, UINT64_MAX / 1000, &c->max_age_s);
	if (!strcmp(k, "key"))
		return copy(ps, k, c->key_file, sizeof c->key_file, v);
	if (!strcmp(k, "trust_dir"))
		return copy(ps, k, c->trust_dir, sizeof c->trust_dir, v);
	if (!strcmp(k, "trust")) {
		if (c->ntrust == SVD_TRUST_MAX)
			return fail(ps, k, "at most %u in [sevmond]", SVD_TRUST_MAX);
		return copy(ps, k, c->trust[c->ntrust++], sizeof c->trust[0], v);
	}
	if (!strcmp(k, "attest"))
		return copy(ps, k, c->attest, sizeof c->attest, v);
	if (!strcmp(k, "workers")) {
		if (number(ps, k, v, SVD_WORKERS_MAX, &x) < 0)
			return -1;
		if (x == 0)
			return fail(ps, k, "at least 1");
		c->workers = (unsigned)x;
		return 0;
	}
	if (!strcmp(k, "queue_per_target")) {
		if (number(ps, k, v, SVD_QUEUE_PER_TARGET_MAX, &x) < 0)
			return -1;
		if (x == 0)
			return fail(ps, k, "at least 1");
		c->queue_per_target = (unsigned)x;
		return 0;
	}
	if (!strcmp(k, "memory_limit"))
		return size_value(ps, k, v, &c->memory_limit);
	struct {
		const char *name;
		uint32_t *dst;
		uint64_t max;
	} ms[] = {
		{ "connect_timeout", &c->connect_timeout_ms, 600000 },
		{ "request_timeout", &c->request_timeout_ms, 600000 },
		{ "backoff_min", &c->backoff_min_ms, 3600000 },
		{ "backoff_max", &c->backoff_max_ms, 86400000 },
	};
	for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++) {
		if (strcmp(k, ms[i].name))
			continue;
		if (duration(ps, k, v, 1, ms[i].max, &x) < 0)
			return -1;
		if (x == 0)
			return fail(ps, k, "must be more than 0");
		*ms[i].dst = (uint32_t)x;
		return 0;
	}
	if (!strcmp(k, "interval")) {
		if (duration(ps, k, v, 0, 30u * 86400u, &x) < 0)
			return -1;
		c->interval_s = (uint32_t)x;
		return 0;
	}
	if (!strcmp(k, "checks")) {
		char why[160];
		if (check_set_parse(v, &c->checks, why, sizeof why) < 0)
			return fail(ps, k, "%s", why);
		return 0;
	}
	if (!strcmp(k, "acquire_on")) {
		enum store_severity sv;
		if (!strcmp(v, "none")) {
			c->acquire_on = 0;
			return 0;
		}
		if (store_severity_parse(v, &sv) < 0)
			return fail(ps, k, "'%s': none, or a severity (info, low, medium, high)", v);
		c->acquire_on = (int)sv + 1;
		return 0;
	}
	if (!strcmp(k, "acquire_dir"))
		return copy(ps, k, c->acquire_dir, sizeof c->acquire_dir, v);
	if (!strcmp(k, "acquire_format")) {
		if (strcmp(v, "lime") && strcmp(v, "elf"))
			return fail(ps, k, "'%s': lime or elf", v);
		c->acquire_format = !strcmp(v, "elf");
		return 0;
	}
	if (!strcmp(k, "acquire_interval")) {
		if (duration(ps, k, v, 0, 30u * 86400u, &x) < 0)
			return -1;
		c->acquire_interval_s = (uint32_t)x;
		return 0;
	}
	if (!strcmp(k, "acquire_keep")) {
		if (number(ps, k, v, SVD_ACQUIRE_KEEP_MAX, &x) < 0)
			return -1;
		if (x == 0)
			return fail(ps, k, "at least 1");
		c->acquire_keep = (uint32_t)x;
		return 0;
	}
	return fail(ps, k, "unknown key in [sevmond]");
}

static int target_key(struct parser *ps, struct svd_target_cfg *t, const char *k, const char *v)
{
	uint64_t x;
	if (!strcmp(k, "uri")) {
		if (!strstr(v, "://"))
			return fail(ps, k, "'%s' is not a URI (unix:///path, tcp://host:port, vsock://cid:port)", v);
		return copy(ps, k, t->uri, sizeof t->uri, v);
	}
	if (!strcmp(k, "key")) {
		if (!is_hex(v, 64))
			return fail(ps, k, "a pinned key is 64 hex digits");
		memcpy(t->key, v, 65);
		return 0;
	}
	if (!strcmp(k, "measurement")) {
		if (!is_hex(v, 96))
			return fail(ps, k, "a measurement is 96 hex digits");
		if (t->nmeasurements == SVD_MEASUREMENTS_MAX)
			return fail(ps, k, "at most %u per target", SVD_MEASUREMENTS_MAX);
		memcpy(t->measurements[t->nmeasurements++], v, 97);
		return 0;
	}
	if (!strcmp(k, "trust")) {
		if (t->ntrust == SVD_TRUST_MAX)
			return fail(ps, k, "at most %u per target", SVD_TRUST_MAX);
		return copy(ps, k, t->trust[t->ntrust++], sizeof t->trust[0], v);
	}
	if (!strcmp(k, "interval")) {
		if (duration(ps, k, v, 0, 30u * 86400u, &x) < 0)
			return -1;
		t->interval_s = (uint32_t)x;
		return 0;
	}
	if (!strcmp(k, "checks")) {
		char why[160];
		if (check_set_parse(v, &t->checks, why, sizeof why) < 0)
			return fail(ps, k, "%s", why);
		return 0;
	}
	return fail(ps, k, "unknown key in [target %s]", t->name);
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		s[--n] = 0;
	return s;
}

const struct svd_target_cfg *svd_config_target(const struct svd_config *c, const char *name)
{
	for (size_t i = 0; i < c->ntargets; i++)
		if (!strcmp(c->targets[i].name, name))
			return &c->targets[i];
	return NULL;
}

static int finish(struct parser *ps, struct svd_config *c)
{
	if (c->ntokens == 0 && !c->token_file[0])
		return fail(ps, "token", "at least one API token is required (token = or token_file =)");
	if (!c->host[0] && !c->unix_path[0])
		return fail(ps, "listen", "give listen = HOST:PORT or unix = PATH");
	if (!c->database[0])
		return fail(ps, "store", "required (a file for SQLite, or postgresql://...)");
	if (!c->lease_renew_ms)
		c->lease_renew_ms = c->lease_ms / 3;
	if (c->lease_renew_ms * 2 > c->lease_ms)
		return fail(ps, "lease_renew", "%ums: at most half of lease (%ums), so one late "
			    "renewal does not lose the lease", c->lease_renew_ms, c->lease_ms);
	if (!c->key_file[0])
		return fail(ps, "key", "required (the IDS's private key file: sevmon keygen --out FILE)");
	if (c->backoff_min_ms > c->backoff_max_ms)
		return fail(ps, "backoff_min", "more than backoff_max");
	if (c->acquire_on && !c->acquire_dir[0])
		return fail(ps, "acquire_dir", "required with acquire_on (where images go; a "
			    "volume every replica shares, for the API to serve them from any)");
	for (size_t i = 0; i < c->ntargets; i++)
		if (!c->targets[i].uri[0]) {
			snprintf(ps->err, ps->errcap, "%s: [target %s]: uri: required", ps->fname,
				 c->targets[i].name);
			return -1;
		}
	return 0;
}

int svd_config_parse(const char *text, size_t len, const char *fname, struct svd_config *c,
		     char *err, size_t errcap)
{
	struct parser ps = { .fname = fname, .line = 0, .err = err, .errcap = errcap };
	memset(c, 0, sizeof *c);
	c->workers = SVD_DEFAULT_WORKERS;
	c->queue_per_target = SVD_DEFAULT_QUEUE_PER_TARGET;
	c->connect_timeout_ms = SVD_DEFAULT_CONNECT_TIMEOUT_MS;
	c->request_timeout_ms = SVD_DEFAULT_REQUEST_TIMEOUT_MS;
	c->backoff_min_ms = SVD_DEFAULT_BACKOFF_MIN_MS;
	c->backoff_max_ms = SVD_DEFAULT_BACKOFF_MAX_MS;
	c->lease_ms = SVD_DEFAULT_LEASE_MS;
	c->claim_batch = SVD_DEFAULT_CLAIM_BATCH;
	c->libvirt_port = SVD_DEFAULT_LIBVIRT_PORT;
	c->libvirt_poll_ms = SVD_DEFAULT_LIBVIRT_POLL_MS;
	c->checks = check_default_set();
	c->acquire_interval_s = SVD_DEFAULT_ACQUIRE_INTERVAL_S;
	c->acquire_keep = SVD_DEFAULT_ACQUIRE_KEEP;
	if (len > SVD_CONFIG_BYTES_MAX)
		return fail(&ps, NULL, "file larger than %u bytes", SVD_CONFIG_BYTES_MAX);
	int section = 0; /* 0 none, 1 daemon, 2 target */
	int seen_daemon = 0;
	size_t cap = 0;
	size_t off = 0;
	while (off < len) {
		const char *nl = memchr(text + off, '\n', len - off);
		size_t n = nl ? (size_t)(nl - (text + off)) : len - off;
		ps.line++;
		if (n >= SVD_CONFIG_LINE_MAX) {
			fail(&ps, NULL, "line longer than %u bytes", SVD_CONFIG_LINE_MAX - 1);
			goto bad;
		}
		char buf[SVD_CONFIG_LINE_MAX];
		memcpy(buf, text + off, n);
		buf[n] = 0;
		off += n + (nl ? 1 : 0);
		if (memchr(buf, 0, n)) {
			fail(&ps, NULL, "NUL byte in the line");
			goto bad;
		}
		/* a comment: '#' first or after whitespace (tokens and paths may hold '#') */
		for (char *h = buf; (h = strchr(h, '#')); h++)
			if (h == buf || h[-1] == ' ' || h[-1] == '\t') {
				*h = 0;
				break;
			}
		char *s = trim(buf);
		if (!*s)
			continue;
		if (*s == '[') {
			size_t sl = strlen(s);
			if (s[sl - 1] != ']') {
				fail(&ps, NULL, "section header without ']'");
				goto bad;
			}
			s[sl - 1] = 0;
			char *name = trim(s + 1);
			if (!strcmp(name, "sevmond")) {
				if (seen_daemon) {
					fail(&ps, NULL, "[sevmond] given twice");
					goto bad;
				}
				seen_daemon = 1;
				section = 1;
				continue;
			}
			if (strncmp(name, "target", 6) || (name[6] != ' ' && name[6] != '\t')) {
				fail(&ps, NULL, "unknown section [%s] (want [sevmond] or [target NAME])", name);
				goto bad;
			}
			char *tn = trim(name + 6);
			if (!is_name(tn, SVD_NAME_MAX)) {
				fail(&ps, "target", "'%s': a name is 1..%u of A-Za-z0-9._-", tn, SVD_NAME_MAX);
				goto bad;
			}
			if (svd_config_target(c, tn)) {
				fail(&ps, "target", "'%s' given twice", tn);
				goto bad;
			}
			if (c->ntargets == SVD_TARGETS_MAX) {
				fail(&ps, "target", "more than %u targets", SVD_TARGETS_MAX);
				goto bad;
			}
			if (c->ntargets == cap) {
				size_t ncap = cap ? cap * 2 : 16;
				void *p = realloc(c->targets, ncap * sizeof *c->targets);
				if (!p) {
					fail(&ps, NULL, "out of memory");
					goto bad;
				}
				c->targets = p;
				cap = ncap;
			}
			struct svd_target_cfg *t = &c->targets[c->ntargets++];
			memset(t, 0, sizeof *t);
			memcpy(t->name, tn, strlen(tn) + 1);
			section = 2;
			continue;
		}
		char *eq = strchr(s, '=');
		if (!eq) {
			fail(&ps, NULL, "expected 'key = value' or a [section]");
			goto bad;
		}
		*eq = 0;
		char *k = trim(s), *v = trim(eq + 1);
		if (!*k) {
			fail(&ps, NULL, "empty key");
			goto bad;
		}
		if (section == 0) {
			fail(&ps, k, "outside a section (start with [sevmond])");
			goto bad;
		}
		int rc = section == 1 ? daemon_key(&ps, c, k, v)
				      : target_key(&ps, &c->targets[c->ntargets - 1], k, v);
		if (rc < 0)
			goto bad;
	}
	if (finish(&ps, c) < 0)
		goto bad;
	return 0;
bad:
	svd_config_free(c);
	return -1;
}

/* Tokens one per line (a Kubernetes Secret mounted as a file): blank lines and lines
 * starting with # are skipped. */
static int load_token_file(struct svd_config *c, char *err, size_t errcap)
{
	FILE *f = fopen(c->token_file, "r");
	if (!f) {
		snprintf(err, errcap, "token_file %s: %s", c->token_file, strerror(errno));
		return -1;
	}
	char line[SVD_TOKEN_MAX + 8];
	unsigned no = 0;
	int rc = 0;
	while (rc == 0 && fgets(line, sizeof line, f)) {
		no++;
		size_t n = strcspn(line, "\r\n");
		if (line[n] == 0 && !feof(f)) {
			snprintf(err, errcap, "token_file %s:%u: line too long", c->token_file, no);
			rc = -1;
			break;
		}
		line[n] = 0;
		if (!line[0] || line[0] == '#')
			continue;
		const char *bad = token_bad(line);
		if (bad || c->ntokens == SVD_TOKENS_MAX) {
			snprintf(err, errcap, "token_file %s:%u: %s", c->token_file, no,
				 bad ? bad : "too many tokens (at most 16 in all)");
			rc = -1;
			break;
		}
		memcpy(c->tokens[c->ntokens++], line, n + 1);
	}
	fclose(f);
	if (rc == 0 && c->ntokens == 0) {
		snprintf(err, errcap, "token_file %s: no token in it", c->token_file);
		rc = -1;
	}
	explicit_bzero(line, sizeof line);
	return rc;
}

int svd_config_load(const char *path, struct svd_config *out, char *err, size_t errcap)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(err, errcap, "%s: %s", path, strerror(errno));
		return -1;
	}
	char *buf = malloc(SVD_CONFIG_BYTES_MAX + 1);
	if (!buf) {
		fclose(f);
		snprintf(err, errcap, "%s: out of memory", path);
		return -1;
	}
	size_t n = fread(buf, 1, SVD_CONFIG_BYTES_MAX + 1, f);
	int rerr = ferror(f);
	fclose(f);
	int rc;
	if (rerr) {
		snprintf(err, errcap, "%s: read error", path);
		rc = -1;
	} else {
		rc = svd_config_parse(buf, n, path, out, err, errcap);
	}
	free(buf);
	if (rc == 0 && out->token_file[0] && (rc = load_token_file(out, err, errcap)) < 0)
		svd_config_free(out);
	return rc;
}

void svd_config_free(struct svd_config *c)
{
	free(c->targets);
	c->targets = NULL;
	c->ntargets = 0;
}
