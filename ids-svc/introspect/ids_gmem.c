#include "ids_gmem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "mem_digest.h"
#include "sevmon.sevrpc-client.h"

struct sync_wait {
	int done, status;
	void *resp;
	char err[256];
};

static void wait_set(struct sync_wait *w, int status, const char *errmsg)
{
	w->done = 1;
	w->status = status;
	if (status && errmsg)
		snprintf(w->err, sizeof w->err, "%s", errmsg);
}

/* ---- GetInfo ---- */

static void on_info(void *user, int status, const char *errmsg, Sevmon__V1__GetInfoResponse *r)
{
	struct sync_wait *w = user;
	struct ids_agent_info *info = w->resp;
	wait_set(w, status, errmsg);
	if (status)
		return;
	info->virt = r->virt_supported;
	info->vmci_phys = r->vmcoreinfo_phys;
	info->vmci_size = r->vmcoreinfo_size;
	info->max_ranges = r->max_ranges;
	info->max_gather_bytes = r->max_gather_bytes;
	info->max_walk_nodes = r->max_walk_nodes;
	info->pt_walk = r->pt_walk_supported;
	snprintf(info->source, sizeof info->source, "%s", r->memory_source);
	info->nregions = 0;
	for (size_t i = 0; i < r->n_phys_regions && i < 64; i++) {
		info->region_start[i] = r->phys_regions[i]->start;
		info->region_size[i] = r->phys_regions[i]->size;
		info->nregions++;
	}
}

int ids_agent_get_info(struct ids_conn *c, struct ids_agent_info *info, char *err, size_t errcap)
{
	struct sync_wait w = { .resp = info };
	Sevmon__V1__GetInfoRequest req = SEVMON__V1__GET_INFO_REQUEST__INIT;
	memset(info, 0, sizeof *info);
	int rc = sevmon_agent_get_info(c->rpc, &req, c->request_timeout_ms, on_info, &w);
	if (rc == 0)
		rc = ids_conn_wait(c, &w.done);
	if (rc == 0)
		rc = w.status;
	if (rc < 0 && err)
		snprintf(err, errcap, "%s", w.err);
	return rc;
}

/* ---- Gather ---- */

struct gather_wait {
	struct sync_wait w;
	struct gmem_range *r;
	size_t n;
};

static void on_gather(void *user, int status, const char *errmsg, Sevmon__V1__GatherResponse *g)
{
	struct gather_wait *gw = user;
	wait_set(&gw->w, status, errmsg);
	if (status)
		return;
	if (g->n_results != gw->n) {
		gw->w.status = SEVMON_EPROTO; /* one result per range, or the agent is broken */
		return;
	}
	for (size_t i = 0; i < gw->n; i++) {
		const Sevmon__V1__RangeResult *res = g->results[i];
		if (res->status < 0)
			gw->r[i].status = res->status;
		else if (res->status > 0 || res->data.len != gw->r[i].len)
			gw->r[i].status = SEVMON_EPROTO;
		else {
			memcpy(gw->r[i].out, res->data.data, res->data.len);
			gw->r[i].status = 0;
		}
	}
}

static Sevmon__V1__AddrSpace wire_space(const struct ids_gmem *m, uint8_t space)
{
	if (space != GMEM_VIRT)
		return SEVMON__V1__ADDR_SPACE__ADDR_SPACE_PHYS;
	return m->pt_on ? SEVMON__V1__ADDR_SPACE__ADDR_SPACE_VIRT_PT : SEVMON__V1__ADDR_SPACE__ADDR_SPACE_VIRT;
}

static void wire_pt(const struct ids_gmem *m, Sevmon__V1__PageTables *pt)
{
	sevmon__v1__page_tables__init(pt);
	pt->root = m->pt_root;
	pt->levels = m->pt_levels;
	pt->c_bit_mask = m->pt_cbit;
}

/* Send one Gather of r[0..n) (answered into gw); the request is encoded at once. */
static int gather_submit(struct ids_gmem *m, struct gmem_range *r, size_t n, struct gather_wait *gw)
{
	Sevmon__V1__Range *ranges = calloc(n ? n : 1, sizeof *ranges);
	Sevmon__V1__Range **rp = calloc(n ? n : 1, sizeof *rp);
	int rc = SEVMON_ENOMEM;
	*gw = (struct gather_wait){ .r = r, .n = n };
	if (!ranges || !rp)
		goto out;
	for (size_t i = 0; i < n; i++) {
		sevmon__v1__range__init(&ranges[i]);
		ranges[i].addr = r[i].addr;
		ranges[i].len = r[i].len;
		ranges[i].space = wire_space(m, r[i].space);
		rp[i] = &ranges[i];
		r[i].status = SEVMON_EIO;
	}
	Sevmon__V1__GatherRequest req = SEVMON__V1__GATHER_REQUEST__INIT;
	req.n_ranges = n;
	req.ranges = rp;
	Sevmon__V1__PageTables pt;
	if (m->pt_on) {
		wire_pt(m, &pt);
		req.pt = &pt;
	}
	rc = sevmon_agent_gather(m->conn->rpc, &req, m->timeout_ms, on_gather, gw);
out:
	free(ranges);
	free(rp);
	return rc;
}

static int agent_gather(void *ctx, struct gmem_range *r, size_t n)
{
	struct ids_gmem *m = ctx;
	struct gather_wait gw;
	int rc = gather_submit(m, r, n, &gw);
	if (rc == 0)
		rc = ids_conn_wait(m->conn, &gw.w.done);
	if (rc == 0)
		rc = gw.w.status;
	return rc;
}

/* ---- WalkList ---- */

struct walk_wait {
	struct sync_wait w;
	const struct gmem_walk_req *req;
	struct gmem_walk_out *out;
	size_t stride;
	uint32_t deref_mask; /* the windows that deref: the only ones that may fault */
};

static void on_walk(void *user, int status, const char *errmsg, Sevmon__V1__WalkListResponse *wl)
{
	struct walk_wait *ww = user;
	wait_set(&ww->w, status, errmsg);
	if (status)
		return;
	if (wl->n_nodes > ww->req->max_nodes) {
		ww->w.status = SEVMON_EPROTO;
		return;
	}
	for (size_t i = 0; i < wl->n_nodes; i++) {
		if (wl->nodes[i]->fields.len != ww->stride) {
			ww->w.status = SEVMON_EPROTO;
			return;
		}
		if (wl->nodes[i]->faults & ~ww->deref_mask) {
			ww->w.status = SEVMON_EPROTO; /* a fault on a window that does not deref */
			return;
		}
		ww->out->nodes[i] = wl->nodes[i]->addr;
		if (ww->out->faults) /* given whenever deref_mask != 0 (gmem_walk checks) */
			ww->out->faults[i] = wl->nodes[i]->faults;
		if (ww->stride)
			memcpy(ww->out->data + i * ww->stride, wl->nodes[i]->fields.data, ww->stride);
	}
	ww->out->n = wl->n_nodes;
	ww->out->stop = wl->stop;
	ww->out->status = wl->status;
}

/* Send one WalkList (answered into ww). EUNMETHOD-free: 1 when the walk must be done with
 * gathers instead (deref windows to an agent that does not serve them). */
static int walk_submit(struct ids_gmem *m, const struct gmem_walk_req *req, struct gmem_walk_out *out,
		       struct walk_wait *ww)
{
	/* The agent visits at most max_walk_nodes: a longer list stops there (MAX_NODES) and
	 * the caller reports it as partial, which is what such a list is. */
	size_t max_nodes = req->max_nodes;
	if (m->max_walk_nodes && max_nodes > m->max_walk_nodes)
		max_nodes = m->max_walk_nodes;
	Sevmon__V1__FieldWindow win[GMEM_WALK_MAX_WINDOWS], *wp[GMEM_WALK_MAX_WINDOWS];
	uint32_t deref_mask = 0;
	for (size_t i = 0; i < req->nwin; i++) {
		sevmon__v1__field_window__init(&win[i]);
		win[i].offset = req->win[i].off;
		win[i].len = req->win[i].len;
		win[i].deref = req->win[i].deref;
		win[i].deref_offset = req->win[i].deref_off;
		win[i].deref_len = req->win[i].deref_len;
		deref_mask |= req->win[i].deref ? 1u << i : 0;
		wp[i] = &win[i];
	}
	/* An agent that did not advertise deref windows would skip the fields it does not
	 * know and answer without the derefs: emulate them with gathers instead. */
	if (deref_mask && !m->pt_walk)
		return 1;
	Sevmon__V1__WalkListRequest wr = SEVMON__V1__WALK_LIST_REQUEST__INIT;
	wr.head = req->head;
	wr.next_offset = req->next_off;
	wr.link_offset = req->link_off;
	wr.n_fields = req->nwin;
	wr.fields = wp;
	wr.max_nodes = (uint32_t)max_nodes;
	wr.space = wire_space(m, req->space);
	Sevmon__V1__PageTables pt;
	if (m->pt_on) {
		wire_pt(m, &pt);
		wr.pt = &pt;
	}
	*ww = (struct walk_wait){ .req = req, .out = out, .stride = gmem_walk_stride(req),
		.deref_mask = deref_mask };
	return sevmon_agent_walk_list(m->conn->rpc, &wr, m->timeout_ms, on_walk, ww);
}

static int agent_walk(void *ctx, const struct gmem_walk_req *req, struct gmem_walk_out *out)
{
	struct ids_gmem *m = ctx;
	struct walk_wait ww;
	int rc = walk_submit(m, req, out, &ww);
	if (rc == 1) {
		m->g.trips--; /* gmem_walk counted a WalkList that is not sent */
		m->g.rounds--;
		return gmem_walk_generic(&m->g, req, out);
	}
	if (rc == 0)
		rc = ids_conn_wait(m->conn, &ww.w.done);
	if (rc == 0)
		rc = ww.w.status;
	if (rc == SEVMON_EUNMETHOD) /* an older agent without WalkList */
		return gmem_walk_generic(&m->g, req, out);
	return rc;
}

/* ---- Hash ---- */

struct hash_wait {
	struct sync_wait w;
	struct gmem_hash *h;
	size_t n;
};

static void on_hash(void *user, int status, const char *errmsg, Sevmon__V1__HashResponse *hr)
{
	struct hash_wait *hw = user;
	wait_set(&hw->w, status, errmsg);
	if (status)
		return;
	if (hr->n_results != hw->n) {
		hw->w.status = SEVMON_EPROTO;
		return;
	}
	for (size_t i = 0; i < hw->n; i++) {
		const Sevmon__V1__HashResult *res = hr->results[i];
		struct gmem_hash *h = &hw->h[i];
		if (res->status < 0)
			h->status = res->status;
		else if (res->status > 0 || res->digests.len != gmem_hash_count(h) * MEM_DIGEST_LEN)
			h->status = SEVMON_EPROTO;
		else {
			memcpy(h->out, res->digests.data, res->digests.len);
			h->status = 0;
		}
	}
}

/* One Hash request of h[0..n) (within a request's bounds: gmem_hash splits). */
static int hash_submit(struct ids_gmem *m, struct gmem_hash *h, size_t n, struct hash_wait *hw)
{
	Sevmon__V1__Range ranges[GMEM_HASH_MAX_RANGES], *rp[GMEM_HASH_MAX_RANGES];
	uint32_t leaf = n ? h[0].leaf : 0, group = n ? h[0].group : 0;
	*hw = (struct hash_wait){ .h = h, .n = n };
	if (n > GMEM_HASH_MAX_RANGES)
		return SEVMON_ETOOBIG;
	for (size_t i = 0; i < n; i++) {
		if (h[i].leaf != leaf || h[i].group != group)
			return SEVMON_EINVAL; /* one request has one shape: the caller splits */
		sevmon__v1__range__init(&ranges[i]);
		ranges[i].addr = h[i].addr;
		ranges[i].len = h[i].len;
		ranges[i].space = wire_space(m, h[i].space);
		rp[i] = &ranges[i];
		h[i].status = SEVMON_EIO;
	}
	Sevmon__V1__HashRequest req = SEVMON__V1__HASH_REQUEST__INIT;
	req.n_ranges = n;
	req.ranges = rp;
	req.leaf_size = leaf;
	req.group = group;
	Sevmon__V1__PageTables pt;
	if (m->pt_on) {
		wire_pt(m, &pt);
		req.pt = &pt;
	}
	return sevmon_agent_hash(m->conn->rpc, &req, m->timeout_ms, on_hash, hw);
}

static int agent_hash(void *ctx, struct gmem_hash *h, size_t n)
{
	struct ids_gmem *m = ctx;
	for (size_t i = 0; i < n;) {
		size_t k = gmem_hash_batch(h + i, n - i);
		struct hash_wait hw;
		int rc = hash_submit(m, h + i, k, &hw);
		if (rc == 0)
			rc = ids_conn_wait(m->conn, &hw.w.done);
		if (rc == 0)
			rc = hw.w.status;
		if (rc < 0)
			return rc;
		i += k;
	}
	return 0;
}

/* ---- a round: every request in flight at once ---- */

/* The answer of one request of a round: its own error (the agent refused it) stays with
 * its items; a lost connection is the round's. */
static int round_wait(struct ids_gmem *m, struct sync_wait *w)
{
	int rc = ids_conn_wait(m->conn, &w->done);
	if (rc < 0 || m->conn->lost)
		return rc < 0 ? rc : m->conn->lost;
	return 0;
}

static int agent_round(void *ctx, struct gmem_range *r, size_t nr, const size_t *bounds, size_t nb,
		       struct gmem_walk_job *w, size_t nw, struct gmem_hash *h, size_t nh)
{
	struct ids_gmem *m = ctx;
	size_t nhr = 0;
	for (size_t i = 0; i < nh; i += gmem_hash_batch(h + i, nh - i))
		nhr++;
	struct gather_wait *gw = calloc(nb + 1, sizeof *gw);
	struct walk_wait *ww = calloc(nw + 1, sizeof *ww);
	struct hash_wait *hw = calloc(nhr + 1, sizeof *hw);
	int *how = calloc(nw + 1, sizeof *how); /* walk i: 0 sent, 1 by gathers, < 0 not sent */
	int rc = SEVMON_ENOMEM;
	size_t sg = 0, sh = 0;
	if (!gw || !ww || !hw || !how)
		goto out;
	rc = 0;
	/* send everything; a request the client refuses (its own limits) fails its items */
	for (; sg < nb; sg++) {
		size_t end = sg + 1 < nb ? bounds[sg + 1] : nr;
		int st = gather_submit(m, r + bounds[sg], end - bounds[sg], &gw[sg]);
		if (st < 0) {
			gw[sg].w.done = 1;
			gw[sg].w.status = st;
		}
	}
	for (size_t i = 0; i < nw; i++) {
		how[i] = walk_submit(m, w[i].req, w[i].out, &ww[i]);
		if (how[i] < 0) {
			ww[i].w.done = 1;
			ww[i].w.status = how[i];
		}
	}
	for (size_t i = 0, k; i < nh; i += k) {
		k = gmem_hash_batch(h + i, nh - i);
		int st = hash_submit(m, h + i, k, &hw[sh]);
		if (st < 0) {
			hw[sh].w.done = 1;
			hw[sh].w.status = st;
		}
		sh++;
	}
	/* then wait for all of them: they travel together */
	for (size_t k = 0; k < sg && rc == 0; k++) {
		if ((rc = round_wait(m, &gw[k].w)) == 0 && gw[k].w.status < 0)
			for (size_t i = 0; i < gw[k].n; i++) /* the agent refused this gather */
				gw[k].r[i].status = gw[k].w.status;
	}
	for (size_t i = 0; i < nw && rc == 0; i++) {
		if (how[i] == 1)
			continue;
		if ((rc = round_wait(m, &ww[i].w)) == 0)
			w[i].status = ww[i].w.status;
	}
	for (size_t k = 0; k < sh && rc == 0; k++) {
		if ((rc = round_wait(m, &hw[k].w)) == 0 && hw[k].w.status < 0)
			for (size_t i = 0; i < hw[k].n; i++)
				hw[k].h[i].status = hw[k].w.status;
	}
	/* walks the agent cannot do (deref windows without pt_walk, or an agent without
	 * WalkList): with gathers, after the round */
	for (size_t i = 0; i < nw && rc == 0; i++) {
		if (how[i] == 1 || w[i].status == SEVMON_EUNMETHOD) {
			w[i].status = gmem_walk_generic(&m->g, w[i].req, w[i].out);
			if (m->conn->lost)
				rc = m->conn->lost;
		}
	}
out:
	free(gw);
	free(ww);
	free(hw);
	free(how);
	return rc;
}

static int agent_scan(void *ctx, uint64_t from, const void *pattern, size_t plen, uint32_t align,
		      uint64_t *hits, size_t max);
static const struct gmem_ops agent_gmem_ops = { .gather = agent_gather, .walk = agent_walk,
	.scan = agent_scan, .hash = agent_hash, .round = agent_round };

void ids_gmem_init(struct ids_gmem *m, struct ids_conn *c, const struct ids_agent_info *info)
{
	memset(m, 0, sizeof *m);
	m->conn = c;
	m->info = info;
	m->timeout_ms = c->request_timeout_ms;
	m->max_walk_nodes = info->max_walk_nodes;
	m->pt_walk = info->pt_walk;
	m->g.ops = &agent_gmem_ops;
	m->g.ctx = m;
	m->g.virt = info->virt;
	m->g.max_ranges = info->max_ranges;
	m->g.max_bytes = info->max_gather_bytes;
}

int ids_gmem_use_pagetables(struct ids_gmem *m, const struct ids_agent_info *info, uint64_t root,
			    uint32_t levels, uint64_t cbit)
{
	if (!info->pt_walk)
		return SEVMON_ENOTSUP;
	if ((levels != 4 && levels != 5) || (root & 4095u))
		return SEVMON_EINVAL;
	m->pt_on = 1;
	m->pt_root = root;
	m->pt_levels = levels;
	m->pt_cbit = cbit;
	m->g.virt = 1;
	return 0;
}

/* ---- Scan ---- */

struct scan_wait {
	struct sync_wait w;
	uint64_t *hits;
	size_t max, n;
};

static void on_scan(void *user, int status, const char *errmsg, Sevmon__V1__ScanResponse *s)
{
	struct scan_wait *sw = user;
	wait_set(&sw->w, status, errmsg);
	if (status)
		return;
	for (size_t i = 0; i < s->n_hits && sw->n < sw->max; i++)
		sw->hits[sw->n++] = s->hits[i];
}

static int agent_scan(void *ctx, uint64_t from, const void *pattern, size_t plen, uint32_t align,
		      uint64_t *hits, size_t max)
{
	struct ids_gmem *m = ctx;
	const struct ids_agent_info *info = m->info;
	Sevmon__V1__Range ranges[64], *rp[64];
	size_t n = 0;
	/* Scan ranges carry 32-bit lengths: a big region becomes several 1 GiB pieces. */
	for (size_t i = 0; i < info->nregions; i++) {
		uint64_t rs = info->region_start[i], re = rs + info->region_size[i];
		if (re <= from)
			continue;
		if (rs < from)
			rs = from;
		for (uint64_t off = 0; off < re - rs && n < 64; off += 1ull << 30) {
			uint64_t left = re - rs - off;
			sevmon__v1__range__init(&ranges[n]);
			ranges[n].addr = rs + off;
			ranges[n].len = (uint32_t)(left < (1ull << 30) ? left : (1ull << 30));
			rp[n] = &ranges[n];
			n++;
		}
	}
	Sevmon__V1__ScanRequest req = SEVMON__V1__SCAN_REQUEST__INIT;
	req.pattern.data = (uint8_t *)pattern;
	req.pattern.len = plen;
	req.n_ranges = n;
	req.ranges = rp;
	req.align = align;
	req.max_hits = (uint32_t)max;
	struct scan_wait sw = { .hits = hits, .max = max };
	int rc = sevmon_agent_scan(m->conn->rpc, &req, m->timeout_ms, on_scan, &sw);
	if (rc == 0)
		rc = ids_conn_wait(m->conn, &sw.w.done);
	if (rc == 0)
		rc = sw.w.status;
	return rc < 0 ? rc : (int)sw.n;
}
