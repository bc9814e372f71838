/*
 * check_walk.c — what the list-walking kernel checks share: walk buffers, name copies.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "kchecks.h"

int kwalk_alloc(struct gmem_walk_out *o, size_t max, size_t stride)
{
	o->nodes = calloc(max ? max : 1, sizeof *o->nodes);
	o->data = calloc(max ? max : 1, stride ? stride : 1);
	o->faults = calloc(max ? max : 1, sizeof *o->faults);
	return o->nodes && o->data && o->faults ? 0 : SEVMON_ENOMEM;
}

void kwalk_free(struct gmem_walk_out *o)
{
	free(o->nodes);
	free(o->data);
	free(o->faults);
	o->nodes = NULL;
	o->data = NULL;
	o->faults = NULL;
}

void kcopy_name(char *dst, const uint8_t *src, size_t n)
{
	size_t l = strnlen((const char *)src, n);
	memcpy(dst, src, l);
	dst[l] = '\0';
}

void ksafe_copy(char *dst, size_t cap, const char *s)
{
	size_t j = 0;
	for (; *s && j + 1 < cap; s++)
		dst[j++] = (unsigned char)*s >= 0x20 && (unsigned char)*s < 0x7f ? *s : '?';
	if (cap)
		dst[j] = '\0';
}

void kprint_safe(FILE *f, const char *s)
{
	for (; *s; s++)
		fputc((unsigned char)*s >= 0x20 && (unsigned char)*s < 0x7f ? *s : '?', f);
}

void kviews_json(struct jw *w, unsigned m, const char *const *names, unsigned n)
{
	jw_arr(w);
	for (unsigned i = 0; i < n; i++)
		if (m & (1u << i))
			jw_str(w, names[i]);
	jw_arr_end(w);
}

void kviews_print(FILE *f, unsigned m, const char *const *names, unsigned n)
{
	const char *sep = "";
	for (unsigned i = 0; i < n; i++)
		if (m & (1u << i)) {
			fprintf(f, "%s%s", sep, names[i]);
			sep = ",";
		}
}
