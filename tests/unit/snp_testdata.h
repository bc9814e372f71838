/* snp_testdata.h — load the SEV-SNP vectors in tests/data/snp (tests run from tests/data). */
#ifndef SEVMON_TEST_SNP_TESTDATA_H
#define SEVMON_TEST_SNP_TESTDATA_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "harness.h"

#define SNP_TEST_FILE_MAX 65536 /* every vector is a few KB */

/* Whole file, malloc'd (caller frees); fails the case if unreadable. */
static inline uint8_t *snp_test_slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		FAIL_AT("cannot open %s (tests run from tests/data)", path);
	uint8_t *b = malloc(SNP_TEST_FILE_MAX);
	ASSERT(b != NULL);
	*len = fread(b, 1, SNP_TEST_FILE_MAX, f);
	ASSERT(feof(f));
	fclose(f);
	return b;
}

static inline uint8_t *snp_test_join(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
				     size_t *len)
{
	uint8_t *o = malloc(alen + blen);
	ASSERT(o != NULL);
	memcpy(o, a, alen);
	memcpy(o + alen, b, blen);
	*len = alen + blen;
	return o;
}

#endif
