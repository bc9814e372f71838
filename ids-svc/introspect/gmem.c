/* gmem.c — round-trip accounting and the WalkList fallback built on gather. */
#include "gmem.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "rbuf.h"

_Static_assert(GMEM_WALK_MAX_WINDOWS <= 32, "gmem_walk_out.faults has one bit per window");

/* A backend that states no limit gets this many ranges per round trip (the agent's
 * default GetInfo.max_ranges). */
#define GMEM_DEFAULT_MAX_RANGES 1024u
/* ... and this many bytes: a Gather reply travels as RPC continuation frames; 4 MiB keeps one
 * reply's reassembly buffer modest. */
#define GMEM_DEFAULT_MAX_BYTES (4u << 20)

int gmem_gather(struct gmem *g, struct gmem_range *r, size_t n)
{
	size_t per = g->max_ranges ? g->max_ranges : GMEM_DEFAULT_MAX_RANGES;
	uint64_t maxb = g->max_bytes ? g->max_bytes : GMEM_DEFAULT_MAX_BYTES;
	for (size_t i = 0; i < n; i++) {
		r[i].status = SEVMON_EIO;
		if (r[i].space == GMEM_VIRT && !g->virt)
			return SEVMON_ENOTSUP;
		if (r[i].len > maxb)
			return SEVMON_ETOOBIG;
	}
	for (size_t i = 0; i < n;) {
		size_t k = 0;
		uint64_t b = 0;
		while (i + k < n && k < per && b + r[i + k].len <= maxb)
			b += r[i + k++].len;
		g->trips++;
		g->bytes += b;
		int rc = g->ops->gather(g->ctx, r + i, k);
		if (rc < 0)
			return rc;
		i += k;
	}
	return 0;
}

int gmem_read(struct gmem *g, uint64_t addr, uint8_t space, void *out, uint32_t len)
{
	struct gmem_range r = { .addr = addr, .len = len, .space = space, .out = out };
	int rc = gmem_gather(g, &r, 1);
	return rc < 0 ? rc : r.status;
}

size_t gmem_walk_stride(const struct gmem_walk_req *req)
{
	size_t s = 0;
	for (size_t i = 0; i < req->nwin; i++)
		s += req->win[i].len + (req->win[i].deref ? req->win[i].deref_len : 0);
	return s;
}

/* Visited-node set for cycle detection: open addressing, twice the node bound. */
struct seen {
	uint64_t *slot;
	size_t mask;
};

static int seen_add(struct seen *s, uint64_t a) /* 1 if a was already there */
{
	size_t h = (size_t)((a >> 3) * 0x9E3779B97F4A7C15ull) & s->mask;
	while (s->slot[h]) {
		if (s->slot[h] == a)
			return 1;
		h = (h + 1) & s->mask;
	}
	s->slot[h] = a;
	return 0;
}

static int walk_check(const struct gmem_walk_req *req, const struct gmem_walk_out *out)
{
	if (req->nwin > GMEM_WALK_MAX_WINDOWS || req->max_nodes > GMEM_WALK_MAX_NODES ||
	    gmem_walk_stride(req) > GMEM_WALK_MAX_STRIDE)
		return SEVMON_ETOOBIG;
	for (size_t i = 0; i < req->nwin; i++)
		if (req->win[i].deref && (req->win[i].len != 8 || !out->faults))
			return SEVMON_EINVAL;
	return 0;
}

/* The derefs of every node walked, in one gather (split by g's limits): what an agent does
 * while walking, done afterwards. A NULL pointer is not asked for. */
static int walk_derefs(struct gmem *g, const struct gmem_walk_req *req, struct gmem_walk_out *out)
{
	size_t stride = gmem_walk_stride(req), nd = 0, k = 0;
	for (size_t i = 0; i < req->nwin; i++)
		nd += req->win[i].deref;
	for (size_t n = 0; n < out->n && out->faults; n++)
		out->faults[n] = 0;
	if (!nd || !out->n)
		return 0;
	struct gmem_range *r = calloc(nd * out->n, sizeof *r);
	uint32_t *who = calloc(nd * out->n, sizeof *who); /* node << 5 | window */
	int rc = SEVMON_ENOMEM;
	if (!r || !who)
		goto out;
	for (size_t n = 0; n < out->n; n++) {
		uint8_t *d = out->data + n * stride;
		for (size_t i = 0; i < req->nwin; i++) {
			const struct gmem_window *w = &req->win[i];
			d += w->len;
			if (!w->deref)
				continue;
			uint64_t p = load_le64(d - 8);
			memset(d, 0, w->deref_len);
			if (p == 0)
				out->faults[n] |= 1u << i;
			else {
				r[k] = (struct gmem_range){ .addr = p + w->deref_off, .len = w->deref_len,
					.space = req->space, .out = d };
				who[k++] = (uint32_t)(n << 5 | i);
			}
			d += w->deref_len;
		}
	}
	if (k && (rc = gmem_gather(g, r, k)) < 0)
		goto out;
	for (size_t j = 0; j < k; j++) {
		if (r[j].status == 0)
			continue;
		memset(r[j].out, 0, r[j].len); /* a failed range's bytes are unspecified */
		out->faults[who[j] >> 5] |= 1u << (who[j] & 31);
	}
	rc = 0;
out:
	free(r);
	free(who);
	return rc;
}

int gmem_walk_generic(struct gmem *g, const struct gmem_walk_req *req, struct gmem_walk_out *out)
{
	size_t stride = gmem_walk_stride(req);
	struct gmem_range r[GMEM_WALK_MAX_WINDOWS + 1];
	int vrc = walk_check(req, out);
	if (vrc < 0)
		return vrc;
	uint8_t nextb[8];
	struct seen s = { 0 };
	size_t cap = 16;
	while (cap < 2 * req->max_nodes + 2)
		cap <<= 1;
	s.slot = calloc(cap, sizeof *s.slot);
	if (!s.slot)
		return SEVMON_ENOMEM;
	s.mask = cap - 1;

	r[0] = (struct gmem_range){ .addr = req->head + req->next_off, .len = 8,
		.space = req->space, .out = nextb };
	int rc = gmem_gather(g, r, 1);
	out->n = 0;
	out->stop = GMEM_STOP_FAULT;
	if (rc < 0)
		goto done; /* the round trip itself failed */
	out->status = r[0].status;
	if (r[0].status < 0)
		goto done; /* a fault ends the walk; it is not an error of the call */
	uint64_t link = load_le64(nextb);
	for (;;) {
		if (link == req->head) {
			out->stop = GMEM_STOP_HEAD;
			break;
		}
		if (link == 0) {
			out->stop = GMEM_STOP_NULL;
			break;
		}
		if (seen_add(&s, link)) {
			out->stop = GMEM_STOP_CYCLE;
			break;
		}
		if (out->n == req->max_nodes) {
			out->stop = GMEM_STOP_MAX_NODES;
			break;
		}
		uint64_t base = link - req->link_off;
		uint8_t *dst = out->data + out->n * stride;
		for (size_t i = 0; i < req->nwin; i++) {
			r[i] = (struct gmem_range){ .addr = base + req->win[i].off, .len = req->win[i].len,
				.space = req->space, .out = dst };
			dst += req->win[i].len + (req->win[i].deref ? req->win[i].deref_len : 0);
		}
		r[req->nwin] = (struct gmem_range){ .addr = link + req->next_off, .len = 8,
			.space = req->space, .out = nextb };
		rc = gmem_gather(g, r, req->nwin + 1);
		if (rc < 0)
			goto done; /* the round trip itself failed */
		for (size_t i = 0; rc == 0 && i <= req->nwin; i++)
			rc = r[i].status;
		if (rc < 0) {
			out->status = rc;
			out->stop = GMEM_STOP_FAULT;
			break;
		}
		out->nodes[out->n++] = base;
		link = load_le64(nextb);
	}
	rc = walk_derefs(g, req, out);
done:
	free(s.slot);
	return rc;
}

int gmem_walk(struct gmem *g, const struct gmem_walk_req *req, struct gmem_walk_out *out)
{
	int rc = walk_check(req, out);
	if (rc < 0)
		return rc;
	if (req->space == GMEM_VIRT && !g->virt)
		return SEVMON_ENOTSUP;
	if (g->ops->walk) {
		g->trips++;
		rc = g->ops->walk(g->ctx, req, out);
		g->bytes += out->n * gmem_walk_stride(req);
		return rc;
	}
	return gmem_walk_generic(g, req, out);
}

int gmem_read_big(struct gmem *g, uint64_t addr, uint8_t space, void *out, size_t len)
{
	size_t n = (len + GMEM_CHUNK - 1) / GMEM_CHUNK;
	struct gmem_range *r = calloc(n ? n : 1, sizeof *r);
	if (!r)
		return SEVMON_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		size_t off = i * GMEM_CHUNK;
		r[i] = (struct gmem_range){ .addr = addr + off, .space = space,
			.len = (uint32_t)(len - off < GMEM_CHUNK ? len - off : GMEM_CHUNK),
			.out = (uint8_t *)out + off };
	}
	int rc = gmem_gather(g, r, n);
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = r[i].status;
	free(r);
	return rc;
}

int gmem_scan(struct gmem *g, uint64_t from, const void *pattern, size_t plen, uint32_t align,
	      uint64_t *hits, size_t max)
{
	if (!g->ops->scan)
		return SEVMON_ENOTSUP;
	if (!plen || !align)
		return SEVMON_EINVAL;
	g->trips++;
	return g->ops->scan(g->ctx, from, pattern, plen, align, hits, max);
}
