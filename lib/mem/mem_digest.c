/* mem_digest.c — leaf and group digests of memory ranges (mem_digest.h). */
#include "mem_digest.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "err.h"

_Static_assert(MEM_DIGEST_LEN >= crypto_generichash_BYTES_MIN &&
	       MEM_DIGEST_LEN <= crypto_generichash_BYTES_MAX, "a BLAKE2b output length");

int mem_digest_params_ok(uint32_t leaf, uint32_t group)
{
	return leaf >= MEM_DIGEST_LEAF_MIN && leaf <= MEM_DIGEST_LEAF_MAX && !(leaf & (leaf - 1)) &&
	       group >= 1 && group <= MEM_DIGEST_GROUP_MAX;
}

uint64_t mem_digest_count(uint64_t len, uint32_t leaf, uint32_t group)
{
	if (!len || !leaf || !group)
		return 0;
	uint64_t leaves = len / leaf + (len % leaf != 0);
	return leaves / group + (leaves % group != 0);
}

static void leaf_digest(const uint8_t *p, size_t n, uint8_t out[MEM_DIGEST_LEN])
{
	crypto_generichash(out, MEM_DIGEST_LEN, p, n, NULL, 0);
}

void mem_digest_group(const uint8_t *leaves, size_t n, uint8_t out[MEM_DIGEST_LEN])
{
	crypto_generichash(out, MEM_DIGEST_LEN, leaves, n * MEM_DIGEST_LEN, NULL, 0);
}

int mem_digest_begin(struct mem_digest *d, uint32_t group, uint8_t *out)
{
	memset(d, 0, sizeof *d);
	if (group < 1 || group > MEM_DIGEST_GROUP_MAX)
		return SEVMON_EINVAL;
	d->group = group;
	d->out = out;
	if (group > 1) {
		d->st = malloc(sizeof(crypto_generichash_state));
		if (!d->st)
			return SEVMON_ENOMEM;
		crypto_generichash_init(d->st, NULL, 0, MEM_DIGEST_LEN);
	}
	return 0;
}

void mem_digest_leaf(struct mem_digest *d, const uint8_t *p, size_t n)
{
	uint8_t ld[MEM_DIGEST_LEN];
	if (d->group == 1) {
		leaf_digest(p, n, d->out + d->written++ * MEM_DIGEST_LEN);
		return;
	}
	leaf_digest(p, n, ld);
	crypto_generichash_update(d->st, ld, sizeof ld);
	if (++d->in_group == d->group) {
		crypto_generichash_final(d->st, d->out + d->written++ * MEM_DIGEST_LEN, MEM_DIGEST_LEN);
		crypto_generichash_init(d->st, NULL, 0, MEM_DIGEST_LEN);
		d->in_group = 0;
	}
}

void mem_digest_end(struct mem_digest *d)
{
	if (d->st && d->in_group)
		crypto_generichash_final(d->st, d->out + d->written++ * MEM_DIGEST_LEN, MEM_DIGEST_LEN);
	free(d->st);
	d->st = NULL;
	d->in_group = 0;
}

int mem_digest_buf(const uint8_t *p, size_t len, uint32_t leaf, uint32_t group, uint8_t *out)
{
	struct mem_digest d;
	if (!mem_digest_params_ok(leaf, group))
		return SEVMON_EINVAL;
	int rc = mem_digest_begin(&d, group, out);
	if (rc < 0)
		return rc;
	for (size_t off = 0; off < len; off += leaf)
		mem_digest_leaf(&d, p + off, len - off < leaf ? len - off : leaf);
	mem_digest_end(&d);
	return 0;
}
