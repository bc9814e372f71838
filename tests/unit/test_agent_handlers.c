/*
 * test_agent_handlers.c — the agent's methods over a real memory source (a raw image
 * written by the test), encoded and decoded with protobuf-c, the IDS's implementation.
 */
#include <stdlib.h>
#include <unistd.h>

#include "agent.h"
#include "err.h"
#include "harness.h"
#include "mem_digest.h"
#include "pt_testutil.h"
#include "sevmon.pb-c.h"
#include "sevmon.sevrpc-client.h"

#define IMG_SIZE (3u << 20)

/* Page tables for the VIRT_PT tests live at PT_TABLES; they map PT_VA(pa). */
#define PT_TABLES 0x280000u
#define PT_VA_BASE 0xffff888000000000ull
#define PT_VA(pa) (PT_VA_BASE + (pa))

static struct agent ag;
static struct mem_source *mem;
static uint8_t img[IMG_SIZE];
static uint8_t out_buf[AGENT_MAX_REPLY];
static char errmsg[256];

static void put64(uint64_t at, uint64_t v)
{
	memcpy(img + at, &v, 8);
}

static void setup(void)
{
	char path[] = "/tmp/sevmon-handlers-XXXXXX";
	int fd = mkstemp(path);
	ASSERT(fd >= 0);
	for (size_t i = 0; i < IMG_SIZE; i++)
		img[i] = (uint8_t)(i * 131 + 7);
	/* A 4-node circular list: head at 0x1000, nodes at 0x2000.. with link at +8. */
	uint64_t nodes[4] = { 0x2000, 0x3000, 0x4000, 0x5000 };
	put64(0x1000, nodes[0] + 8);
	for (int i = 0; i < 4; i++) {
		put64(nodes[i] + 8, i < 3 ? nodes[i + 1] + 8 : 0x1000);
		put64(nodes[i] + 32, 100 + (uint64_t)i);
	}
	/* A list that loops back to its second node (never reaches the head). */
	put64(0x6000, 0x7000);
	put64(0x7000, 0x7100);
	put64(0x7100, 0x7000);
	/* A list whose second node points outside the image. */
	put64(0x8000, 0x8100);
	put64(0x8100, 0x10000000);
	/* Deref targets of the 4-node list: node i's pointer at +40 leads to a good object
	 * (0xA000, 0xA100), NULL, or outside the image; the 4 bytes read are at +4. */
	uint64_t ptr[4] = { 0xA000, 0, 0x10000000, 0xA100 };
	for (int i = 0; i < 4; i++)
		put64(nodes[i] + 40, ptr[i]);
	store_le32(img + 0xA004, 0x11223344);
	store_le32(img + 0xA104, 0x55667788);
	/* Page tables (4 levels, C-bit 51) mapping VA(pa) = PT_VA_BASE + pa for pa < 64 KiB,
	 * and a list in that virtual space: head at VA(0xB000), nodes VA(0xC000), VA(0xD000)
	 * with the link at +8, pointers at +40 to VA(0xA000) and to an unmapped address. */
	struct tpt t;
	tpt_init(&t, img, IMG_SIZE, PT_TABLES, PT_TABLES + 0x10000, 4, 1ull << 51);
	for (uint64_t pa = 0; pa < 0x10000; pa += 4096)
		tpt_map(&t, PT_VA(pa), pa, 1);
	put64(0xB000, PT_VA(0xC008));
	put64(0xC008, PT_VA(0xD008));
	put64(0xD008, PT_VA(0xB000));
	put64(0xC000 + 40, PT_VA(0xA000));
	put64(0xD000 + 40, PT_VA(0x900000));
	/* A NULL-terminated list. */
	put64(0x9000, 0x9100);
	put64(0x9100, 0);
	/* Scan targets: one straddling the 1 MiB chunk boundary, two aligned copies. */
	memcpy(img + 0x100000 - 3, "SEVMON-PATTERN", 14);
	memcpy(img + 0x200000, "SEVMON-PATTERN", 14);
	memcpy(img + 0x200101, "SEVMON-PATTERN", 14);
	ASSERT_EQ(write(fd, img, IMG_SIZE), (long)IMG_SIZE);
	close(fd);
	char spec[64];
	snprintf(spec, sizeof spec, "image:%s", path);
	ASSERT_EQ(mem_open(spec, &mem), 0);
	unlink(path);
	ASSERT_EQ(agent_init(&ag, mem), 0);
}

/* Serve one request; returns the status and leaves the reply in out_buf[0..*len). */
static int serve(uint16_t method, const ProtobufCMessage *req, size_t *len)
{
	uint8_t reqbuf[65536];
	size_t n = protobuf_c_message_pack(req, reqbuf);
	struct agent_request r = { .id = 1, .method = method, .payload = reqbuf, .len = n };
	struct wbuf out = wbuf_make(out_buf, sizeof out_buf);
	errmsg[0] = 0;
	int rc = agent_serve_request(&ag, &r, &out, errmsg, sizeof errmsg);
	*len = out.len;
	return rc;
}

TEST(agent_read_phys_exact_and_fault)
{
	setup();
	Sevmon__V1__ReadPhysRequest req = SEVMON__V1__READ_PHYS_REQUEST__INIT;
	size_t len;
	req.addr = 0x12345;
	req.len = 4000;
	ASSERT_EQ(serve(SEVMON_AGENT_METHOD_READ_PHYS, &req.base, &len), 0);
	Sevmon__V1__ReadResponse *r = sevmon__v1__read_response__unpack(NULL, len, out_buf);
	ASSERT(r);
	ASSERT_EQ(r->data.len, 4000);
	ASSERT_MEMEQ(r->data.data, img + 0x12345, 4000);
	sevmon__v1__read_response__free_unpacked(r, NULL);

	req.addr = IMG_SIZE - 2; /* straddles the end: all or nothing */
	req.len = 4;
	ASSERT_EQ(serve(SEVMON_AGENT_METHOD_READ_PHYS, &req.base, &len), SEVMON_EFAULT);
	req.addr = 0;
	req.len = AGENT_MAX_READ + 1;
	ASSERT_EQ(serve(SEVMON_AGENT_METHOD_READ_PHYS, &req.base, &len), SEVMON_ETOOBIG);
	ASSERT(strstr(errmsg, "exceeds") != NULL);
}

TEST(agent_gather_failing_range_isolated)
{
	setup();
	Sevmon__V1__Range r[3], *rp[3] = { &r[0], &r[1], &r[2] };
	for (int i = 0; i < 3; i++)
		sevmon__v1__range__init(&r[i]);
	r[0].addr = 0x100;
	r[0].len = 16;
	r[1].addr = 0x40000000; /* not in the image */
	r[1].len = 16;
	r[2].addr = IMG_SIZE - 16;
	r[2].len = 16;
	Sevmon__V1__GatherRequest req = SEVMON__V1__GATHER_REQUEST__INIT;
	req.n_ranges = 3;
	req.ranges = rp;
	size_t len;
	ASSERT_EQ(serve(SEVMON_AGENT_METHOD_GATHER, &req.base, &len), 0);
	Sevmon__V1__GatherResponse *g = sevmon__v1__gather_response__unpack(NULL, len, out_buf);
	ASSERT(g);
	ASSERT_EQ(g->n_results, 3);
	ASSERT_EQ(g->results[0]->status, 0);
	ASSERT_MEMEQ(g->results[0]->data.data, img + 0x100, 16);
	ASSERT_EQ(g->results[1]->status, SEVMON_EFAULT);
	ASSERT_EQ(g->results[1]->data.len, 0);
	ASSERT(strstr(g->results[1]->error, "0x40000000") != NULL);
	ASSERT_EQ(g->results[2]->status, 0);
	ASSERT_MEMEQ(g->results[2]->data.data, img + IMG_SIZE - 16, 16);
	sevmon__v1__gather_response__free_unpacked(g, NULL);
}

TEST(agent_gather_over_budget_refused)
{
	setup();
	enum { N = 4 };
	Sevmon__V1__Range r[N], *rp[N];
	for (int i = 0; i < N; i++) {
		sevmon__v1__range__init(&r[i]);
		r[i].len = AGENT_MAX_READ; /* 4 MiB in all: over the 3 MiB arena */
		rp[i] = &r[i];
	}
	Sevmon__V1__GatherRequest req = SEVMON__V1__GATHER_REQUEST__INIT;
	req.n_ranges = N;
	req.ranges = rp;
	size_t len;
	ASSERT_EQ(serve(SEVMON_AGENT_METHOD_GATHER, &req.base, &len), SEVMON_ETOOBIG);
}

static Sevmon__V1__WalkListResponse *walk(uint64_t head, uint32_t link_off, uint32_t max_nodes)
{
	Sevmon__V1__FieldWindow f = SEVMON__V1__FIELD_WINDOW__INIT, *fp = &f;
	f.offset = 32;
	f.len = 8;
	Sevmon__V1__WalkListRequest req = SEVMON__V1__WALK_LIST_REQUEST__INIT;
	req.head = head;
	req.link_offset = link_off;
	req.n_fields = 1;
	req.fields = &fp;
	req.max_nodes = max_nodes;
	size_t len;
	ASSERT_EQ(serve(SEVMON_AGENT_METHOD_WALK_LIST, &req.base, &len), 0);
	Sevmon__V1__WalkListResponse *w = sevmon__v1__walk_list_response__unpack(NULL, len, out_buf);
	ASSERT(w);
	return w;
}

TEST(agent_walk_list_stops)
{
	setup();
	Sevmon__V1__WalkListResponse *w = walk(0x1000, 8, 100);
	ASSERT_EQ(w->stop, SEVMON__V1__WALK_STOP__WALK_STOP_HEAD);
	ASSERT_EQ(w->n_nodes, 4);
	for (size_t i = 0; i < 4; i++) {
		uint64_t v;
		ASSERT_UEQ(w->nodes[i]->addr, 0x2000 + 0x1000 * i);
		ASSERT_EQ(w->nodes[i]->fields.len, 8);
		memcpy(&v, w->nodes[i]->fields.data, 8);
		ASSERT_EQ(v, 100 + i);
	}
	sevmon__v1__walk_list_response__free_unpacked(w, NULL);

	w = walk(0x1000, 8, 2);
	ASSERT_EQ(w->stop, SEVMON__V1__WALK_STOP__WALK_STOP_MAX_NODES);
	ASSERT_EQ(w->n_nodes, 2);
	sevmon__v1__walk_list_response__free_unpacked(w, NULL);

	w = walk(0x6000, 0, 100);
	ASSERT_EQ(w->stop, SEVMON__V1__WALK_STOP__WALK_STOP_CYCLE);
	ASSERT_EQ(w->n_nodes, 2);
	sevmon__v1__walk_list_response__free_unpacked(w, NULL);

	w = walk(0x8000, 0, 100);
	ASSERT_EQ(w->stop, SEVMON__V1__WALK_STOP__WALK_STOP_FAULT);
	ASSERT_EQ(w->status, SEVMON_EFAULT);
	ASSERT_EQ(w->n_nodes, 1);
	sevmon__v1__walk_list_response__free_unpacked(w, NULL);

	w = walk(0x9000, 0, 100);
	ASSERT_EQ(w->stop, SEVMON__V1__WALK_STOP__WALK_STOP_NULL);
	ASSERT_EQ(w->n_nodes, 1);
	sevmon__v1__walk_list_response__free_unpacked(w, NULL);
}

static Sevmon__V1__ScanResponse *scan(uint32_t align, uint32_t max_hits)
{
	Sevmon__V1__Range r = SEVMON__V1__RANGE__INIT, bad = SEVMON__V1__RANGE__INIT;
	Sevmon__V1__Range *rp[2] = { &r, &bad };
	r.addr = 0;
	r.len = IMG_SIZE;
	bad.addr = 0x40000000;
	bad.len = 4096;
	Sevmon__V1__ScanRequest req = SEVMON__V1__SCAN_REQUEST__INIT;
	req.pattern.data = (uint8_t *)"SEVMON-PATTERN";
	req.pattern.len = 14;
	req.n_ranges = 2;
	req.ranges = rp;
	req.align = align;
	req.max_hits = max_hits;
	size_t len;
	ASSERT_EQ(serve(SEVMON_AGENT_METHOD_SCAN, &req.base, &len), 0);
	Sevmon__V1__ScanResponse *s = sevmon__v1__scan_response__unpack(NULL, len, out_buf);
	ASSERT(s);
	return s;
}

TEST(agent_scan_hits_across_chunks_align_limit)
{
	setup();
	Sevmon__V1__ScanResponse *s = scan(0, 0);
	ASSERT_EQ(s->n_hits, 3);
	ASSERT_UEQ(s->hits[0], 0x100000 - 3); /* straddles the 1 MiB chunk boundary */
	ASSERT_UEQ(s->hits[1], 0x200000);
	ASSERT_UEQ(s->hits[2], 0x200101);
	ASSERT_EQ(s->scanned_bytes, IMG_SIZE);
	ASSERT_EQ(s->unreadable_bytes, 4096);
	ASSERT_EQ(s->truncated, 0);
	sevmon__v1__scan_response__free_unpacked(s, NULL);

	s = scan(16, 0);
	ASSERT_EQ(s->n_hits, 1);
	ASSERT_UEQ(s->hits[0], 0x200000);
	sevmon__v1__scan_response__free_unpacked(s, NULL);

	s = scan(0, 2);
	ASSERT_EQ(s->n_hits, 2);
	ASSERT_EQ(s->truncated, 1);
	sevmon__v1__scan_response__free_unpacked(s, NULL);
}

/* The 4-node list with windows { +32 len 8 } and { +40 len 8, deref +4 len 4 }. */
static Sevmon__V1__WalkListResponse *walk_deref(uint64_t head, int space, int with_pt,
						 uint32_t win_len, uint32_t deref_len, int *rc)
{
	Sevmon__V1__FieldWindow f[2] = { SEVMON__V1__FIELD_WINDOW__INIT, SEVMON__V1__FIELD_WINDOW__INIT };
	Sevmon__V1__FieldWindow *fp[2] = { &f[0], &f[1] };
	f[0].offset = 32;
	f[0].len = 8;
	f[1].offset = 40;
	f[1].len = win_len;
	f[1].deref = 1;
	f[1].deref_offset = 4;
	f[1].deref_len = deref_len;
	Sevmon__V1__PageTables pt = SEVMON__V1__PAGE_TABLES__INIT;
	pt.root = PT_TABLES;
	pt.levels = 4;
	pt.c_bit_mask = 1ull << 51;
	Sevmon__V1__WalkListRequest req = SEVMON__V1__WALK_LIST_REQUEST__INIT;
	req.head = head;
	req.link_offset = 8;
	req.n_fields = 2;
	req.fields = fp;
	req.max_nodes = 100;
	req.space = (Sevmon__V1__AddrSpace)space;
	req.pt = with_pt ? &pt : NULL;
	size_t len;
	*rc = serve(SEVMON_AGENT_METHOD_WALK_LIST, &req.base, &len);
	if (*rc)
		return NULL;
	Sevmon__V1__WalkListResponse *w = sevmon__v1__walk_list_response__unpack(NULL, len, out_buf);
	ASSERT(w);
	return w;
}

TEST(agent_walk_list_deref_good_null_unmapped)
{
	setup();
	int rc;
	Sevmon__V1__WalkListResponse *w =
		walk_deref(0x1000, SEVMON__V1__ADDR_SPACE__ADDR_SPACE_PHYS, 0, 8, 4, &rc);
	ASSERT_EQ(rc, 0);
	ASSERT_EQ(w->stop, SEVMON__V1__WALK_STOP__WALK_STOP_HEAD); /* faults do not stop it */
	ASSERT_EQ(w->n_nodes, 4);
	const uint32_t want[4] = { 0x11223344, 0, 0, 0x55667788 };
	const uint32_t want_faults[4] = { 0, 2, 2, 0 }; /* bit 1: window 1's deref */
	for (size_t i = 0; i < 4; i++) {
		const uint8_t *d = w->nodes[i]->fields.data;
		ASSERT_EQ(w->nodes[i]->fields.len, 20); /* 8 + (8 + 4) */
		ASSERT_UEQ(load_le64(d), 100 + i);
		ASSERT_UEQ(load_le64(d + 8), load_le64(img + 0x2000 + 0x1000 * i + 40));
		ASSERT_UEQ(load_le32(d + 16), want[i]);
		ASSERT_UEQ(w->nodes[i]->faults, want_faults[i]);
	}
	sevmon__v1__walk_list_response__free_unpacked(w, NULL);
}

TEST(agent_walk_list_deref_bad_windows_refused)
{
	setup();
	int rc;
	ASSERT(!walk_deref(0x1000, SEVMON__V1__ADDR_SPACE__ADDR_SPACE_PHYS, 0, 4, 4, &rc));
	ASSERT_EQ(rc, SEVMON_EINVAL); /* a deref window must hold a pointer */
	ASSERT(!walk_deref(0x1000, SEVMON__V1__ADDR_SPACE__ADDR_SPACE_PHYS, 0, 8,
			   AGENT_MAX_WALK_WINDOW + 1, &rc));
	ASSERT_EQ(rc, SEVMON_ETOOBIG);
}

TEST(agent_walk_list_virt_pt_derefs)
{
	setup();
	int rc;
	Sevmon__V1__WalkListResponse *w =
		walk_deref(PT_VA(0xB000), SEVMON__V1__ADDR_SPACE__ADDR_SPACE_VIRT_PT, 1, 8, 4, &rc);
	ASSERT_EQ(rc, 0);
	ASSERT_EQ(w->stop, SEVMON__V1__WALK_STOP__WALK_STOP_HEAD);
	ASSERT_EQ(w->n_nodes, 2);
	ASSERT_UEQ(w->nodes[0]->addr, PT_VA(0xC000));
	ASSERT_UEQ(w->nodes[1]->addr, PT_VA(0xD000));
	ASSERT_UEQ(load_le64(w->nodes[0]->fields.data), load_le64(img + 0xC000 + 32));
	ASSERT_UEQ(load_le32(w->nodes[0]->fields.data + 16), 0x11223344);
	ASSERT_UEQ(w->nodes[0]->faults, 0);
	ASSERT_UEQ(load_le32(w->nodes[1]->fields.data + 16), 0);
	ASSERT_UEQ(w->nodes[1]->faults, 2); /* its pointer leads to an unmapped address */
	sevmon__v1__walk_list_response__free_unpacked(w, NULL);

	ASSERT(!walk_deref(PT_VA(0xB000), SEVMON__V1__ADDR_SPACE__ADDR_SPACE_VIRT_PT, 0, 8, 4, &rc));
	ASSERT_EQ(rc, SEVMON_EINVAL); /* VIRT_PT without page tables */
}

TEST(agent_gather_virt_pt_ranges)
{
	setup();
	Sevmon__V1__Range r[3] = { SEVMON__V1__RANGE__INIT, SEVMON__V1__RANGE__INIT,
				   SEVMON__V1__RANGE__INIT };
	Sevmon__V1__Range *rp[3] = { &r[0], &r[1], &r[2] };
	r[0].addr = PT_VA(0xA004);
	r[0].len = 4;
	r[0].space = SEVMON__V1__ADDR_SPACE__ADDR_SPACE_VIRT_PT;
	r[1].addr = PT_VA(0x900000);
	r[1].len = 4;
	r[1].space = SEVMON__V1__ADDR_SPACE__ADDR_SPACE_VIRT_PT;
	r[2].addr = 0xA104; /* physical ranges still work beside them */
	r[2].len = 4;
	Sevmon__V1__PageTables pt = SEVMON__V1__PAGE_TABLES__INIT;
	pt.root = PT_TABLES;
	pt.levels = 4;
	pt.c_bit_mask = 1ull << 51;
	Sevmon__V1__GatherRequest req = SEVMON__V1__GATHER_REQUEST__INIT;
	req.n_ranges = 3;
	req.ranges = rp;
	req.pt = &pt;
	size_t len;
	ASSERT_EQ(serve(SEVMON_AGENT_METHOD_GATHER, &req.base, &len), 0);
	Sevmon__V1__GatherResponse *g = sevmon__v1__gather_response__unpack(NULL, len, out_buf);
	ASSERT(g);
	ASSERT_EQ(g->n_results, 3);
	ASSERT_EQ(g->results[0]->status, 0);
	ASSERT_UEQ(load_le32(g->results[0]->data.data), 0x11223344);
	ASSERT_EQ(g->results[1]->status, SEVMON_EFAULT);
	ASSERT_EQ(g->results[1]->data.len, 0);
	ASSERT_EQ(g->results[2]->status, 0);
	ASSERT_UEQ(load_le32(g->results[2]->data.data), 0x55667788);
	sevmon__v1__gather_response__free_unpacked(g, NULL);

	req.pt = NULL;
	ASSERT_EQ(serve(SEVMON_AGENT_METHOD_GATHER, &req.base, &len), SEVMON_EINVAL);
	pt.levels = 3;
	req.pt = &pt;
	ASSERT_EQ(serve(SEVMON_AGENT_METHOD_GATHER, &req.base, &len), SEVMON_EINVAL);
}

TEST(agent_get_info_advertises_page_walk)
{
	setup();
	Sevmon__V1__GetInfoRequest req = SEVMON__V1__GET_INFO_REQUEST__INIT;
	size_t len;
	ASSERT_EQ(serve(SEVMON_AGENT_METHOD_GET_INFO, &req.base, &len), 0);
	Sevmon__V1__GetInfoResponse *r = sevmon__v1__get_info_response__unpack(NULL, len, out_buf);
	ASSERT(r);
	ASSERT(r->pt_walk_supported); /* what lets the IDS send VIRT_PT and deref windows */
	ASSERT(!r->virt_supported);   /* an image: physical only */
	sevmon__v1__get_info_response__free_unpacked(r, NULL);
}

static Sevmon__V1__HashResponse *hash(const uint64_t *addr, const uint32_t *len, size_t n,
				      uint32_t leaf, uint32_t group, int space, int *rc)
{
	Sevmon__V1__Range r[8], *rp[8];
	for (size_t i = 0; i < n; i++) {
		sevmon__v1__range__init(&r[i]);
		r[i].addr = addr[i];
		r[i].len = len[i];
		r[i].space = (Sevmon__V1__AddrSpace)space;
		rp[i] = &r[i];
	}
	Sevmon__V1__PageTables pt = SEVMON__V1__PAGE_TABLES__INIT;
	pt.root = PT_TABLES;
	pt.levels = 4;
	pt.c_bit_mask = 1ull << 51;
	Sevmon__V1__HashRequest req = SEVMON__V1__HASH_REQUEST__INIT;
	req.n_ranges = n;
	req.ranges = rp;
	req.leaf_size = leaf;
	req.group = group;
	req.pt = space == SEVMON__V1__ADDR_SPACE__ADDR_SPACE_VIRT_PT ? &pt : NULL;
	size_t olen;
	*rc = serve(SEVMON_AGENT_METHOD_HASH, &req.base, &olen);
	if (*rc)
		return NULL;
	Sevmon__V1__HashResponse *h = sevmon__v1__hash_response__unpack(NULL, olen, out_buf);
	ASSERT(h);
	return h;
}

TEST(agent_hash_leaves_and_groups_match_local_digests)
{
	setup();
	int rc;
	/* 5.5 leaves of 4 KiB: leaf digests, then groups of 2 (the last one short) */
	const uint64_t a[] = { 0x10000 };
	const uint32_t l[] = { 5 * 4096 + 2048 };
	uint8_t want[6 * MEM_DIGEST_LEN];
	Sevmon__V1__HashResponse *h = hash(a, l, 1, 4096, 1, 0, &rc);
	ASSERT_EQ(rc, 0);
	ASSERT_EQ(h->n_results, 1);
	ASSERT_EQ(h->results[0]->status, 0);
	ASSERT_EQ(h->results[0]->digests.len, 6 * MEM_DIGEST_LEN);
	ASSERT_EQ(mem_digest_buf(img + 0x10000, l[0], 4096, 1, want), 0);
	ASSERT_MEMEQ(h->results[0]->digests.data, want, sizeof want);
	sevmon__v1__hash_response__free_unpacked(h, NULL);

	h = hash(a, l, 1, 4096, 2, 0, &rc);
	ASSERT_EQ(rc, 0);
	ASSERT_EQ(h->results[0]->digests.len, 3 * MEM_DIGEST_LEN);
	uint8_t leaves[6 * MEM_DIGEST_LEN], g[MEM_DIGEST_LEN];
	ASSERT_EQ(mem_digest_buf(img + 0x10000, l[0], 4096, 1, leaves), 0);
	for (int i = 0; i < 3; i++) { /* a group digest is the digest of its leaf digests */
		mem_digest_group(leaves + 2 * i * MEM_DIGEST_LEN, 2, g);
		ASSERT_MEMEQ(h->results[0]->digests.data + i * MEM_DIGEST_LEN, g, MEM_DIGEST_LEN);
	}
	sevmon__v1__hash_response__free_unpacked(h, NULL);
}

TEST(agent_hash_unreadable_range_isolated_virt_pt)
{
	setup();
	int rc;
	/* the second range ends past the image: it fails alone; the third is virtual */
	const uint64_t a[] = { 0x1000, IMG_SIZE - 4096, 0x3000 };
	const uint32_t l[] = { 8192, 8192, 4096 };
	Sevmon__V1__HashResponse *h = hash(a, l, 2, 4096, 1, 0, &rc);
	ASSERT_EQ(rc, 0);
	ASSERT_EQ(h->n_results, 2);
	ASSERT_EQ(h->results[0]->status, 0);
	ASSERT_EQ(h->results[1]->status, SEVMON_EFAULT);
	ASSERT(strstr(h->results[1]->error, "0x") != NULL);
	sevmon__v1__hash_response__free_unpacked(h, NULL);

	const uint64_t va[] = { PT_VA(0x3000) };
	h = hash(va, l + 2, 1, 4096, 1, SEVMON__V1__ADDR_SPACE__ADDR_SPACE_VIRT_PT, &rc);
	ASSERT_EQ(rc, 0);
	uint8_t want[MEM_DIGEST_LEN];
	ASSERT_EQ(mem_digest_buf(img + 0x3000, 4096, 4096, 1, want), 0);
	ASSERT_MEMEQ(h->results[0]->digests.data, want, MEM_DIGEST_LEN);
	sevmon__v1__hash_response__free_unpacked(h, NULL);
}

TEST(agent_hash_bad_shapes_and_over_limit_refused)
{
	setup();
	int rc;
	const uint64_t a[] = { 0 };
	const uint32_t l[] = { 4096 };
	ASSERT(hash(a, l, 1, 3000, 1, 0, &rc) == NULL); /* not a power of two */
	ASSERT_EQ(rc, SEVMON_EINVAL);
	ASSERT(hash(a, l, 1, 4096, 0, 0, &rc) == NULL);
	ASSERT_EQ(rc, SEVMON_EINVAL);
	ASSERT(hash(a, l, 1, 256, 1, 0, &rc) == NULL);
	ASSERT_EQ(rc, SEVMON_EINVAL);
	/* 64 Ki + 1 digests of 512-byte leaves */
	const uint32_t big[] = { (AGENT_MAX_HASH_DIGESTS + 1) * 512u };
	ASSERT(hash(a, big, 1, 512, 1, 0, &rc) == NULL);
	ASSERT_EQ(rc, SEVMON_ETOOBIG);
	ASSERT(strstr(errmsg, "split") != NULL);
	/* VIRT_PT without page tables */
	Sevmon__V1__Range r = SEVMON__V1__RANGE__INIT, *rp = &r;
	r.len = 4096;
	r.space = SEVMON__V1__ADDR_SPACE__ADDR_SPACE_VIRT_PT;
	Sevmon__V1__HashRequest req = SEVMON__V1__HASH_REQUEST__INIT;
	req.n_ranges = 1;
	req.ranges = &rp;
	req.leaf_size = 4096;
	req.group = 1;
	size_t olen;
	ASSERT_EQ(serve(SEVMON_AGENT_METHOD_HASH, &req.base, &olen), SEVMON_EINVAL);
}

TEST(agent_unknown_method_refused)
{
	setup();
	struct agent_request r = { .id = 1, .method = 999 };
	struct wbuf out = wbuf_make(out_buf, sizeof out_buf);
	ASSERT_EQ(agent_serve_request(&ag, &r, &out, errmsg, sizeof errmsg), SEVMON_EUNMETHOD);
}

TEST_MAIN()
