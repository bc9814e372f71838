/*
 * sevrpc_names.c — text buffer and the naming rules shared with protoc-c and nanopb.
 *
 * The generated stubs refer to types the other two generators emit, so these rules
 * must reproduce theirs exactly; the build catches a mismatch as a compile error.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sevrpc_gen.h"

void sb_printf(struct strbuf *b, const char *fmt, ...)
{
	va_list ap;
	if (b->failed)
		return;
	for (;;) {
		size_t room = b->cap - b->len;
		va_start(ap, fmt);
		int n = vsnprintf(b->p ? b->p + b->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->failed = 1;
			return;
		}
		if ((size_t)n < room) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = b->cap ? b->cap * 2 : 4096;
		while (cap - b->len <= (size_t)n)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p) {
			b->failed = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
}

void sb_free(struct strbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

/* protoc-c's CamelToLower: '_' before an upper-case letter that follows a non-upper one. */
char *sevrpc_camel_to_lower(const char *s)
{
	size_t n = strlen(s);
	char *out = malloc(2 * n + 1), *o = out;
	int was_upper = 1;
	if (!out)
		return NULL;
	for (; *s; s++) {
		int up = isupper((unsigned char)*s);
		if (up && !was_upper)
			*o++ = '_';
		*o++ = (char)tolower((unsigned char)*s);
		was_upper = up;
	}
	*o = 0;
	return out;
}

char *sevrpc_upper(const char *s)
{
	char *out = strdup(s);
	for (char *o = out; o && *o; o++)
		*o = (char)toupper((unsigned char)*o);
	return out;
}

/* protoc-c's ToCamel on one name component: upper-case the first letter and every
 * letter after '_', dropping the '_'. */
static void append_camel(struct strbuf *b, const char *s, size_t n)
{
	int cap_next = 1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '_') {
			cap_next = 1;
			continue;
		}
		sb_printf(b, "%c", cap_next ? toupper((unsigned char)s[i]) : s[i]);
		cap_next = 0;
	}
}

static char *join_pieces(const char *full, int camel)
{
	struct strbuf b = { 0 };
	const char *p = full;
	while (*p) {
		while (*p == '.')
			p++;
		if (!*p)
			break;
		const char *e = strchr(p, '.');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (b.len)
			sb_printf(&b, "__");
		if (camel) {
			append_camel(&b, p, n);
		} else {
			char *piece = strndup(p, n);
			char *low = piece ? sevrpc_camel_to_lower(piece) : NULL;
			if (low)
				sb_printf(&b, "%s", low);
			else
				b.failed = 1;
			free(low);
			free(piece);
		}
		p += n;
	}
	if (b.failed || !b.p) {
		sb_free(&b);
		return NULL;
	}
	return b.p;
}

char *sevrpc_pbc_type(const char *full) { return join_pieces(full, 1); }
char *sevrpc_pbc_func(const char *full) { return join_pieces(full, 0); }

char *sevrpc_nanopb_type(const char *full)
{
	char *out = strdup(full[0] == '.' ? full + 1 : full);
	for (char *o = out; o && *o; o++)
		if (*o == '.')
			*o = '_';
	return out;
}

void sevrpc_file_free(struct sevrpc_file *f)
{
	for (size_t s = 0; s < f->n_services; s++) {
		struct sevrpc_service *sv = &f->services[s];
		for (size_t i = 0; i < sv->n_methods; i++) {
			struct sevrpc_method *m = &sv->methods[i];
			free(m->name);
			free(m->lower);
			free(m->upper);
			free(m->in_type);
			free(m->out_type);
		}
		free(sv->methods);
		free(sv->name);
		free(sv->prefix);
		free(sv->uprefix);
	}
	free(f->services);
	free(f->proto);
	free(f->base);
	free(f->guard);
	memset(f, 0, sizeof(*f));
}
