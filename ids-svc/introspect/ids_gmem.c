#include "ids_gmem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
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

static int agent_gather(void *ctx, struct gmem_range *r, size_t n)
{
	struct ids_gmem *m = ctx;
	Sevmon__V1__Range *ranges = calloc(n ? n : 1, sizeof *ranges);
	Sevmon__V1__Range **rp = calloc(n ? n : 1, sizeof *rp);
	int rc = SEVMON_ENOMEM;
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
	struct gather_wait gw = { .r = r, .n = n };
	rc = sevmon_agent_gather(m->conn->rpc, &req, m->timeout_ms, on_gather, &gw);
	if (rc == 0)
		rc = ids_conn_wait(m->conn, &gw.w.done);
	if (rc == 0)
		rc = gw.w.status;
out:
	free(ranges);
	free(rp);
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

static int agent_walk(void *ctx, const struct gmem_walk_req *req, struct gmem_walk_out *out)
{
	struct ids_gmem *m = ctx;
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
	Sevmon__V1__WalkListRequest wr = SEVMON__V1__WALK_LIST_REQUEST__INIT;
	wr.head = req->head;
	wr.next_offset = req->next_off;
	wr.link_offset = req->link_off;
	wr.n_fields = req->nwin;
	wr.fields = wp;
	wr.max_nodes = (uint32_t)max_nodes;
	if (deref_mask && !m->pt_walk) {
		/* An agent that did not advertise deref windows would skip the fields it does not
		 * know and answer without the derefs: emulate them with gathers instead. */
		m->g.trips--; /* gmem_walk counted a WalkList that is not sent */
		return gmem_walk_generic(&m->g, req, out);
	}
	wr.space = wire_space(m, req->space);
	Sevmon__V1__PageTables pt;
	if (m->pt_on) {
		wire_pt(m, &pt);
		wr.pt = &pt;
	}
	struct walk_wait ww = { .req = req, .out = out, .stride = gmem_walk_stride(req),
		.deref_mask = deref_mask };
	int rc = sevmon_agent_walk_list(m->conn->rpc, &wr, m->timeout_ms, on_walk, &ww);
	if (rc == 0)
		rc = ids_conn_wait(m->conn, &ww.w.done);
	if (rc == 0)
		rc = ww.w.status;
	if (rc == SEVMON_EUNMETHOD) /* an older agent without WalkList */
		return gmem_walk_generic(&m->g, req, out);
	return rc;
}


static int agent_scan(void *ctx, uint64_t from, const void *pattern, size_t plen, uint32_t align,
		      uint64_t *hits, size_t max);
static const struct gmem_ops agent_gmem_ops = { agent_gather, agent_walk, agent_scan };

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
