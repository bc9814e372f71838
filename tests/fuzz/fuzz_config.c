/*
 * fuzz_config.c — operators' files as a mistaken or hostile editor leaves them: sevmond's
 * config (svd_config_parse) and a scan's targets file (scan_targets_parse). Either parses
 * or says why; nothing else.
 * Input: [u8 which] then the text.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "scan_targets.h"
#include "svd_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512] = "";
	if (size < 1)
		return 0;
	if (data[0] & 1) {
		struct svd_config c;
		if (svd_config_parse((const char *)data + 1, size - 1, "fuzz.conf", &c, err,
				     sizeof err) == 0)
			svd_config_free(&c);
		return 0;
	}
	FILE *f = fmemopen((void *)(data + 1), size - 1 ? size - 1 : 1, "r");
	if (!f)
		return 0;
	struct scan_targets t;
	if (size > 1 && scan_targets_parse(&t, f, err, sizeof err) == 0)
		scan_targets_free(&t);
	fclose(f);
	return 0;
}
