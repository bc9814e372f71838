/*
 * agent_handlers.c — the methods of service sevmon.v1.Agent, over a memory source.
 *
 * Bounds every handler enforces (constants in agent.h):
 *   ReadPhys/ReadVirt  len <= AGENT_MAX_READ; all bytes or an error, never zero-filled.
 *   Gather             <= AGENT_MAX_RANGES ranges (decoder), each <= AGENT_MAX_READ, all
 *                      of them within the arena budget; a range that fails carries its own
 *                      status and the others still succeed.
 *   WalkList           <= AGENT_MAX_WALK_NODES nodes, <= AGENT_MAX_WALK_FIELDS windows of
 *                      <= AGENT_MAX_WALK_WINDOW bytes; a visited set stops cycles; the
 *                      arena budget stops the walk with WALK_STOP_BUDGET; the request's
 *                      deadline is checked while walking. A deref window (len 8) adds
 *                      <= AGENT_MAX_WALK_WINDOW bytes read at the pointer it holds; a deref
 *                      that fails is zero-filled and flagged in WalkNode.faults.
 *   Hash               <= AGENT_MAX_HASH_BYTES hashed and <= AGENT_MAX_HASH_DIGESTS
 *                      digests per request (checked before any read), one leaf read at a
 *                      time into the arena; a range with an unreadable leaf carries its own
 *                      status; the request's deadline is checked per leaf.
 *   VIRT_PT            (Gather, WalkList, Hash) translation through the request's page tables:
 *                      <= 5 entry reads per page, cached for the request (agent_pagewalk.h).
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pb_encode.h>

#include "agent.h"
#include "agent_dispatch.h"
#include "clock.h"
#include "err.h"
#include "mem_digest.h"
#include "rbuf.h"
#include "sevmon.pb.h"
#include "sevmon.sevrpc-agent.h"

#ifndef SEVMON_VERSION
#define SEVMON_VERSION "0"
#endif

/* ---- arena: where reply bytes wait for the encoder ---- */

static void *arena_alloc(struct agent *a, size_t n)
{
	size_t off = (a->arena_used + 15u) & ~(size_t)15u;
	if (off > AGENT_ARENA_BYTES || AGENT_ARENA_BYTES - off < n)
		return NULL;
	a->arena_used = off + n;
	return a->arena + off;
}

static size_t arena_left(const struct agent *a)
{
	return AGENT_ARENA_BYTES - a->arena_used;
}

struct bytes_ref {
	const uint8_t *p;
	size_t n;
};

static bool encode_bytes_ref(pb_ostream_t *s, const pb_field_t *f, void *const *arg)
{
	const struct bytes_ref *b = *arg;
	return pb_encode_tag_for_field(s, f) && pb_encode_string(s, b->p, b->n);
}

static void call_error(struct agent_call *call, const char *fmt, uint64_t a, uint64_t b)
{
	if (call->errmsg && call->errcap)
		snprintf(call->errmsg, call->errcap, fmt, a, b);
}

/* space is a sevmon_v1_AddrSpace; VIRT_PT needs the request's page tables (pt_setup). */
static int read_space(struct agent *a, int space, uint64_t addr, void *buf, size_t len)
{
	switch (space) {
	case sevmon_v1_AddrSpace_ADDR_SPACE_PHYS:
		return mem_read_phys(a->mem, addr, buf, len);
	case sevmon_v1_AddrSpace_ADDR_SPACE_VIRT:
		return mem_read_virt(a->mem, addr, buf, len);
	case sevmon_v1_AddrSpace_ADDR_SPACE_VIRT_PT:
		return a->pt_ok ? agent_pt_read(&a->pt, addr, buf, len) : SEVMON_EINVAL;
	default:
		return SEVMON_EINVAL;
	}
}

/* Take the request's page tables, if it has any; a request that names VIRT_PT without
 * usable ones is refused whole. */
static int pt_setup(struct agent_call *call, bool has, const sevmon_v1_PageTables *pt, int needed)
{
	struct agent *a = call->agent;
	a->pt_ok = 0;
	if (!has || pt->levels == 0) {
		if (needed)
			call_error(call, "address space VIRT_PT needs page tables (root %" PRIu64
					 ", levels %" PRIu64 ")", has ? pt->root : 0, has ? pt->levels : 0);
		return needed ? SEVMON_EINVAL : 0;
	}
	int rc = agent_pt_setup(&a->pt, a->mem, pt->root, pt->levels, pt->c_bit_mask);
	if (rc < 0) {
		call_error(call, "bad page tables: root 0x%" PRIx64 ", %" PRIu64 " levels", pt->root,
			   pt->levels);
		return rc;
	}
	a->pt_ok = 1;
	return 0;
}

static int deadline_passed(const struct agent_call *call)
{
	const struct agent_request *r = call->req;
	if (!r || r->deadline_ms == 0)
		return 0;
	return ((uint64_t)clock_mono_ns()) - r->received_ns > (uint64_t)r->deadline_ms * 1000000u;
}

/* ---- GetInfo ---- */

int agent_handle_get_info(struct agent_call *call, const sevmon_v1_GetInfoRequest *req,
			  sevmon_v1_GetInfoResponse *resp)
{
	struct agent *a = call->agent;
	const struct mem_region *regions;
	size_t n = 0;

	(void)req;
	snprintf(resp->agent_version, sizeof resp->agent_version, "sevmon-agent %s", SEVMON_VERSION);
	resp->protocol_version = AGENT_PROTOCOL_VERSION;
	snprintf(resp->memory_source, sizeof resp->memory_source, "%s", mem_kind(a->mem));
	if (mem_regions(a->mem, &regions, &n) == 0) {
		size_t cap = sizeof resp->phys_regions / sizeof resp->phys_regions[0];
		if (n > cap)
			n = cap; /* GetInfo is informative; reads are checked against the source */
		for (size_t i = 0; i < n; i++) {
			resp->phys_regions[i].start = regions[i].start;
			resp->phys_regions[i].size = regions[i].size;
		}
		resp->phys_regions_count = (pb_size_t)n;
	}
	resp->virt_supported = strcmp(mem_kind(a->mem), "kcore") == 0;
	resp->max_read = AGENT_MAX_READ;
	resp->max_ranges = AGENT_MAX_RANGES;
	resp->max_gather_bytes = AGENT_MAX_GATHER_BYTES;
	resp->max_walk_nodes = AGENT_MAX_WALK_NODES;
	size_t mcap = sizeof resp->methods / sizeof resp->methods[0];
	for (size_t i = 0; i < a->nmethods && i < mcap; i++)
		resp->methods[resp->methods_count++] = a->method_ids[i];
	resp->vmcoreinfo_phys = a->vmcoreinfo_phys;
	resp->vmcoreinfo_size = a->vmcoreinfo_size;
	resp->pt_walk_supported = true;
	return 0;
}

/* ---- ReadPhys / ReadVirt ---- */

static int handle_read(struct agent_call *call, int space, uint64_t addr, uint32_t len,
		       sevmon_v1_ReadResponse *resp)
{
	struct agent *a = call->agent;
	if (len > AGENT_MAX_READ) {
		call_error(call, "read of %" PRIu64 " bytes exceeds the limit of %" PRIu64, len,
			   AGENT_MAX_READ);
		return SEVMON_ETOOBIG;
	}
	struct bytes_ref *ref = arena_alloc(a, sizeof *ref);
	uint8_t *buf = arena_alloc(a, len);
	if (!ref || !buf)
		return SEVMON_ETOOBIG;
	int rc = read_space(a, space, addr, buf, len);
	if (rc < 0) {
		call_error(call, "cannot read 0x%" PRIx64 "+%" PRIu64, addr, len);
		return rc;
	}
	ref->p = buf;
	ref->n = len;
	resp->data.funcs.encode = encode_bytes_ref;
	resp->data.arg = ref;
	return 0;
}

int agent_handle_read_phys(struct agent_call *call, const sevmon_v1_ReadPhysRequest *req,
			   sevmon_v1_ReadResponse *resp)
{
	return handle_read(call, sevmon_v1_AddrSpace_ADDR_SPACE_PHYS, req->addr, req->len, resp);
}

int agent_handle_read_virt(struct agent_call *call, const sevmon_v1_ReadVirtRequest *req,
			   sevmon_v1_ReadResponse *resp)
{
	return handle_read(call, sevmon_v1_AddrSpace_ADDR_SPACE_VIRT, req->addr, req->len, resp);
}

/* ---- Gather ---- */

struct gather_item {
	uint64_t addr;
	const uint8_t *data;
	uint32_t len;
	int32_t status;
};

struct gather_list {
	struct gather_item *items;
	size_t n;
};

static bool encode_gather_results(pb_ostream_t *s, const pb_field_t *f, void *const *arg)
{
	const struct gather_list *gl = *arg;
	for (size_t i = 0; i < gl->n; i++) {
		const struct gather_item *it = &gl->items[i];
		sevmon_v1_RangeResult rr = sevmon_v1_RangeResult_init_zero;
		struct bytes_ref ref = { it->data, it->len };
		rr.status = it->status;
		if (it->status == 0) {
			rr.data.funcs.encode = encode_bytes_ref;
			rr.data.arg = &ref;
		} else {
			snprintf(rr.error, sizeof rr.error, "0x%" PRIx64 "+%" PRIu32 ": %s", it->addr,
				 it->len, sevmon_strerror(it->status));
		}
		if (!pb_encode_tag_for_field(s, f) ||
		    !pb_encode_submessage(s, sevmon_v1_RangeResult_fields, &rr))
			return false;
	}
	return true;
}

int agent_handle_gather(struct agent_call *call, const sevmon_v1_GatherRequest *req,
			sevmon_v1_GatherResponse *resp)
{
	struct agent *a = call->agent;
	uint64_t total = 0;
	int needs_pt = 0;

	for (size_t i = 0; i < req->ranges_count; i++) {
		if (req->ranges[i].len <= AGENT_MAX_READ)
			total += (uint64_t)req->ranges[i].len + AGENT_REPLY_OVERHEAD;
		needs_pt |= req->ranges[i].space == sevmon_v1_AddrSpace_ADDR_SPACE_VIRT_PT;
	}
	int prc = pt_setup(call, req->has_pt, &req->pt, needs_pt);
	if (prc < 0)
		return prc;
	if (total > AGENT_ARENA_BYTES - 4096u) {
		call_error(call, "gather asks for %" PRIu64 " bytes; the limit is %" PRIu64
				 " per request: split it", total, AGENT_ARENA_BYTES);
		return SEVMON_ETOOBIG;
	}
	struct gather_list *gl = arena_alloc(a, sizeof *gl);
	struct gather_item *items = arena_alloc(a, (req->ranges_count + 1) * sizeof *items);
	if (!gl || !items)
		return SEVMON_ETOOBIG;
	for (size_t i = 0; i < req->ranges_count; i++) {
		const sevmon_v1_Range *r = &req->ranges[i];
		struct gather_item *it = &items[i];
		it->addr = r->addr;
		it->len = r->len;
		it->data = NULL;
		if (r->len > AGENT_MAX_READ) {
			it->status = SEVMON_ETOOBIG;
			continue;
		}
		uint8_t *buf = arena_alloc(a, r->len);
		if (!buf) {
			it->status = SEVMON_ETOOBIG;
			continue;
		}
		int rc = read_space(a, r->space, r->addr, buf, r->len);
		it->status = rc < 0 ? rc : 0;
		it->data = rc < 0 ? NULL : buf;
	}
	gl->items = items;
	gl->n = req->ranges_count;
	resp->results.funcs.encode = encode_gather_results;
	resp->results.arg = gl;
	return 0;
}

/* ---- WalkList ---- */

struct walk_node {
	uint64_t addr;
	const uint8_t *fields;
	uint32_t len;
	uint32_t faults;
};

struct walk_list {
	struct walk_node *nodes;
	size_t n;
};

static bool encode_walk_nodes(pb_ostream_t *s, const pb_field_t *f, void *const *arg)
{
	const struct walk_list *wl = *arg;
	for (size_t i = 0; i < wl->n; i++) {
		sevmon_v1_WalkNode wn = sevmon_v1_WalkNode_init_zero;
		struct bytes_ref ref = { wl->nodes[i].fields, wl->nodes[i].len };
		wn.addr = wl->nodes[i].addr;
		wn.faults = wl->nodes[i].faults;
		wn.fields.funcs.encode = encode_bytes_ref;
		wn.fields.arg = &ref;
		if (!pb_encode_tag_for_field(s, f) ||
		    !pb_encode_submessage(s, sevmon_v1_WalkNode_fields, &wn))
			return false;
	}
	return true;
}

_Static_assert(AGENT_MAX_WALK_FIELDS <= 32, "WalkNode.faults has one bit per window");

#define WALK_SET_SLOTS (2u * AGENT_MAX_WALK_NODES)

/* Returns 1 if v was already in the set, 0 after inserting it. The set never fills:
 * it has twice as many slots as a walk may insert. 0 is never inserted (NULL stops). */
static int walk_seen_insert(uint64_t *set, uint64_t v)
{
	uint64_t h = v * 0x9e3779b97f4a7c15ull;
	for (uint32_t i = (uint32_t)(h >> 40) % WALK_SET_SLOTS;; i = (i + 1) % WALK_SET_SLOTS) {
		if (set[i] == v)
			return 1;
		if (set[i] == 0) {
			set[i] = v;
			return 0;
		}
	}
}

static void walk_stop(sevmon_v1_WalkListResponse *resp, sevmon_v1_WalkStop why, int status,
		      uint64_t addr)
{
	resp->stop = why;
	resp->status = status;
	if (status)
		snprintf(resp->error, sizeof resp->error, "at 0x%" PRIx64 ": %s", addr,
			 sevmon_strerror(status));
}

/* Largest span of a node read at once by a walk: a page, which holds the fields a list
 * walk asks for in every struct it is used on (task_struct, module). */
#define AGENT_WALK_SPAN_MAX 4096u

int agent_handle_walk_list(struct agent_call *call, const sevmon_v1_WalkListRequest *req,
			   sevmon_v1_WalkListResponse *resp)
{
	struct agent *a = call->agent;
	int space = req->space;
	uint32_t node_bytes = 0;

	for (size_t i = 0; i < req->fields_count; i++) {
		const sevmon_v1_FieldWindow *fw = &req->fields[i];
		if (fw->len > AGENT_MAX_WALK_WINDOW || (fw->deref && fw->deref_len > AGENT_MAX_WALK_WINDOW)) {
			call_error(call, "field window of %" PRIu64 " bytes exceeds %" PRIu64,
				   fw->len > fw->deref_len ? fw->len : fw->deref_len, AGENT_MAX_WALK_WINDOW);
			return SEVMON_ETOOBIG;
		}
		if (fw->deref && fw->len != 8) {
			call_error(call, "deref window %" PRIu64 " holds %" PRIu64 " bytes, not a pointer",
				   i, fw->len);
			return SEVMON_EINVAL;
		}
		node_bytes += fw->len + (fw->deref ? fw->deref_len : 0);
	}
	int prc = pt_setup(call, req->has_pt, &req->pt,
			   space == sevmon_v1_AddrSpace_ADDR_SPACE_VIRT_PT);
	if (prc < 0)
		return prc;
	if (req->next_offset > UINT32_MAX - 8u)
		return SEVMON_EINVAL;
	uint32_t max_nodes = req->max_nodes;
	if (max_nodes == 0 || max_nodes > AGENT_MAX_WALK_NODES)
		max_nodes = AGENT_MAX_WALK_NODES;

	struct walk_list *wl = arena_alloc(a, sizeof *wl);
	struct walk_node *nodes = arena_alloc(a, (size_t)max_nodes * sizeof *nodes);
	if (!wl || !nodes)
		return SEVMON_ETOOBIG;
	wl->nodes = nodes;
	wl->n = 0;
	memset(a->walk_seen, 0, WALK_SET_SLOTS * sizeof *a->walk_seen);
	resp->nodes.funcs.encode = encode_walk_nodes;
	resp->nodes.arg = wl;

	/* The span of a node's own windows and next pointer, relative to the node base. */
	static uint8_t span[AGENT_WALK_SPAN_MAX];
	uint64_t span_lo = req->link_offset + (uint64_t)req->next_offset, span_hi = span_lo + 8;
	for (size_t i = 0; i < req->fields_count; i++) {
		const sevmon_v1_FieldWindow *fw = &req->fields[i];
		span_lo = fw->offset < span_lo ? fw->offset : span_lo;
		uint64_t end = (uint64_t)fw->offset + fw->len; /* u32 + u32: no wrap in u64 */
		span_hi = end > span_hi ? end : span_hi;
	}
	size_t span_len = span_hi - span_lo <= sizeof span ? (size_t)(span_hi - span_lo) : 0;

	uint64_t link = 0;
	int rc = read_space(a, space, req->head + req->next_offset, &link, sizeof link);
	if (rc < 0) {
		call_error(call, "cannot read the list head at 0x%" PRIx64 " + %" PRIu64, req->head,
			   req->next_offset);
		return rc;
	}
	for (;;) {
		if (link == req->head) {
			walk_stop(resp, sevmon_v1_WalkStop_WALK_STOP_HEAD, 0, link);
			break;
		}
		if (link == 0) {
			walk_stop(resp, sevmon_v1_WalkStop_WALK_STOP_NULL, 0, link);
			break;
		}
		if (wl->n >= max_nodes) {
			walk_stop(resp, sevmon_v1_WalkStop_WALK_STOP_MAX_NODES, 0, link);
			break;
		}
		if (walk_seen_insert(a->walk_seen, link)) {
			walk_stop(resp, sevmon_v1_WalkStop_WALK_STOP_CYCLE, 0, link);
			break;
		}
		if ((wl->n & 255u) == 255u && deadline_passed(call))
			return SEVMON_ETIMEDOUT;
		if (arena_left(a) < (size_t)node_bytes + AGENT_REPLY_OVERHEAD + 16u) {
			walk_stop(resp, sevmon_v1_WalkStop_WALK_STOP_BUDGET, 0, link);
			break;
		}
		uint64_t base = link - req->link_offset;
		uint8_t *fields = arena_alloc(a, node_bytes);
		uint32_t off = 0, faults = 0;
		/* The node's own windows and its next pointer in one read when they lie close
		 * together (a source read is a system call: for kcore, one per pread); if that
		 * read fails, each window is read alone, so a fault means what it always did. */
		int have_span = span_len && read_space(a, space, base + span_lo, span, span_len) == 0;
		for (size_t i = 0; i < req->fields_count && rc == 0; i++) {
			const sevmon_v1_FieldWindow *fw = &req->fields[i];
			if (have_span)
				memcpy(fields + off, span + (fw->offset - span_lo), fw->len);
			else
				rc = read_space(a, space, base + fw->offset, fields + off, fw->len);
			off += fw->len;
			if (rc < 0 || !fw->deref)
				continue;
			/* The node is sound (its window was read); only what it points at is not:
			 * zero-fill, flag, go on. */
			uint64_t p = load_le64(fields + off - 8);
			if (p == 0 || read_space(a, space, p + fw->deref_offset, fields + off,
						 fw->deref_len) < 0) {
				memset(fields + off, 0, fw->deref_len);
				faults |= 1u << i;
			}
			off += fw->deref_len;
		}
		uint64_t next = 0;
		if (rc == 0 && have_span)
			next = load_le64(span + (req->link_offset + req->next_offset - span_lo));
		else if (rc == 0)
			rc = read_space(a, space, link + req->next_offset, &next, sizeof next);
		if (rc < 0) {
			walk_stop(resp, sevmon_v1_WalkStop_WALK_STOP_FAULT, rc, base);
			break;
		}
		nodes[wl->n].addr = base;
		nodes[wl->n].fields = fields;
		nodes[wl->n].len = node_bytes;
		nodes[wl->n].faults = faults;
		wl->n++;
		link = next;
	}
	return 0;
}

/* ---- Scan ---- */

static int scan_stop(void *call)
{
	return deadline_passed(call) ? SEVMON_ETIMEDOUT : 0;
}

int agent_handle_scan(struct agent_call *call, const sevmon_v1_ScanRequest *req,
		      sevmon_v1_ScanResponse *resp)
{
	struct agent *a = call->agent;
	size_t plen = req->pattern.size;
	uint64_t align = req->align ? req->align : 1, total = 0;
	uint32_t max_hits = req->max_hits;

	if (plen == 0)
		return SEVMON_EINVAL;
	if (max_hits == 0 || max_hits > AGENT_MAX_SCAN_HITS)
		max_hits = AGENT_MAX_SCAN_HITS;
	for (size_t i = 0; i < req->ranges_count; i++) {
		if (req->ranges[i].space != sevmon_v1_AddrSpace_ADDR_SPACE_PHYS)
			return SEVMON_ENOTSUP;
		total += req->ranges[i].len;
	}
	if (total > AGENT_MAX_SCAN_BYTES) {
		call_error(call, "scan of %" PRIu64 " bytes exceeds %" PRIu64, total, AGENT_MAX_SCAN_BYTES);
		return SEVMON_ETOOBIG;
	}
	uint8_t *buf = arena_alloc(a, AGENT_SCAN_CHUNK + plen);
	if (!buf)
		return SEVMON_ETOOBIG;
	struct mem_scan s = { .pattern = req->pattern.bytes, .plen = plen, .align = align,
			      .hits = resp->hits, .max = max_hits, .buf = buf,
			      .chunk = AGENT_SCAN_CHUNK, .stop = scan_stop, .stop_ctx = call };
	for (size_t i = 0; i < req->ranges_count && !s.truncated; i++) {
		int rc = mem_scan_range(a->mem, &s, req->ranges[i].addr, req->ranges[i].len);
		if (rc < 0)
			return rc;
	}
	resp->hits_count = (pb_size_t)s.n;
	resp->truncated = s.truncated;
	resp->scanned_bytes = s.scanned;
	resp->unreadable_bytes = s.unreadable;
	return 0;
}

/* ---- Hash ---- */

struct hash_list {
	struct gather_item *items; /* data = the digests, len = their bytes */
	size_t n;
};

static bool encode_hash_results(pb_ostream_t *s, const pb_field_t *f, void *const *arg)
{
	const struct hash_list *hl = *arg;
	for (size_t i = 0; i < hl->n; i++) {
		const struct gather_item *it = &hl->items[i];
		sevmon_v1_HashResult hr = sevmon_v1_HashResult_init_zero;
		struct bytes_ref ref = { it->data, it->len };
		hr.status = it->status;
		if (it->status == 0) {
			hr.digests.funcs.encode = encode_bytes_ref;
			hr.digests.arg = &ref;
		} else {
			snprintf(hr.error, sizeof hr.error, "0x%" PRIx64 ": %s", it->addr,
				 sevmon_strerror(it->status));
		}
		if (!pb_encode_tag_for_field(s, f) ||
		    !pb_encode_submessage(s, sevmon_v1_HashResult_fields, &hr))
			return false;
	}
	return true;
}

int agent_handle_hash(struct agent_call *call, const sevmon_v1_HashRequest *req,
		      sevmon_v1_HashResponse *resp)
{
	struct agent *a = call->agent;
	uint64_t bytes = 0, digests = 0;
	int needs_pt = 0;

	if (!mem_digest_params_ok(req->leaf_size, req->group)) {
		call_error(call, "hash leaf %" PRIu64 " / group %" PRIu64 ": leaf a power of two in"
				 " 512..1 MiB, group 1..4096", req->leaf_size, req->group);
		return SEVMON_EINVAL;
	}
	for (size_t i = 0; i < req->ranges_count; i++) {
		bytes += req->ranges[i].len;
		digests += mem_digest_count(req->ranges[i].len, req->leaf_size, req->group);
		needs_pt |= req->ranges[i].space == sevmon_v1_AddrSpace_ADDR_SPACE_VIRT_PT;
	}
	if (bytes > AGENT_MAX_HASH_BYTES || digests > AGENT_MAX_HASH_DIGESTS) {
		call_error(call, "hash of %" PRIu64 " bytes into %" PRIu64 " digests exceeds the "
				 "limits (256 MiB, 65536): split it", bytes, digests);
		return SEVMON_ETOOBIG;
	}
	int prc = pt_setup(call, req->has_pt, &req->pt, needs_pt);
	if (prc < 0)
		return prc;
	struct hash_list *hl = arena_alloc(a, sizeof *hl);
	struct gather_item *items = arena_alloc(a, (req->ranges_count + 1) * sizeof *items);
	uint8_t *leaf = arena_alloc(a, req->leaf_size);
	uint8_t *out = arena_alloc(a, digests * MEM_DIGEST_LEN + 1);
	if (!hl || !items || !leaf || !out)
		return SEVMON_ETOOBIG;
	for (size_t i = 0; i < req->ranges_count; i++) {
		const sevmon_v1_Range *r = &req->ranges[i];
		struct gather_item *it = &items[i];
		struct mem_digest d;
		*it = (struct gather_item){ .addr = r->addr, .data = out };
		int rc = mem_digest_begin(&d, req->group, out);
		for (uint64_t off = 0; rc == 0 && off < r->len; off += req->leaf_size) {
			size_t n = r->len - off < req->leaf_size ? (size_t)(r->len - off) : req->leaf_size;
			if (deadline_passed(call))
				rc = SEVMON_ETIMEDOUT;
			else if ((rc = read_space(a, r->space, r->addr + off, leaf, n)) == 0)
				mem_digest_leaf(&d, leaf, n);
			else
				it->addr = r->addr + off;
		}
		mem_digest_end(&d);
		if (rc == SEVMON_ETIMEDOUT || rc == SEVMON_ENOMEM)
			return rc;
		it->status = rc < 0 ? rc : 0;
		it->len = rc < 0 ? 0 : (uint32_t)(d.written * MEM_DIGEST_LEN);
		out += mem_digest_count(r->len, req->leaf_size, req->group) * MEM_DIGEST_LEN;
	}
	hl->items = items;
	hl->n = req->ranges_count;
	resp->results.funcs.encode = encode_hash_results;
	resp->results.arg = hl;
	return 0;
}

/* ---- the agent ---- */

int agent_state_init(struct agent *a, struct mem_source *mem)
{
	memset(a, 0, sizeof *a);
	a->mem = mem;
	a->arena = malloc(AGENT_ARENA_BYTES);
	a->walk_seen = calloc(WALK_SET_SLOTS, sizeof *a->walk_seen);
	if (!a->arena || !a->walk_seen) {
		agent_fini(a);
		return SEVMON_ENOMEM;
	}
	if (mem_vmcoreinfo(mem, &a->vmcoreinfo_phys, &a->vmcoreinfo_size) < 0) {
		a->vmcoreinfo_phys = 0;
		a->vmcoreinfo_size = 0;
	}
	return 0;
}

void agent_fini(struct agent *a)
{
	free(a->arena);
	free(a->walk_seen);
	a->arena = NULL;
	a->walk_seen = NULL;
}
