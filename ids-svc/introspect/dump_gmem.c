#include "dump_gmem.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"

static int dump_gather(void *ctx, struct gmem_range *r, size_t n)
{
	struct dump_gmem *d = ctx;
	for (size_t i = 0; i < n; i++) {
		r[i].status = r[i].space == GMEM_VIRT ? mem_read_virt(d->src, r[i].addr, r[i].out, r[i].len)
							 : mem_read_phys(d->src, r[i].addr, r[i].out, r[i].len);
		d->altered += r[i].status == SEVMON_EDECODE;
	}
	return 0;
}

static int dump_scan(void *ctx, uint64_t from, const void *pattern, size_t plen, uint32_t align,
		     uint64_t *hits, size_t max)
{
	struct dump_gmem *d = ctx;
	const struct mem_region *reg;
	size_t nreg;
	if (plen > DUMP_SCAN_MAX_PATTERN)
		return SEVMON_ETOOBIG;
	if (!d->scan_buf && !(d->scan_buf = malloc(DUMP_SCAN_CHUNK + DUMP_SCAN_MAX_PATTERN)))
		return SEVMON_ENOMEM;
	int rc = mem_regions(d->src, &reg, &nreg);
	struct mem_scan s = { .pattern = pattern, .plen = plen, .align = align, .hits = hits,
			      .max = max, .buf = d->scan_buf, .chunk = DUMP_SCAN_CHUNK };
	for (size_t i = 0; rc == 0 && i < nreg && !s.truncated; i++) {
		uint64_t rs = reg[i].start, re = rs + reg[i].size;
		if (re > from)
			rc = mem_scan_range(d->src, &s, rs < from ? from : rs, re - (rs < from ? from : rs));
	}
	d->altered += rc == SEVMON_EDECODE;
	return rc < 0 ? rc : (int)s.n;
}

static const struct gmem_ops dump_ops = { .gather = dump_gather, .scan = dump_scan };

int dump_gmem_open(struct dump_gmem *d, const char *spec)
{
	memset(d, 0, sizeof *d);
	int rc = mem_open(spec, &d->src);
	if (rc < 0)
		return rc;
	d->g.ops = &dump_ops;
	d->g.ctx = d;
	d->g.virt = mem_has_virt(d->src);
	return 0;
}

void dump_gmem_close(struct dump_gmem *d)
{
	mem_close(d->src);
	free(d->scan_buf);
	memset(d, 0, sizeof *d);
}
