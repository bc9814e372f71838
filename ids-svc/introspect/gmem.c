/* gmem.c — round-trip accounting and the WalkList fallback built on gather. */
#include "gmem.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "mem_digest.h"
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
		g->rounds++;
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
		g->rounds++;
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
	g->rounds++;
	return g->ops->scan(g->ctx, from, pattern, plen, align, hits, max);
}

/* ---- Hash ---------------------------------------------------------------------------- */

size_t gmem_hash_count(const struct gmem_hash *h)
{
	return (size_t)mem_digest_count(h->len, h->leaf, h->group);
}

/* Can h be sent at all? Sets its status when not. */
static int hash_ok(struct gmem *g, struct gmem_hash *h)
{
	h->status = 0;
	if (!mem_digest_params_ok(h->leaf, h->group))
		h->status = SEVMON_EINVAL;
	else if (h->len > GMEM_HASH_MAX_BYTES || gmem_hash_count(h) > GMEM_HASH_MAX_DIGESTS)
		h->status = SEVMON_ETOOBIG;
	else if (h->space == GMEM_VIRT && !g->virt)
		h->status = SEVMON_ENOTSUP;
	return h->status == 0;
}

size_t gmem_hash_batch(const struct gmem_hash *h, size_t n)
{
	size_t k = 0;
	uint64_t bytes = 0, dig = 0;
	while (k < n && k < GMEM_HASH_MAX_RANGES && bytes + h[k].len <= GMEM_HASH_MAX_BYTES &&
	       dig + gmem_hash_count(&h[k]) <= GMEM_HASH_MAX_DIGESTS && h[k].leaf == h[0].leaf &&
	       h[k].group == h[0].group) {
		bytes += h[k].len;
		dig += gmem_hash_count(&h[k]);
		k++;
	}
	return k;
}

/* Without a backend hash: the bytes come here and are hashed here. */
static int hash_local(struct gmem *g, struct gmem_hash *h)
{
	uint8_t *buf = malloc(h->len ? h->len : 1);
	if (!buf)
		return SEVMON_ENOMEM;
	int rc = gmem_read_big(g, h->addr, h->space, buf, h->len);
	if (rc == 0)
		rc = mem_digest_buf(buf, h->len, h->leaf, h->group, h->out);
	free(buf);
	h->status = rc == SEVMON_ENOMEM ? 0 : rc;
	return rc == SEVMON_ENOMEM ? rc : 0;
}

/* h[0..n) all sendable: one request per batch, or the local fallback. */
static int hash_send(struct gmem *g, struct gmem_hash *h, size_t n)
{
	for (size_t i = 0; i < n;) {
		if (!g->ops->hash) {
			int rc = hash_local(g, &h[i]);
			if (rc < 0)
				return rc;
			i++;
			continue;
		}
		size_t k = gmem_hash_batch(h + i, n - i);
		g->trips++;
		g->rounds++;
		for (size_t j = 0; j < k; j++)
			g->bytes += gmem_hash_count(&h[i + j]) * MEM_DIGEST_LEN;
		int rc = g->ops->hash(g->ctx, h + i, k);
		if (rc < 0)
			return rc;
		i += k;
	}
	return 0;
}

int gmem_hash(struct gmem *g, struct gmem_hash *h, size_t n)
{
	/* the sendable ones, in order: the others keep the status hash_ok gave them */
	struct gmem_hash *ok = calloc(n ? n : 1, sizeof *ok);
	size_t *at = calloc(n ? n : 1, sizeof *at), k = 0;
	int rc = SEVMON_ENOMEM;
	if (!ok || !at)
		goto out;
	for (size_t i = 0; i < n; i++)
		if (hash_ok(g, &h[i])) {
			at[k] = i;
			ok[k++] = h[i];
		}
	rc = hash_send(g, ok, k);
	for (size_t j = 0; j < k; j++)
		h[at[j]].status = rc < 0 ? rc : ok[j].status;
out:
	free(ok);
	free(at);
	return rc;
}

/* ---- rounds -------------------------------------------------------------------------- */

void gmem_round_init(struct gmem_round *q, struct gmem *g)
{
	memset(q, 0, sizeof *q);
	q->g = g;
}

static int grow(void **v, size_t *cap, size_t n, size_t size, void **v2, size_t size2)
{
	if (n < *cap)
		return 0;
	size_t c = *cap ? *cap * 2 : 64;
	void *a = realloc(*v, c * size), *b = a ? realloc(*v2, c * size2) : NULL;
	if (a)
		*v = a;
	if (!a || !b)
		return SEVMON_ENOMEM;
	*v2 = b;
	*cap = c;
	return 0;
}

void gmem_round_read(struct gmem_round *q, uint64_t addr, uint8_t space, void *out, size_t len,
		     int *status)
{
	*status = 0;
	for (size_t off = 0; off < len || (len == 0 && off == 0); off += GMEM_CHUNK) {
		if (grow((void **)&q->r, &q->rcap, q->nr, sizeof *q->r, (void **)&q->rst,
			 sizeof *q->rst) < 0) {
			q->err = SEVMON_ENOMEM;
			return;
		}
		size_t n = len - off < GMEM_CHUNK ? len - off : GMEM_CHUNK;
		q->r[q->nr] = (struct gmem_range){ .addr = addr + off, .len = (uint32_t)n,
			.space = space, .out = (uint8_t *)out + off };
		q->rst[q->nr++] = status;
		if (len == 0)
			break;
	}
}

void gmem_round_walk(struct gmem_round *q, const struct gmem_walk_req *req,
		     struct gmem_walk_out *out, int *status)
{
	*status = 0;
	if (grow((void **)&q->w, &q->wcap, q->nw, sizeof *q->w, (void **)&q->wst,
		 sizeof *q->wst) < 0) {
		q->err = SEVMON_ENOMEM;
		return;
	}
	q->w[q->nw] = (struct gmem_walk_job){ .req = req, .out = out };
	q->wst[q->nw++] = status;
}

void gmem_round_hash(struct gmem_round *q, struct gmem_hash *h)
{
	h->status = 0;
	if (grow((void **)&q->h, &q->hcap, q->nh, sizeof *q->h, (void **)&q->hout,
		 sizeof *q->hout) < 0) {
		q->err = SEVMON_ENOMEM;
		return;
	}
	q->h[q->nh] = *h;
	q->hout[q->nh++] = h;
}

int gmem_round_pending(const struct gmem_round *q)
{
	return q->nr || q->nw || q->nh || q->err;
}

static void round_reset(struct gmem_round *q)
{
	q->nr = q->nw = q->nh = 0;
	q->err = 0;
}

/* The results back to where the callers asked for them; a lost round is every item's. */
static void round_deliver(struct gmem_round *q, int lost)
{
	for (size_t i = 0; i < q->nr; i++) {
		int st = lost ? lost : q->r[i].status;
		if (st && !*q->rst[i])
			*q->rst[i] = st;
	}
	for (size_t i = 0; i < q->nw; i++)
		*q->wst[i] = lost ? lost : q->w[i].status;
	for (size_t i = 0; i < q->nh; i++)
		q->hout[i]->status = lost ? lost : q->h[i].status;
}

/* The round with one request after another (a backend without a round op). */
static int round_serial(struct gmem_round *q)
{
	struct gmem *g = q->g;
	int rc = q->nr ? gmem_gather(g, q->r, q->nr) : 0;
	for (size_t i = 0; rc == 0 && i < q->nw; i++) {
		int w = gmem_walk(g, q->w[i].req, q->w[i].out);
		/* a walk's own refusal (its request) is its result; a lost connection is all's */
		q->w[i].status = w;
		if (w < 0 && w != SEVMON_ETOOBIG && w != SEVMON_EINVAL && w != SEVMON_ENOTSUP &&
		    w != SEVMON_EUNMETHOD)
			rc = w;
	}
	if (rc == 0 && q->nh)
		rc = gmem_hash(g, q->h, q->nh);
	return rc;
}

int gmem_round_flush(struct gmem_round *q)
{
	struct gmem *g = q->g;
	int rc = q->err;
	if (rc < 0 || !gmem_round_pending(q))
		goto done;
	if (!g->ops->round) {
		rc = round_serial(q);
		goto done;
	}
	/* what cannot be sent is answered here; the rest goes out in one round */
	size_t per = g->max_ranges ? g->max_ranges : GMEM_DEFAULT_MAX_RANGES;
	uint64_t maxb = g->max_bytes ? g->max_bytes : GMEM_DEFAULT_MAX_BYTES;
	size_t nb = 0, *bounds = calloc(q->nr + 1, sizeof *bounds);
	struct gmem_range *r = calloc(q->nr + 1, sizeof *r);
	size_t *ri = calloc(q->nr + 1, sizeof *ri), nr = 0;
	struct gmem_walk_job *w = calloc(q->nw + 1, sizeof *w);
	size_t *wi = calloc(q->nw + 1, sizeof *wi), nw = 0;
	struct gmem_hash *h = calloc(q->nh + 1, sizeof *h);
	size_t *hi = calloc(q->nh + 1, sizeof *hi), nh = 0;
	rc = SEVMON_ENOMEM;
	if (!bounds || !r || !ri || !w || !wi || !h || !hi)
		goto free;
	for (size_t i = 0; i < q->nr; i++) {
		q->r[i].status = 0;
		if (q->r[i].space == GMEM_VIRT && !g->virt)
			q->r[i].status = SEVMON_ENOTSUP;
		else if (q->r[i].len > maxb)
			q->r[i].status = SEVMON_ETOOBIG;
		else {
			ri[nr] = i;
			r[nr++] = q->r[i];
		}
	}
	uint64_t b = 0;
	for (size_t i = 0, k = 0; i < nr; i++, k++) {
		if (i == 0 || k == per || b + r[i].len > maxb) {
			bounds[nb++] = i;
			k = 0;
			b = 0;
		}
		b += r[i].len;
		g->bytes += r[i].len;
	}
	for (size_t i = 0; i < q->nw; i++) {
		q->w[i].status = walk_check(q->w[i].req, q->w[i].out);
		if (q->w[i].status == 0 && q->w[i].req->space == GMEM_VIRT && !g->virt)
			q->w[i].status = SEVMON_ENOTSUP;
		if (q->w[i].status == 0) {
			wi[nw] = i;
			w[nw++] = q->w[i];
		}
	}
	for (size_t i = 0; i < q->nh; i++)
		if (hash_ok(g, &q->h[i])) {
			hi[nh] = i;
			h[nh++] = q->h[i];
		}
	size_t hreq = 0;
	for (size_t i = 0; i < nh; i += gmem_hash_batch(h + i, nh - i))
		hreq++;
	for (size_t i = 0; i < nh; i++)
		g->bytes += gmem_hash_count(&h[i]) * MEM_DIGEST_LEN;
	g->trips += nb + nw + hreq;
	g->rounds++;
	rc = g->ops->round(g->ctx, r, nr, bounds, nb, w, nw, h, nh);
	for (size_t i = 0; i < nr; i++)
		q->r[ri[i]].status = r[i].status;
	for (size_t i = 0; i < nw; i++) {
		q->w[wi[i]].status = w[i].status;
		g->bytes += w[i].out->n * gmem_walk_stride(w[i].req);
	}
	for (size_t i = 0; i < nh; i++)
		q->h[hi[i]].status = h[i].status;
free:
	free(bounds);
	free(r);
	free(ri);
	free(w);
	free(wi);
	free(h);
	free(hi);
done:
	round_deliver(q, rc < 0 ? rc : 0);
	round_reset(q);
	return rc;
}

void gmem_round_free(struct gmem_round *q)
{
	free(q->r);
	free(q->rst);
	free(q->w);
	free(q->wst);
	free(q->h);
	free(q->hout);
	memset(q, 0, sizeof *q);
}
