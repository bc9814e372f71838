/*
 * mem_digest.h — the digests of guest memory both sides compute: the agent for a Hash
 * request, the IDS for a baseline or where a source cannot hash (a dump read here).
 *
 * A range is cut into leaves of `leaf` bytes from its start (the last one may be short).
 * A leaf digest is BLAKE2b with MEM_DIGEST_LEN bytes of output over the leaf's bytes.
 * With group g > 1, each returned digest covers g consecutive leaves and is BLAKE2b (same
 * length) over their leaf digests concatenated, so a reader that holds leaf digests (a
 * baseline) can compute the group digests itself and ask for leaves only where a group
 * differs. Unkeyed on purpose: digests of two scans, or of a scan and a baseline, compare.
 */
#ifndef SEVMON_MEM_DIGEST_H
#define SEVMON_MEM_DIGEST_H

#include <stddef.h>
#include <stdint.h>

/* 128 bits: a collision needs ~2^64 work, far beyond what a guest could spend on making
 * an altered page look like its baseline (a second preimage costs ~2^128). */
#define MEM_DIGEST_LEN 16u
/* Leaf sizes: a power of two from a cache line's worth to a large read. */
#define MEM_DIGEST_LEAF_MIN 512u
#define MEM_DIGEST_LEAF_MAX (1u << 20)
/* Leaves one group digest may cover (its input is at most 64 KiB of leaf digests). */
#define MEM_DIGEST_GROUP_MAX 4096u

/* Are leaf and group acceptable? */
int mem_digest_params_ok(uint32_t leaf, uint32_t group);
/* Digests a range of len bytes yields: ceil(ceil(len / leaf) / group); 0 for len 0. */
uint64_t mem_digest_count(uint64_t len, uint32_t leaf, uint32_t group);

/* Incremental: feed leaves in order, one call per leaf (its bytes, n <= leaf); a digest is
 * written to out each time a group completes, and mem_digest_end writes the last partial
 * group's. out must hold mem_digest_count(...) * MEM_DIGEST_LEN bytes. */
struct mem_digest {
	uint32_t group, in_group;
	uint8_t *out;
	uint64_t written; /* digests written so far */
	void *st;         /* the group's state (crypto_generichash_state), owned */
};
int mem_digest_begin(struct mem_digest *d, uint32_t group, uint8_t *out);
void mem_digest_leaf(struct mem_digest *d, const uint8_t *p, size_t n);
void mem_digest_end(struct mem_digest *d);

/* The digests of bytes already in memory (len bytes, cut into leaves): 0 or EINVAL/ENOMEM. */
int mem_digest_buf(const uint8_t *p, size_t len, uint32_t leaf, uint32_t group, uint8_t *out);
/* A group digest from leaf digests (n of them, MEM_DIGEST_LEN bytes each). */
void mem_digest_group(const uint8_t *leaves, size_t n, uint8_t out[MEM_DIGEST_LEN]);

#endif
