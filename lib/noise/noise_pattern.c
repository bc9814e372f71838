/*
 * noise_pattern.c — protocol names (spec 8) and the handshake pattern table (7.4, 7.5,
 * 18.1) with the pskN modifiers (9.4).
 *
 * The table is the spec's own notation, so it can be checked against the spec by eye:
 * lines before "..." are pre-messages, then one line per message, "->" from the
 * initiator, "<-" from the responder.
 */
#include "noise.h"

#include <string.h>

#include "err.h"

struct pattern_text {
	const char *name;
	const char *text;
};

static const struct pattern_text patterns[] = {
	/* One-way (7.4). */
	{ "N", "<- s\n...\n-> e, es" },
	{ "K", "-> s\n<- s\n...\n-> e, es, ss" },
	{ "X", "<- s\n...\n-> e, es, s, ss" },
	/* Fundamental interactive (7.5). */
	{ "NN", "-> e\n<- e, ee" },
	{ "NK", "<- s\n...\n-> e, es\n<- e, ee" },
	{ "NX", "-> e\n<- e, ee, s, es" },
	{ "KN", "-> s\n...\n-> e\n<- e, ee, se" },
	{ "KK", "-> s\n<- s\n...\n-> e, es, ss\n<- e, ee, se" },
	{ "KX", "-> s\n...\n-> e\n<- e, ee, se, s, es" },
	{ "XN", "-> e\n<- e, ee\n-> s, se" },
	{ "XK", "<- s\n...\n-> e, es\n<- e, ee\n-> s, se" },
	{ "XX", "-> e\n<- e, ee, s, es\n-> s, se" },
	{ "IN", "-> e, s\n<- e, ee, se" },
	{ "IK", "<- s\n...\n-> e, es, s, ss\n<- e, ee, se" },
	{ "IX", "-> e, s\n<- e, ee, se, s, es" },
	/* Deferred (18.1). */
	{ "NK1", "<- s\n...\n-> e\n<- e, ee, es" },
	{ "NX1", "-> e\n<- e, ee, s\n-> es" },
	{ "X1N", "-> e\n<- e, ee\n-> s\n<- se" },
	{ "X1K", "<- s\n...\n-> e, es\n<- e, ee\n-> s\n<- se" },
	{ "XK1", "<- s\n...\n-> e\n<- e, ee, es\n-> s, se" },
	{ "X1K1", "<- s\n...\n-> e\n<- e, ee, es\n-> s\n<- se" },
	{ "X1X", "-> e\n<- e, ee, s, es\n-> s\n<- se" },
	{ "XX1", "-> e\n<- e, ee, s\n-> es, s, se" },
	{ "X1X1", "-> e\n<- e, ee, s\n-> es, s\n<- se" },
	{ "K1N", "-> s\n...\n-> e\n<- e, ee\n-> se" },
	{ "K1K", "-> s\n<- s\n...\n-> e, es\n<- e, ee\n-> se" },
	{ "KK1", "-> s\n<- s\n...\n-> e\n<- e, ee, se, es" },
	{ "K1K1", "-> s\n<- s\n...\n-> e\n<- e, ee, es\n-> se" },
	{ "K1X", "-> s\n...\n-> e\n<- e, ee, s, es\n-> se" },
	{ "KX1", "-> s\n...\n-> e\n<- e, ee, se, s\n-> es" },
	{ "K1X1", "-> s\n...\n-> e\n<- e, ee, s\n-> se, es" },
	{ "I1N", "-> e, s\n<- e, ee\n-> se" },
	{ "I1K", "<- s\n...\n-> e, es, s\n<- e, ee\n-> se" },
	{ "IK1", "<- s\n...\n-> e, s\n<- e, ee, se, es" },
	{ "I1K1", "<- s\n...\n-> e, s\n<- e, ee, es\n-> se" },
	{ "I1X", "-> e, s\n<- e, ee, s, es\n-> se" },
	{ "IX1", "-> e, s\n<- e, ee, se, s\n-> es" },
	{ "I1X1", "-> e, s\n<- e, ee, s\n-> se, es" },
};

static int parse_token(const char *p, size_t n, uint8_t *tok)
{
	static const struct {
		const char *s;
		enum noise_token t;
	} names[] = { { "e", NOISE_TOK_E },   { "s", NOISE_TOK_S },   { "ee", NOISE_TOK_EE },
		      { "es", NOISE_TOK_ES }, { "se", NOISE_TOK_SE }, { "ss", NOISE_TOK_SS } };

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strlen(names[i].s) == n && memcmp(names[i].s, p, n) == 0) {
			*tok = (uint8_t)names[i].t;
			return 0;
		}
	return SEVMON_EINTERNAL;
}

/* Parse one table entry. The text is ours, but it is still parsed with bounds so a
 * typo in the table fails loudly (EINTERNAL) instead of overrunning. */
static int parse_text(const char *text, struct noise_pattern *p)
{
	bool pre = strstr(text, "...") != NULL;
	const char *line = text;

	memset(p, 0, sizeof *p);
	while (*line) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		bool from_init;

		if (len == 3 && memcmp(line, "...", 3) == 0) {
			pre = false;
			goto next;
		}
		if (len < 4 || (memcmp(line, "-> ", 3) != 0 && memcmp(line, "<- ", 3) != 0))
			return SEVMON_EINTERNAL;
		from_init = line[0] == '-';
		if (pre) {
			/* Only static keys appear in the pre-messages of the supported patterns. */
			if (len != 4 || line[3] != 's')
				return SEVMON_EINTERNAL;
			if (from_init)
				p->pre_init_s = true;
			else
				p->pre_resp_s = true;
			goto next;
		}
		/* Messages alternate, starting with the initiator. */
		if (p->nmsg >= NOISE_MAX_MESSAGES || from_init != (p->nmsg % 2 == 0))
			return SEVMON_EINTERNAL;
		for (size_t i = 3; i < len;) {
			size_t j = i;
			while (j < len && line[j] != ',')
				j++;
			if (p->ntok[p->nmsg] >= NOISE_MAX_TOKENS)
				return SEVMON_EINTERNAL;
			if (parse_token(line + i, j - i, &p->tok[p->nmsg][p->ntok[p->nmsg]]) != 0)
				return SEVMON_EINTERNAL;
			p->ntok[p->nmsg]++;
			i = j + 1;
			while (i < len && line[i] == ' ')
				i++;
		}
		p->nmsg++;
next:
		line += len;
		if (*line == '\n')
			line++;
	}
	p->one_way = p->nmsg == 1;
	return p->nmsg ? 0 : SEVMON_EINTERNAL;
}

/* pskN (9.4): psk0 opens the first message, pskN (N >= 1) closes message N. */
static int apply_psk(struct noise_pattern *p, unsigned n)
{
	unsigned m = n == 0 ? 0 : n - 1;

	if (m >= p->nmsg || p->ntok[m] >= NOISE_MAX_TOKENS || p->npsk >= NOISE_MAX_PSKS)
		return SEVMON_ENOTSUP;
	if (n == 0) {
		memmove(&p->tok[0][1], &p->tok[0][0], p->ntok[0]);
		p->tok[0][0] = NOISE_TOK_PSK;
	} else {
		p->tok[m][p->ntok[m]] = NOISE_TOK_PSK;
	}
	p->ntok[m]++;
	p->npsk++;
	return 0;
}

int noise_pattern_parse(const char *section, size_t len, struct noise_pattern *p)
{
	size_t base = 0;
	int rc = SEVMON_ENOTSUP;

	/* The base name ends where the first modifier ("psk", "fallback", ...) starts:
	 * base names are upper case and digits only. */
	while (base < len && ((section[base] >= 'A' && section[base] <= 'Z') ||
			      (section[base] >= '0' && section[base] <= '9')))
		base++;
	for (size_t i = 0; i < sizeof patterns / sizeof patterns[0]; i++) {
		if (strlen(patterns[i].name) == base && memcmp(patterns[i].name, section, base) == 0) {
			rc = parse_text(patterns[i].text, p);
			break;
		}
	}
	if (rc != 0)
		return rc;
	/* Modifiers: "psk<digit>" joined by '+'. Anything else (fallback) is unsupported. */
	for (size_t i = base; i < len;) {
		if (i > base) {
			if (section[i] != '+')
				return SEVMON_ENOTSUP;
			i++;
		}
		if (len - i < 4 || memcmp(section + i, "psk", 3) != 0 || section[i + 3] < '0' ||
		    section[i + 3] > '9')
			return SEVMON_ENOTSUP;
		if ((rc = apply_psk(p, (unsigned)(section[i + 3] - '0'))) != 0)
			return rc;
		i += 4;
	}
	return 0;
}
