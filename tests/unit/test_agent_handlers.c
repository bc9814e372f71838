/*
 * test_agent_handlers.c — the agent's methods over a real memory source (a raw image
 * written by the test), encoded and decoded with protobuf-c, the IDS's implementation.
 */
#include <stdlib.h>
#include <unistd.h>

#include "agent.h"
#include "err.h"
#include "harness.h"
#include "sevmon.pb-c.h"
#include "sevmon.sevrpc-client.h"

#define IMG_SIZE (3u << 20)

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

TEST(agent_unknown_method_refused)
{
	setup();
	struct agent_request r = { .id = 1, .method = 999 };
	struct wbuf out = wbuf_make(out_buf, sizeof out_buf);
	ASSERT_EQ(agent_serve_request(&ag, &r, &out, errmsg, sizeof errmsg), SEVMON_EUNMETHOD);
}

TEST_MAIN()
