/*
 * mem_map.c — address ranges -> file offsets, the one translation every backend uses
 * (ELF p_paddr/p_vaddr, the ramfile's low/high split, a raw image's identity).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "err.h"
#include "mem_impl.h"

static int seg_cmp(const void *a, const void *b)
{
	const struct mem_seg *x = a, *y = b;
	return x->addr < y->addr ? -1 : x->addr > y->addr ? 1 : 0;
}

int mem_map_build(struct mem_map *mm, struct mem_seg *segs, size_t n)
{
	size_t k = 0;

	mm->seg = NULL;
	mm->n = 0;
	for (size_t i = 0; i < n; i++) {
		if (segs[i].size == 0)
			continue;
		/* The last byte must be addressable: addr + size - 1 may be 2^64 - 1. */
		if (segs[i].size - 1 > UINT64_MAX - segs[i].addr ||
		    segs[i].size - 1 > UINT64_MAX - segs[i].off) {
			free(segs);
			return SEVMON_EINVAL;
		}
		segs[k++] = segs[i];
	}
	if (k == 0) {
		free(segs);
		return 0;
	}
	qsort(segs, k, sizeof(*segs), seg_cmp);
	for (size_t i = 1; i < k; i++) {
		const struct mem_seg *p = &segs[i - 1];
		if (segs[i].addr - p->addr < p->size) { /* starts inside the previous one */
			free(segs);
			return SEVMON_EINVAL;
		}
	}
	mm->seg = segs;
	mm->n = k;
	return 0;
}

void mem_map_free(struct mem_map *mm)
{
	free(mm->seg);
	mm->seg = NULL;
	mm->n = 0;
}

/* Index of the segment holding addr, or n. */
static size_t map_find(const struct mem_map *mm, uint64_t addr)
{
	size_t lo = 0, hi = mm->n; /* first segment with seg.addr > addr is in [lo, hi] */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (mm->seg[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return mm->n;
	const struct mem_seg *s = &mm->seg[lo - 1];
	return addr - s->addr < s->size ? lo - 1 : mm->n;
}

int mem_map_read(const struct mem_map *mm, uint64_t addr, void *buf, size_t len,
		 mem_chunk_fn fn, void *ctx)
{
	size_t first = map_find(mm, addr);
	if (first == mm->n)
		return SEVMON_EFAULT;

	/* Check coverage first, so a gap fails before any I/O. */
	uint64_t last = addr + (len - 1); /* caller guarantees no wrap */
	size_t i = first;
	for (;;) {
		const struct mem_seg *s = &mm->seg[i];
		uint64_t s_last = s->addr + (s->size - 1);
		if (last <= s_last)
			break;
		if (i + 1 == mm->n || mm->seg[i + 1].addr != s_last + 1)
			return SEVMON_EFAULT;
		i++;
	}

	uint8_t *dst = buf;
	uint64_t a = addr;
	size_t left = len;
	for (i = first; left > 0; i++) {
		const struct mem_seg *s = &mm->seg[i];
		uint64_t in = a - s->addr;
		uint64_t avail = s->size - in;
		size_t n = avail < left ? (size_t)avail : left;
		int rc = fn(ctx, s->off + in, dst, n);
		if (rc < 0)
			return rc;
		dst += n;
		a += n;
		left -= n;
	}
	return 0;
}

int mem_map_regions(const struct mem_map *mm, struct mem_region **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	if (mm->n == 0)
		return 0;
	struct mem_region *r = calloc(mm->n, sizeof(*r));
	if (!r)
		return SEVMON_ENOMEM;
	size_t k = 0;
	for (size_t i = 0; i < mm->n; i++) {
		const struct mem_seg *s = &mm->seg[i];
		if (k > 0 && r[k - 1].size <= UINT64_MAX - r[k - 1].start &&
		    r[k - 1].start + r[k - 1].size == s->addr &&
		    r[k - 1].size <= UINT64_MAX - s->size) {
			r[k - 1].size += s->size;
			continue;
		}
		r[k].start = s->addr;
		r[k].size = s->size;
		k++;
	}
	*out = r;
	*n = k;
	return 0;
}

int mem_pread_chunk(void *fdp, uint64_t off, uint8_t *dst, size_t n)
{
	int fd = *(const int *)fdp;
	while (n > 0) {
		if (off > (uint64_t)INT64_MAX - n)
			return SEVMON_EFAULT;
		ssize_t r = pread(fd, dst, n, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return SEVMON_EFAULT;
		dst += r;
		off += (uint64_t)r;
		n -= (size_t)r;
	}
	return 0;
}

int mem_open_ro(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0)
		return fd;
	switch (errno) {
	case ENOENT:
	case ENOTDIR:
		return SEVMON_ENOENT;
	case EACCES:
	case EPERM:
		return SEVMON_EDENIED;
	default:
		return sevmon_from_errno(errno);
	}
}
