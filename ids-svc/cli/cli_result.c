/*
 * cli_result.c — a check's outcome as a JSON line (cli_result.h).
 */
#include "cli_result.h"

#include <stdlib.h>
#include <string.h>

char *cli_result_json(const struct cli_result *r)
{
	struct jw w;
	/* the payload plus a line's worth of envelope and findings */
	jw_init(&w, CHECK_PAYLOAD_MAX + (1u << 20));
	jw_obj(&w);
	if (r->target) {
		jw_key(&w, "target");
		jw_str(&w, r->target);
	}
	jw_key(&w, "check");
	jw_str(&w, r->check);
	jw_key(&w, "ok");
	jw_bool(&w, r->ok);
	if (r->ok) {
		jw_key(&w, "result");
		jw_raw(&w, r->payload);
		if (r->findings && r->findings->n) {
			jw_key(&w, "findings");
			jw_arr(&w);
			for (size_t i = 0; i < r->findings->n; i++) {
				const struct check_finding *f = &r->findings->v[i];
				jw_obj(&w);
				jw_key(&w, "severity");
				jw_str(&w, store_severity_name(f->severity));
				jw_key(&w, "kind");
				jw_str(&w, f->kind);
				jw_key(&w, "subject");
				jw_str(&w, f->subject);
				if (f->technique) {
					jw_key(&w, "technique");
					jw_str(&w, f->technique);
				}
				if (f->detail_json) {
					jw_key(&w, "detail");
					jw_raw(&w, f->detail_json);
				}
				jw_obj_end(&w);
			}
			jw_arr_end(&w);
		}
	} else {
		jw_key(&w, "error");
		jw_str(&w, r->error ? r->error : "");
	}
	jw_key(&w, "ms");
	jw_fixed(&w, r->ms, 3);
	jw_key(&w, "requests");
	jw_uint(&w, r->requests);
	jw_key(&w, "bytes");
	jw_uint(&w, r->bytes);
	jw_obj_end(&w);
	char *text;
	size_t len;
	if (jw_finish(&w, &text, &len) < 0)
		return NULL;
	char *line = realloc(text, len + 2);
	if (!line) {
		free(text);
		return NULL;
	}
	line[len] = '\n';
	line[len + 1] = '\0';
	return line;
}
