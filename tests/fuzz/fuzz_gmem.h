/*
 * fuzz_gmem.h — test-only: guest memory whose bytes are the fuzz input. The input's bytes
 * are kernel-virtual memory from FUZZ_KBASE on (and physical from 0): a range inside them
 * reads, anything else faults, as a guest's holes do.
 */
#ifndef SEVMON_FUZZ_GMEM_H
#define SEVMON_FUZZ_GMEM_H

#include <stdint.h>
#include <string.h>

#include "err.h"
#include "gmem.h"

#define FUZZ_KBASE 0xffffffff81000000ull

struct fuzz_mem {
	const uint8_t *p;
	size_t n;
};

static inline int fuzz_gather(void *ctx, struct gmem_range *r, size_t n)
{
	const struct fuzz_mem *m = ctx;
	for (size_t i = 0; i < n; i++) {
		uint64_t base = r[i].space == GMEM_VIRT ? FUZZ_KBASE : 0;
		uint64_t off = r[i].addr - base;
		if (r[i].addr < base || off > m->n || r[i].len > m->n - off) {
			r[i].status = SEVMON_EFAULT;
			continue;
		}
		memcpy(r[i].out, m->p + off, r[i].len);
		r[i].status = 0;
	}
	return 0;
}

static const struct gmem_ops fuzz_gmem_ops = { .gather = fuzz_gather };

/* Walks and hashes fall back to gathers (gmem.c), so they read the input too. */
static inline void fuzz_gmem_init(struct gmem *g, struct fuzz_mem *m, const uint8_t *p, size_t n)
{
	*m = (struct fuzz_mem){ p, n };
	*g = (struct gmem){ .ops = &fuzz_gmem_ops, .ctx = m, .virt = 1 };
}

#endif
