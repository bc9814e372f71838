/*
 * cli_result.h — one check's outcome as one JSON line, the shape `sevmon scan` and
 * `sevmon check --json` both write:
 *   {"target":NAME,"check":C,"ok":true,"result":{payload},"findings":[...],
 *    "ms":T,"requests":R,"bytes":B}
 *   {"target":NAME,"check":C,"ok":false,"error":TEXT,"ms":T,"requests":R,"bytes":B}
 * "target" is left out where there is only one (sevmon check); "findings" is present
 * when the check raises findings of its own, each {"severity","kind","subject","detail"}.
 */
#ifndef SEVMON_CLI_RESULT_H
#define SEVMON_CLI_RESULT_H

#include <stdint.h>

#include "check.h"

struct cli_result {
	const char *target;  /* NULL: no "target" member */
	const char *check;
	int ok;
	const char *error;   /* when !ok */
	const char *payload; /* when ok: the check's JSON (check_run_json) */
	const struct check_findings *findings; /* when ok; NULL: none */
	double ms;
	uint64_t requests, bytes;
};

/* The line, '\n' included, in a malloc'd string (the caller frees), or NULL (ENOMEM). */
char *cli_result_json(const struct cli_result *r);

#endif
