/*
 * check_walk.c — what the list-walking kernel checks share: walk buffers, name copies.
 */
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
