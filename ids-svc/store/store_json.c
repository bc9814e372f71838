/*
 * store_json.c — every JSON document the store takes is parsed here, bounded.
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "store_impl.h"

int store_json_parse(const char *text, size_t max, json_t **out, char *msg, size_t msg_len)
{
	*out = NULL;
	size_t len = strnlen(text, (size_t)max + 1);
	if (len > max)
		return store_msg(msg, msg_len, SEVMON_ETOOBIG, "JSON over the limit of %zu bytes", max);
	json_error_t e;
	json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &e);
	if (!j)
		return store_msg(msg, msg_len, SEVMON_EINVAL, "malformed JSON at line %d column %d: %s",
				 e.line, e.column, e.text);
	*out = j;
	return 0;
}

