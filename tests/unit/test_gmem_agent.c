/*
 * test_gmem_agent.c — gmem's WalkList with deref windows answered by a real agent (the
 * handlers over an image source, messages packed and unpacked with protobuf-c as the IDS
 * does) against gmem_walk_generic, the fallback built on Gather: both must give the same
 * nodes, bytes, fault bits and stop reason, in physical space and through page tables
 * (AddrSpace VIRT_PT), while the agent path costs one round trip.
 */
#include <stdlib.h>
#include <unistd.h>

#include "agent.h"
#include "err.h"
#include "gmem.h"
#include "harness.h"
#include "mem_testutil.h"
#include "pt_testutil.h"
#include "sevmon.pb-c.h"
#include "sevmon.sevrpc-client.h"

#define IMG_SIZE (1u << 20)
#define PT_TABLES 0x80000u
#define VA(pa) (0xffff888000000000ull + (pa))
#define NODES 6
#define LINK 16u /* link offset within a node */

static uint8_t img[IMG_SIZE];
static struct agent ag;
static struct mem_source *mem;
static uint8_t out_buf[AGENT_MAX_REPLY];

/* Node i at 0x2000 + 0x1000 i: id at 0, link at 16, pointers at 32 and 40 to an object whose
 * 4 bytes at +8 are read. virt: every pointer is VA(pa). Node 1's first pointer is NULL,
 * node 3's leads outside the source, node 4's second one too. */
static void build(int virt)
{
	tpat_fill(img, 0, IMG_SIZE);
	uint64_t off = virt ? VA(0) : 0, head = 0x1000;
	uint64_t prev = head;
	for (int i = 0; i < NODES; i++) {
		uint64_t n = 0x2000 + 0x1000 * (uint64_t)i;
		store_le32(img + n, 1000 + (uint32_t)i);
		store_le64(img + prev, n + LINK + off);
		prev = n + LINK;
		uint64_t p1 = i == 1 ? 0 : i == 3 ? 0x7000000 + off : 0x9000 + 0x40 * (uint64_t)i + off;
		uint64_t p2 = i == 4 ? 0x7100000 + off : 0xA000 + 0x40 * (uint64_t)i + off;
		store_le64(img + n + 32, p1);
		store_le64(img + n + 40, p2);
	}
	store_le64(img + prev, head + off);
	struct tpt t;
	tpt_init(&t, img, IMG_SIZE, PT_TABLES, PT_TABLES + 0x10000, 5, 1ull << 51);
	for (uint64_t pa = 0; pa < 0x10000; pa += 4096)
		tpt_map(&t, VA(pa), pa, 1);
	char path[64];
	close(ttmp(path, sizeof path));
	twrite_file(path, img, IMG_SIZE);
	char spec[96];
	snprintf(spec, sizeof spec, "image:%s", path);
	ASSERT_EQ(mem_open(spec, &mem), 0);
	unlink(path);
	ASSERT_EQ(agent_init(&ag, mem), 0);
}

static int serve(uint16_t method, const ProtobufCMessage *req, size_t *len)
{
	static uint8_t reqbuf[65536];
	char err[256];
	size_t n = protobuf_c_message_pack(req, reqbuf);
	struct agent_request r = { .id = 1, .method = method, .payload = reqbuf, .len = n };
	struct wbuf out = wbuf_make(out_buf, sizeof out_buf);
	int rc = agent_serve_request(&ag, &r, &out, err, sizeof err);
	*len = out.len;
	return rc;
}

static Sevmon__V1__PageTables pt = { PROTOBUF_C_MESSAGE_INIT(&sevmon__v1__page_tables__descriptor),
				     PT_TABLES, 5, 1ull << 51 };

static Sevmon__V1__AddrSpace space_of(uint8_t s)
{
	return s == GMEM_VIRT ? SEVMON__V1__ADDR_SPACE__ADDR_SPACE_VIRT_PT
			      : SEVMON__V1__ADDR_SPACE__ADDR_SPACE_PHYS;
}

static int local_gather(void *ctx, struct gmem_range *r, size_t n)
{
	static Sevmon__V1__Range rr[1024], *rp[1024];
	size_t len;
	(void)ctx;
	ASSERT(n <= 1024);
	for (size_t i = 0; i < n; i++) {
		sevmon__v1__range__init(&rr[i]);
		rr[i].addr = r[i].addr;
		rr[i].len = r[i].len;
		rr[i].space = space_of(r[i].space);
		rp[i] = &rr[i];
	}
	Sevmon__V1__GatherRequest req = SEVMON__V1__GATHER_REQUEST__INIT;
	req.n_ranges = n;
	req.ranges = rp;
	req.pt = &pt;
	int rc = serve(SEVMON_AGENT_METHOD_GATHER, &req.base, &len);
	if (rc < 0)
		return rc;
	Sevmon__V1__GatherResponse *g = sevmon__v1__gather_response__unpack(NULL, len, out_buf);
	ASSERT(g);
	ASSERT_EQ(g->n_results, n);
	for (size_t i = 0; i < n; i++) {
		r[i].status = g->results[i]->status;
		if (r[i].status == 0) {
			ASSERT_EQ(g->results[i]->data.len, r[i].len);
			memcpy(r[i].out, g->results[i]->data.data, r[i].len);
		}
	}
	sevmon__v1__gather_response__free_unpacked(g, NULL);
	return 0;
}

static int local_walk(void *ctx, const struct gmem_walk_req *req, struct gmem_walk_out *out)
{
	Sevmon__V1__FieldWindow w[GMEM_WALK_MAX_WINDOWS], *wp[GMEM_WALK_MAX_WINDOWS];
	size_t len, stride = gmem_walk_stride(req);
	(void)ctx;
	for (size_t i = 0; i < req->nwin; i++) {
		sevmon__v1__field_window__init(&w[i]);
		w[i].offset = req->win[i].off;
		w[i].len = req->win[i].len;
		w[i].deref = req->win[i].deref;
		w[i].deref_offset = req->win[i].deref_off;
		w[i].deref_len = req->win[i].deref_len;
		wp[i] = &w[i];
	}
	Sevmon__V1__WalkListRequest wr = SEVMON__V1__WALK_LIST_REQUEST__INIT;
	wr.head = req->head;
	wr.next_offset = req->next_off;
	wr.link_offset = req->link_off;
	wr.n_fields = req->nwin;
	wr.fields = wp;
	wr.max_nodes = (uint32_t)req->max_nodes;
	wr.space = space_of(req->space);
	wr.pt = &pt;
	int rc = serve(SEVMON_AGENT_METHOD_WALK_LIST, &wr.base, &len);
	if (rc < 0)
		return rc;
	Sevmon__V1__WalkListResponse *wl = sevmon__v1__walk_list_response__unpack(NULL, len, out_buf);
	ASSERT(wl);
	ASSERT(wl->n_nodes <= req->max_nodes);
	for (size_t i = 0; i < wl->n_nodes; i++) {
		ASSERT_EQ(wl->nodes[i]->fields.len, stride);
		out->nodes[i] = wl->nodes[i]->addr;
		out->faults[i] = wl->nodes[i]->faults;
		memcpy(out->data + i * stride, wl->nodes[i]->fields.data, stride);
	}
	out->n = wl->n_nodes;
	out->stop = wl->stop;
	out->status = wl->status;
	sevmon__v1__walk_list_response__free_unpacked(wl, NULL);
	return 0;
}

static const struct gmem_ops local_ops = { local_gather, local_walk };

struct walk_res {
	uint64_t nodes[16];
	uint8_t data[16 * 64];
	uint32_t faults[16];
	struct gmem_walk_out out;
};

/* Returns the stop reason both agreed on. */
static int equivalent(int virt, uint64_t head)
{
	static const struct gmem_window win[] = {
		{ .off = 0, .len = 4 },
		{ .off = 32, .len = 8, .deref = 1, .deref_off = 8, .deref_len = 4 },
		{ .off = 40, .len = 8, .deref = 1, .deref_off = 8, .deref_len = 12 },
	};
	struct gmem_walk_req req = { .head = head, .next_off = 0, .link_off = LINK, .win = win,
		.nwin = 3, .max_nodes = 16, .space = virt ? GMEM_VIRT : GMEM_PHYS };
	struct gmem g = { .ops = &local_ops, .virt = 1 };
	static struct walk_res a, b;
	memset(&a, 0xee, sizeof a); /* the zeros of a failed deref must be written, not left */
	memset(&b, 0xee, sizeof b);
	a.out = (struct gmem_walk_out){ .nodes = a.nodes, .data = a.data, .faults = a.faults };
	b.out = (struct gmem_walk_out){ .nodes = b.nodes, .data = b.data, .faults = b.faults };
	ASSERT_EQ(gmem_walk(&g, &req, &a.out), 0);
	ASSERT_UEQ(g.trips, 1); /* one WalkList, derefs included */
	g.trips = 0;
	ASSERT_EQ(gmem_walk_generic(&g, &req, &b.out), 0);
	ASSERT(g.trips > a.out.n); /* the fallback: a gather per node, then the derefs */
	ASSERT_EQ(a.out.stop, b.out.stop);
	ASSERT_EQ(a.out.status, b.out.status);
	ASSERT_UEQ(a.out.n, b.out.n);
	size_t stride = gmem_walk_stride(&req);
	ASSERT_UEQ(stride, 4 + 12 + 20);
	for (size_t i = 0; i < a.out.n; i++) {
		ASSERT_UEQ(a.nodes[i], b.nodes[i]);
		ASSERT_UEQ(a.faults[i], b.faults[i]);
		ASSERT_MEMEQ(a.data + i * stride, b.data + i * stride, stride);
	}
	return a.out.stop;
}

TEST(gmem_walk_deref_agent_equals_generic_phys)
{
	build(0);
	ASSERT_EQ(equivalent(0, 0x1000), GMEM_STOP_HEAD);
	/* and what they agree on is right: */
	static struct walk_res a;
	static const struct gmem_window win[] = {
		{ .off = 32, .len = 8, .deref = 1, .deref_off = 8, .deref_len = 4 },
	};
	struct gmem_walk_req req = { .head = 0x1000, .link_off = LINK, .win = win, .nwin = 1,
		.max_nodes = 16, .space = GMEM_PHYS };
	struct gmem g = { .ops = &local_ops, .virt = 1 };
	a.out = (struct gmem_walk_out){ .nodes = a.nodes, .data = a.data, .faults = a.faults };
	ASSERT_EQ(gmem_walk(&g, &req, &a.out), 0);
	ASSERT_EQ(a.out.stop, GMEM_STOP_HEAD);
	ASSERT_UEQ(a.out.n, NODES);
	for (size_t i = 0; i < NODES; i++) {
		int bad = i == 1 || i == 3;
		ASSERT_UEQ(a.faults[i], bad ? 1u : 0u);
		ASSERT_UEQ(load_le32(a.data + 12 * i + 8),
			   bad ? 0 : load_le32(img + 0x9000 + 0x40 * i + 8));
	}
}

TEST(gmem_walk_deref_agent_equals_generic_virt_pt)
{
	build(1);
	ASSERT_EQ(equivalent(1, VA(0x1000)), GMEM_STOP_HEAD);
}

TEST(gmem_walk_deref_agent_equals_generic_torn_list)
{
	build(0);
	store_le64(img + 0x4000 + LINK, 0x7200000); /* node 2's next leads nowhere */
	char path[64];
	close(ttmp(path, sizeof path));
	twrite_file(path, img, IMG_SIZE);
	char spec[96];
	snprintf(spec, sizeof spec, "image:%s", path);
	agent_fini(&ag);
	mem_close(mem);
	ASSERT_EQ(mem_open(spec, &mem), 0);
	unlink(path);
	ASSERT_EQ(agent_init(&ag, mem), 0);
	ASSERT_EQ(equivalent(0, 0x1000), GMEM_STOP_FAULT);
}

TEST(gmem_walk_deref_needs_fault_mask_and_pointer_window)
{
	struct gmem g = { .ops = &local_ops, .virt = 1 };
	uint64_t nodes[1];
	uint8_t data[16];
	uint32_t faults[1];
	struct gmem_window win[] = { { .off = 0, .len = 8, .deref = 1, .deref_len = 4 } };
	struct gmem_walk_req req = { .head = 0x1000, .win = win, .nwin = 1, .max_nodes = 1 };
	struct gmem_walk_out out = { .nodes = nodes, .data = data };
	ASSERT_EQ(gmem_walk(&g, &req, &out), SEVMON_EINVAL); /* no faults[] */
	ASSERT_EQ(gmem_walk_generic(&g, &req, &out), SEVMON_EINVAL);
	out.faults = faults;
	win[0].len = 4;
	ASSERT_EQ(gmem_walk(&g, &req, &out), SEVMON_EINVAL); /* not a pointer */
	ASSERT_UEQ(g.trips, 0);
}

TEST_MAIN()
