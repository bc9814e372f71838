/* Pattern scan over physical memory (mem.h: struct mem_scan). */
#include <string.h>

#include "err.h"
#include "mem.h"

int mem_scan_range(struct mem_source *m, struct mem_scan *s, uint64_t start, uint64_t len)
{
	uint64_t end = start + len;
	size_t carry = 0;
	if (end < start || !s->plen || !s->align || !s->chunk || s->chunk > MEM_MAX_READ || !s->buf)
		return SEVMON_EINVAL;
	for (uint64_t at = start; at < end && !s->truncated; at += s->chunk) {
		size_t n = end - at < s->chunk ? (size_t)(end - at) : s->chunk;
		int stop = s->stop ? s->stop(s->stop_ctx) : 0;
		if (stop)
			return stop;
		int rc = mem_read_phys(m, at, s->buf + carry, n);
		if (rc < 0 && rc != SEVMON_EFAULT)
			return rc; /* not a hole: a sealed image that was altered, a failing disk */
		if (rc < 0) {
			s->unreadable += n;
			carry = 0;
			continue;
		}
		s->scanned += n;
		size_t have = carry + n;
		uint64_t base = at - carry;
		for (size_t off = 0; off + s->plen <= have;) {
			const uint8_t *hit = memmem(s->buf + off, have - off, s->pattern, s->plen);
			if (!hit)
				break;
			uint64_t addr = base + (uint64_t)(hit - s->buf);
			if (addr % s->align == 0) {
				if (s->n == s->max) {
					s->truncated = true;
					break;
				}
				s->hits[s->n++] = addr;
				if (s->n == s->max) { /* stop here: the rest is not asked for */
					s->truncated = true;
					break;
				}
			}
			off = (size_t)(hit - s->buf) + 1;
		}
		carry = s->plen - 1 < have ? s->plen - 1 : have;
		memmove(s->buf, s->buf + have - carry, carry);
	}
	return 0;
}
