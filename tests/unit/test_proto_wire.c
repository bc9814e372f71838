/*
 * test_proto_wire.c — the two (three) protobuf implementations agree on sevmon.proto.
 *
 * Every message type: build samples with protobuf-c (IDS side), pack, decode with
 * nanopb (agent side, with the .options limits and callbacks), re-encode with nanopb,
 * unpack with protobuf-c and compare field by field; the nanopb bytes must also equal
 * the protobuf-c bytes (both write canonical proto3). Some samples are also decoded
 * by protoc itself (--decode) and its text compared with the expected values.
 * The callback helpers here are the pattern an agent handler uses to stream bytes.
 */
#include <pb_decode.h>
#include <pb_encode.h>

#include "harness.h"
#include "sevmon.pb-c.h"
#include "sevmon.pb.h"

/* Larger than any reply the agent sends in one message (max_read is 64 KiB). */
#define T_BIG_BYTES 65536
/* Results / nodes the test stores when decoding streamed repeated fields. */
#define T_MAX_ITEMS 64
#define T_ITEM_BYTES 512

struct t_bytes {
	uint8_t *b;
	size_t cap, len;
};

static bool dec_bytes(pb_istream_t *s, const pb_field_t *f, void **arg)
{
	struct t_bytes *t = *arg;
	(void)f;
	if (s->bytes_left > t->cap)
		return false;
	t->len = s->bytes_left;
	return pb_read(s, t->b, t->len);
}

static bool enc_bytes(pb_ostream_t *s, const pb_field_t *f, void *const *arg)
{
	const struct t_bytes *t = *arg;
	if (t->len == 0) /* proto3: an empty bytes field is not written */
		return true;
	return pb_encode_tag_for_field(s, f) && pb_encode_string(s, t->b, t->len);
}

struct t_item {
	uint64_t addr;     /* WalkNode */
	uint32_t faults;   /* WalkNode */
	int32_t status;    /* RangeResult */
	char error[128];
	uint8_t buf[T_ITEM_BYTES];
	struct t_bytes data;
};
struct t_items {
	size_t n;
	struct t_item it[T_MAX_ITEMS];
};

static bool dec_result(pb_istream_t *s, const pb_field_t *f, void **arg)
{
	struct t_items *t = *arg;
	(void)f;
	if (t->n >= T_MAX_ITEMS)
		return false;
	struct t_item *it = &t->it[t->n];
	sevmon_v1_RangeResult rr = sevmon_v1_RangeResult_init_zero;
	it->data = (struct t_bytes){ it->buf, sizeof(it->buf), 0 };
	rr.data.funcs.decode = dec_bytes;
	rr.data.arg = &it->data;
	if (!pb_decode(s, sevmon_v1_RangeResult_fields, &rr))
		return false;
	it->status = rr.status;
	memcpy(it->error, rr.error, sizeof(it->error));
	t->n++;
	return true;
}

static bool enc_results(pb_ostream_t *s, const pb_field_t *f, void *const *arg)
{
	struct t_items *t = *arg;
	for (size_t i = 0; i < t->n; i++) {
		sevmon_v1_RangeResult rr = sevmon_v1_RangeResult_init_zero;
		rr.status = t->it[i].status;
		memcpy(rr.error, t->it[i].error, sizeof(rr.error));
		rr.data.funcs.encode = enc_bytes;
		rr.data.arg = &t->it[i].data;
		if (!pb_encode_tag_for_field(s, f) ||
		    !pb_encode_submessage(s, sevmon_v1_RangeResult_fields, &rr))
			return false;
	}
	return true;
}

static bool dec_node(pb_istream_t *s, const pb_field_t *f, void **arg)
{
	struct t_items *t = *arg;
	(void)f;
	if (t->n >= T_MAX_ITEMS)
		return false;
	struct t_item *it = &t->it[t->n];
	sevmon_v1_WalkNode wn = sevmon_v1_WalkNode_init_zero;
	it->data = (struct t_bytes){ it->buf, sizeof(it->buf), 0 };
	wn.fields.funcs.decode = dec_bytes;
	wn.fields.arg = &it->data;
	if (!pb_decode(s, sevmon_v1_WalkNode_fields, &wn))
		return false;
	it->addr = wn.addr;
	it->faults = wn.faults;
	t->n++;
	return true;
}

static bool enc_nodes(pb_ostream_t *s, const pb_field_t *f, void *const *arg)
{
	struct t_items *t = *arg;
	for (size_t i = 0; i < t->n; i++) {
		sevmon_v1_WalkNode wn = sevmon_v1_WalkNode_init_zero;
		wn.addr = t->it[i].addr;
		wn.faults = t->it[i].faults;
		wn.fields.funcs.encode = enc_bytes;
		wn.fields.arg = &t->it[i].data;
		if (!pb_encode_tag_for_field(s, f) ||
		    !pb_encode_submessage(s, sevmon_v1_WalkNode_fields, &wn))
			return false;
	}
	return true;
}

/* ---- the round trip ---- */

static uint8_t big_in[T_BIG_BYTES], big_out[T_BIG_BYTES];
static struct t_items items;
static union {
	sevmon_v1_GetInfoResponse gi;
	sevmon_v1_GatherRequest gr;
	sevmon_v1_WalkListRequest wl;
	uint8_t raw[32768];
} nstore;

/* Hooks that point a nanopb struct's callback fields at test storage. */
typedef void (*hook_fn)(void *msg, int encode);

/* Set by roundtrip() for the test's own checks. */
static uint8_t *pbc_bytes, *npb_bytes;
static size_t pbc_len, npb_len;

/*
 * protobuf-c pack -> nanopb decode -> nanopb encode -> protobuf-c unpack.
 * Returns the unpacked copy (free with protobuf_c_message_free_unpacked).
 */
static ProtobufCMessage *roundtrip(const ProtobufCMessage *m, const pb_msgdesc_t *fields,
				   hook_fn hook)
{
	free(pbc_bytes);
	free(npb_bytes);
	pbc_len = protobuf_c_message_get_packed_size(m);
	pbc_bytes = malloc(pbc_len + 1);
	ASSERT(pbc_bytes != NULL);
	ASSERT_EQ(protobuf_c_message_pack(m, pbc_bytes), pbc_len);

	memset(&nstore, 0, sizeof(nstore));
	items.n = 0;
	if (hook)
		hook(&nstore, 0);
	pb_istream_t in = pb_istream_from_buffer(pbc_bytes, pbc_len);
	if (!pb_decode(&in, fields, &nstore))
		FAIL_AT("nanopb decode of %s failed: %s", m->descriptor->name, PB_GET_ERROR(&in));
	if (hook)
		hook(&nstore, 1);

	size_t cap = pbc_len + 64;
	npb_bytes = malloc(cap);
	ASSERT(npb_bytes != NULL);
	pb_ostream_t out = pb_ostream_from_buffer(npb_bytes, cap);
	if (!pb_encode(&out, fields, &nstore))
		FAIL_AT("nanopb encode of %s failed: %s", m->descriptor->name, PB_GET_ERROR(&out));
	npb_len = out.bytes_written;

	ProtobufCMessage *back = protobuf_c_message_unpack(m->descriptor, NULL, npb_len, npb_bytes);
	ASSERT(back != NULL);
	ASSERT_EQ(npb_len, pbc_len);
	ASSERT_MEMEQ(npb_bytes, pbc_bytes, pbc_len);
	return back;
}

static void hook_read(void *msg, int encode)
{
	static struct t_bytes tb;
	sevmon_v1_ReadResponse *r = msg;
	if (!encode) {
		tb = (struct t_bytes){ big_out, sizeof(big_out), 0 };
		r->data.funcs.decode = dec_bytes;
	} else {
		r->data.funcs.encode = enc_bytes;
	}
	r->data.arg = &tb;
}

static void hook_range_result(void *msg, int encode)
{
	static struct t_bytes tb;
	sevmon_v1_RangeResult *r = msg;
	if (!encode) {
		tb = (struct t_bytes){ big_out, sizeof(big_out), 0 };
		r->data.funcs.decode = dec_bytes;
	} else {
		r->data.funcs.encode = enc_bytes;
	}
	r->data.arg = &tb;
}

static void hook_walk_node(void *msg, int encode)
{
	static struct t_bytes tb;
	sevmon_v1_WalkNode *r = msg;
	if (!encode) {
		tb = (struct t_bytes){ big_out, sizeof(big_out), 0 };
		r->fields.funcs.decode = dec_bytes;
	} else {
		r->fields.funcs.encode = enc_bytes;
	}
	r->fields.arg = &tb;
}

static void hook_gather_resp(void *msg, int encode)
{
	sevmon_v1_GatherResponse *r = msg;
	if (!encode)
		r->results.funcs.decode = dec_result;
	else
		r->results.funcs.encode = enc_results;
	r->results.arg = &items;
}

static void hook_walk_resp(void *msg, int encode)
{
	sevmon_v1_WalkListResponse *r = msg;
	if (!encode)
		r->nodes.funcs.decode = dec_node;
	else
		r->nodes.funcs.encode = enc_nodes;
	r->nodes.arg = &items;
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed * 131 + i * 7 + (i >> 8));
}

static void assert_bin_eq(ProtobufCBinaryData a, ProtobufCBinaryData b)
{
	ASSERT_EQ(a.len, b.len);
	if (a.len)
		ASSERT_MEMEQ(a.data, b.data, a.len);
}

/* ---- one case per message type ---- */

TEST(proto_wire_get_info_request_empty)
{
	Sevmon__V1__GetInfoRequest m = SEVMON__V1__GET_INFO_REQUEST__INIT;
	ProtobufCMessage *b = roundtrip(&m.base, sevmon_v1_GetInfoRequest_fields, NULL);
	ASSERT_EQ(pbc_len, 0);
	protobuf_c_message_free_unpacked(b, NULL);
}

TEST(proto_wire_mem_region_edges)
{
	const uint64_t v[] = { 0, 1, 0x7f, 0x80, 0xffffffffull, UINT64_MAX };
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		Sevmon__V1__MemRegion m = SEVMON__V1__MEM_REGION__INIT;
		m.start = v[i];
		m.size = v[sizeof(v) / sizeof(v[0]) - 1 - i];
		Sevmon__V1__MemRegion *b =
			(Sevmon__V1__MemRegion *)roundtrip(&m.base, sevmon_v1_MemRegion_fields, NULL);
		ASSERT_UEQ(b->start, m.start);
		ASSERT_UEQ(b->size, m.size);
		protobuf_c_message_free_unpacked(&b->base, NULL);
	}
}

static void get_info_case(size_t nreg, size_t nmeth, const char *ver, const char *src, uint32_t big)
{
	Sevmon__V1__GetInfoResponse m = SEVMON__V1__GET_INFO_RESPONSE__INIT;
	Sevmon__V1__MemRegion regs[64], *rp[64];
	uint32_t meth[32];
	for (size_t i = 0; i < nreg; i++) {
		sevmon__v1__mem_region__init(&regs[i]);
		regs[i].start = i == 0 ? 0 : UINT64_MAX - i;
		regs[i].size = (uint64_t)i << 40;
		rp[i] = &regs[i];
	}
	for (size_t i = 0; i < nmeth; i++)
		meth[i] = i == 0 ? UINT32_MAX : (uint32_t)i;
	m.agent_version = (char *)ver;
	m.protocol_version = big;
	m.memory_source = (char *)src;
	m.n_phys_regions = nreg;
	m.phys_regions = rp;
	m.virt_supported = big != 0;
	m.max_read = big;
	m.max_ranges = big / 2;
	m.max_gather_bytes = big / 3;
	m.max_walk_nodes = big / 5;
	m.n_methods = nmeth;
	m.methods = meth;
	m.vmcoreinfo_phys = big ? UINT64_MAX : 0;
	m.vmcoreinfo_size = big;
	m.pt_walk_supported = big != 0;

	Sevmon__V1__GetInfoResponse *b = (Sevmon__V1__GetInfoResponse *)roundtrip(
		&m.base, sevmon_v1_GetInfoResponse_fields, NULL);
	ASSERT_STREQ(b->agent_version, ver);
	ASSERT_UEQ(b->protocol_version, m.protocol_version);
	ASSERT_STREQ(b->memory_source, src);
	ASSERT_EQ(b->n_phys_regions, nreg);
	for (size_t i = 0; i < nreg; i++) {
		ASSERT_UEQ(b->phys_regions[i]->start, regs[i].start);
		ASSERT_UEQ(b->phys_regions[i]->size, regs[i].size);
	}
	ASSERT_EQ(b->virt_supported, m.virt_supported);
	ASSERT_UEQ(b->max_read, m.max_read);
	ASSERT_UEQ(b->max_ranges, m.max_ranges);
	ASSERT_UEQ(b->max_gather_bytes, m.max_gather_bytes);
	ASSERT_UEQ(b->max_walk_nodes, m.max_walk_nodes);
	ASSERT_EQ(b->n_methods, nmeth);
	for (size_t i = 0; i < nmeth; i++)
		ASSERT_UEQ(b->methods[i], meth[i]);
	ASSERT_UEQ(b->vmcoreinfo_phys, m.vmcoreinfo_phys);
	ASSERT_UEQ(b->vmcoreinfo_size, m.vmcoreinfo_size);
	ASSERT_EQ(b->pt_walk_supported, m.pt_walk_supported);
	ASSERT_EQ(nstore.gi.pt_walk_supported, m.pt_walk_supported);
	/* the nanopb struct itself holds the values, not just bytes passed through */
	ASSERT_EQ(nstore.gi.phys_regions_count, nreg);
	ASSERT_EQ(nstore.gi.methods_count, nmeth);
	ASSERT_STREQ(nstore.gi.agent_version, ver);
	protobuf_c_message_free_unpacked(&b->base, NULL);
}

TEST(proto_wire_get_info_response_zero)
{
	get_info_case(0, 0, "", "", 0);
}

TEST(proto_wire_get_info_response_max)
{
	char ver[64];
	memset(ver, 'v', 63);
	ver[63] = 0;
	get_info_case(64, 32, ver, "ramfile-15chars", UINT32_MAX);
}

TEST(proto_wire_get_info_response_over_limit_rejected)
{
	Sevmon__V1__GetInfoResponse m = SEVMON__V1__GET_INFO_RESPONSE__INIT;
	Sevmon__V1__MemRegion regs[65], *rp[65];
	for (size_t i = 0; i < 65; i++) {
		sevmon__v1__mem_region__init(&regs[i]);
		rp[i] = &regs[i];
	}
	m.n_phys_regions = 65;
	m.phys_regions = rp;
	uint8_t buf[1024];
	size_t n = sevmon__v1__get_info_response__pack(&m, buf);
	pb_istream_t in = pb_istream_from_buffer(buf, n);
	ASSERT(!pb_decode(&in, sevmon_v1_GetInfoResponse_fields, &nstore));
	/* a 64-byte version string does not fit char[64] with its terminator */
	Sevmon__V1__GetInfoResponse m2 = SEVMON__V1__GET_INFO_RESPONSE__INIT;
	char ver[65];
	memset(ver, 'v', 64);
	ver[64] = 0;
	m2.agent_version = ver;
	n = sevmon__v1__get_info_response__pack(&m2, buf);
	in = pb_istream_from_buffer(buf, n);
	ASSERT(!pb_decode(&in, sevmon_v1_GetInfoResponse_fields, &nstore));
}

TEST(proto_wire_read_requests_edges)
{
	const uint64_t a[] = { 0, 0x1000, 0xffffffff81000000ull, UINT64_MAX };
	const uint32_t l[] = { 0, 1, 65536, UINT32_MAX };
	for (size_t i = 0; i < 4; i++) {
		Sevmon__V1__ReadPhysRequest p = SEVMON__V1__READ_PHYS_REQUEST__INIT;
		Sevmon__V1__ReadVirtRequest v = SEVMON__V1__READ_VIRT_REQUEST__INIT;
		p.addr = v.addr = a[i];
		p.len = v.len = l[i];
		Sevmon__V1__ReadPhysRequest *bp = (Sevmon__V1__ReadPhysRequest *)roundtrip(
			&p.base, sevmon_v1_ReadPhysRequest_fields, NULL);
		ASSERT_UEQ(bp->addr, a[i]);
		ASSERT_UEQ(bp->len, l[i]);
		protobuf_c_message_free_unpacked(&bp->base, NULL);
		Sevmon__V1__ReadVirtRequest *bv = (Sevmon__V1__ReadVirtRequest *)roundtrip(
			&v.base, sevmon_v1_ReadVirtRequest_fields, NULL);
		ASSERT_UEQ(bv->addr, a[i]);
		ASSERT_UEQ(bv->len, l[i]);
		protobuf_c_message_free_unpacked(&bv->base, NULL);
	}
}

TEST(proto_wire_read_response_sizes)
{
	const size_t sizes[] = { 0, 1, 4096, T_BIG_BYTES };
	for (size_t i = 0; i < 4; i++) {
		Sevmon__V1__ReadResponse m = SEVMON__V1__READ_RESPONSE__INIT;
		fill(big_in, sizes[i], (unsigned)i);
		m.data.data = big_in;
		m.data.len = sizes[i];
		Sevmon__V1__ReadResponse *b = (Sevmon__V1__ReadResponse *)roundtrip(
			&m.base, sevmon_v1_ReadResponse_fields, hook_read);
		assert_bin_eq(b->data, m.data);
		protobuf_c_message_free_unpacked(&b->base, NULL);
	}
}

TEST(proto_wire_range_edges)
{
	Sevmon__V1__Range m = SEVMON__V1__RANGE__INIT;
	m.addr = UINT64_MAX;
	m.len = UINT32_MAX;
	m.space = SEVMON__V1__ADDR_SPACE__ADDR_SPACE_VIRT;
	Sevmon__V1__Range *b = (Sevmon__V1__Range *)roundtrip(&m.base, sevmon_v1_Range_fields, NULL);
	ASSERT_UEQ(b->addr, m.addr);
	ASSERT_UEQ(b->len, m.len);
	ASSERT_EQ(b->space, SEVMON__V1__ADDR_SPACE__ADDR_SPACE_VIRT);
	protobuf_c_message_free_unpacked(&b->base, NULL);
}

static Sevmon__V1__Range g_ranges[1025], *g_rp[1025];

static void gather_request(size_t n)
{
	Sevmon__V1__GatherRequest m = SEVMON__V1__GATHER_REQUEST__INIT;
	for (size_t i = 0; i < n; i++) {
		sevmon__v1__range__init(&g_ranges[i]);
		g_ranges[i].addr = i == 0 ? UINT64_MAX : (uint64_t)i << 12;
		g_ranges[i].len = (uint32_t)i;
		g_ranges[i].space = i % 3 == 2 ? SEVMON__V1__ADDR_SPACE__ADDR_SPACE_VIRT_PT
				    : (i & 1) ? SEVMON__V1__ADDR_SPACE__ADDR_SPACE_VIRT
					      : SEVMON__V1__ADDR_SPACE__ADDR_SPACE_PHYS;
		g_rp[i] = &g_ranges[i];
	}
	m.n_ranges = n;
	m.ranges = g_rp;
	Sevmon__V1__PageTables pt = SEVMON__V1__PAGE_TABLES__INIT;
	pt.root = n ? 0xfffffffffffff000ull : 0;
	pt.levels = n ? 5 : 0;
	pt.c_bit_mask = n ? 1ull << 51 : 0;
	m.pt = n ? &pt : NULL;
	Sevmon__V1__GatherRequest *b =
		(Sevmon__V1__GatherRequest *)roundtrip(&m.base, sevmon_v1_GatherRequest_fields, NULL);
	ASSERT_EQ(nstore.gr.has_pt, n != 0);
	if (n) {
		ASSERT(b->pt != NULL);
		ASSERT_UEQ(b->pt->root, pt.root);
		ASSERT_UEQ(b->pt->levels, 5);
		ASSERT_UEQ(b->pt->c_bit_mask, 1ull << 51);
		ASSERT_UEQ(nstore.gr.pt.root, pt.root);
		ASSERT_UEQ(nstore.gr.pt.c_bit_mask, 1ull << 51);
	} else {
		ASSERT(b->pt == NULL);
	}
	ASSERT_EQ(b->n_ranges, n);
	ASSERT_EQ(nstore.gr.ranges_count, n);
	for (size_t i = 0; i < n; i++) {
		ASSERT_UEQ(b->ranges[i]->addr, g_ranges[i].addr);
		ASSERT_UEQ(b->ranges[i]->len, g_ranges[i].len);
		ASSERT_EQ(b->ranges[i]->space, g_ranges[i].space);
	}
	protobuf_c_message_free_unpacked(&b->base, NULL);
}

TEST(proto_wire_gather_request_empty) { gather_request(0); }
TEST(proto_wire_gather_request_max_ranges) { gather_request(1024); }

TEST(proto_wire_gather_request_over_limit_rejected)
{
	Sevmon__V1__GatherRequest m = SEVMON__V1__GATHER_REQUEST__INIT;
	for (size_t i = 0; i < 1025; i++) {
		sevmon__v1__range__init(&g_ranges[i]);
		g_rp[i] = &g_ranges[i];
	}
	m.n_ranges = 1025;
	m.ranges = g_rp;
	static uint8_t buf[8192];
	ASSERT(sevmon__v1__gather_request__get_packed_size(&m) <= sizeof(buf));
	size_t n = sevmon__v1__gather_request__pack(&m, buf);
	pb_istream_t in = pb_istream_from_buffer(buf, n);
	ASSERT(!pb_decode(&in, sevmon_v1_GatherRequest_fields, &nstore));
}

TEST(proto_wire_range_result_fields)
{
	Sevmon__V1__RangeResult m = SEVMON__V1__RANGE_RESULT__INIT;
	char err[128];
	memset(err, 'e', 127);
	err[127] = 0;
	fill(big_in, 300, 3);
	m.data.data = big_in;
	m.data.len = 300;
	m.status = -9;
	m.error = err;
	Sevmon__V1__RangeResult *b = (Sevmon__V1__RangeResult *)roundtrip(
		&m.base, sevmon_v1_RangeResult_fields, hook_range_result);
	assert_bin_eq(b->data, m.data);
	ASSERT_EQ(b->status, -9);
	ASSERT_STREQ(b->error, err);
	protobuf_c_message_free_unpacked(&b->base, NULL);
}

static void gather_response(size_t n)
{
	Sevmon__V1__GatherResponse m = SEVMON__V1__GATHER_RESPONSE__INIT;
	static Sevmon__V1__RangeResult rr[T_MAX_ITEMS], *rrp[T_MAX_ITEMS];
	static uint8_t data[T_MAX_ITEMS][T_ITEM_BYTES];
	static char errs[T_MAX_ITEMS][32];
	for (size_t i = 0; i < n; i++) {
		sevmon__v1__range_result__init(&rr[i]);
		size_t len = (i * 37) % (T_ITEM_BYTES + 1);
		if (i == n - 1)
			len = T_ITEM_BYTES;
		fill(data[i], len, (unsigned)i);
		rr[i].data.data = data[i];
		rr[i].data.len = len;
		if (i % 3 == 1) {
			rr[i].status = i == 1 ? INT32_MIN : -(int32_t)i;
			snprintf(errs[i], sizeof(errs[i]), "range %zu failed", i);
			rr[i].error = errs[i];
			rr[i].data.len = 0;
		}
		rrp[i] = &rr[i];
	}
	m.n_results = n;
	m.results = rrp;
	Sevmon__V1__GatherResponse *b = (Sevmon__V1__GatherResponse *)roundtrip(
		&m.base, sevmon_v1_GatherResponse_fields, hook_gather_resp);
	ASSERT_EQ(items.n, n);
	ASSERT_EQ(b->n_results, n);
	for (size_t i = 0; i < n; i++) {
		assert_bin_eq(b->results[i]->data, rr[i].data);
		ASSERT_EQ(b->results[i]->status, rr[i].status);
		ASSERT_STREQ(b->results[i]->error, rr[i].error);
	}
	protobuf_c_message_free_unpacked(&b->base, NULL);
}

TEST(proto_wire_gather_response_empty) { gather_response(0); }
TEST(proto_wire_gather_response_many) { gather_response(T_MAX_ITEMS); }

TEST(proto_wire_field_window_edges)
{
	Sevmon__V1__FieldWindow m = SEVMON__V1__FIELD_WINDOW__INIT;
	m.offset = UINT32_MAX;
	m.len = 0;
	m.deref = 1;
	m.deref_offset = UINT32_MAX;
	m.deref_len = UINT32_MAX - 1;
	Sevmon__V1__FieldWindow *b =
		(Sevmon__V1__FieldWindow *)roundtrip(&m.base, sevmon_v1_FieldWindow_fields, NULL);
	ASSERT_UEQ(b->offset, UINT32_MAX);
	ASSERT_UEQ(b->len, 0);
	ASSERT_EQ(b->deref, 1);
	ASSERT_UEQ(b->deref_offset, UINT32_MAX);
	ASSERT_UEQ(b->deref_len, UINT32_MAX - 1);
	protobuf_c_message_free_unpacked(&b->base, NULL);
}

static void walk_request(size_t nf, uint64_t head)
{
	Sevmon__V1__WalkListRequest m = SEVMON__V1__WALK_LIST_REQUEST__INIT;
	Sevmon__V1__FieldWindow fw[17], *fp[17];
	for (size_t i = 0; i < nf; i++) {
		sevmon__v1__field_window__init(&fw[i]);
		fw[i].offset = (uint32_t)(i * 8);
		fw[i].len = i == 0 ? UINT32_MAX : (uint32_t)i;
		fw[i].deref = i % 2;
		fw[i].deref_offset = (uint32_t)(i * 0x101);
		fw[i].deref_len = i == nf - 1 ? UINT32_MAX : (uint32_t)i * 4;
		fp[i] = &fw[i];
	}
	Sevmon__V1__PageTables pt = SEVMON__V1__PAGE_TABLES__INIT;
	pt.root = head & ~0xfffull;
	pt.levels = 4;
	pt.c_bit_mask = 1ull << 47;
	m.pt = head ? &pt : NULL;
	m.head = head;
	m.next_offset = head ? 8 : 0;
	m.n_fields = nf;
	m.fields = fp;
	m.max_nodes = head ? UINT32_MAX : 0;
	m.space = head ? SEVMON__V1__ADDR_SPACE__ADDR_SPACE_VIRT_PT : SEVMON__V1__ADDR_SPACE__ADDR_SPACE_PHYS;
	m.link_offset = head ? 0x4d8 : 0;
	Sevmon__V1__WalkListRequest *b = (Sevmon__V1__WalkListRequest *)roundtrip(
		&m.base, sevmon_v1_WalkListRequest_fields, NULL);
	ASSERT_UEQ(b->head, head);
	ASSERT_UEQ(b->next_offset, m.next_offset);
	ASSERT_EQ(b->n_fields, nf);
	ASSERT_EQ(nstore.wl.fields_count, nf);
	for (size_t i = 0; i < nf; i++) {
		ASSERT_UEQ(b->fields[i]->offset, fw[i].offset);
		ASSERT_UEQ(b->fields[i]->len, fw[i].len);
		ASSERT_EQ(b->fields[i]->deref, fw[i].deref);
		ASSERT_UEQ(b->fields[i]->deref_offset, fw[i].deref_offset);
		ASSERT_UEQ(b->fields[i]->deref_len, fw[i].deref_len);
		ASSERT_EQ(nstore.wl.fields[i].deref, fw[i].deref);
		ASSERT_UEQ(nstore.wl.fields[i].deref_len, fw[i].deref_len);
	}
	ASSERT_EQ(nstore.wl.has_pt, head != 0);
	ASSERT_EQ(b->pt != NULL, head != 0);
	if (head) {
		ASSERT_UEQ(b->pt->root, pt.root);
		ASSERT_UEQ(b->pt->levels, 4);
		ASSERT_UEQ(b->pt->c_bit_mask, pt.c_bit_mask);
	}
	ASSERT_UEQ(b->max_nodes, m.max_nodes);
	ASSERT_EQ(b->space, m.space);
	ASSERT_UEQ(b->link_offset, m.link_offset);
	protobuf_c_message_free_unpacked(&b->base, NULL);
}

TEST(proto_wire_walk_list_request_zero) { walk_request(0, 0); }
TEST(proto_wire_walk_list_request_max) { walk_request(16, UINT64_MAX); }

TEST(proto_wire_walk_list_request_over_limit_rejected)
{
	Sevmon__V1__WalkListRequest m = SEVMON__V1__WALK_LIST_REQUEST__INIT;
	Sevmon__V1__FieldWindow fw[17], *fp[17];
	for (size_t i = 0; i < 17; i++) {
		sevmon__v1__field_window__init(&fw[i]);
		fp[i] = &fw[i];
	}
	m.n_fields = 17;
	m.fields = fp;
	uint8_t buf[256];
	size_t n = sevmon__v1__walk_list_request__pack(&m, buf);
	pb_istream_t in = pb_istream_from_buffer(buf, n);
	ASSERT(!pb_decode(&in, sevmon_v1_WalkListRequest_fields, &nstore));
}

TEST(proto_wire_walk_node_fields)
{
	Sevmon__V1__WalkNode m = SEVMON__V1__WALK_NODE__INIT;
	fill(big_in, 1000, 9);
	m.addr = UINT64_MAX;
	m.fields.data = big_in;
	m.fields.len = 1000;
	m.faults = 0x80000001u;
	Sevmon__V1__WalkNode *b =
		(Sevmon__V1__WalkNode *)roundtrip(&m.base, sevmon_v1_WalkNode_fields, hook_walk_node);
	ASSERT_UEQ(b->addr, UINT64_MAX);
	ASSERT_UEQ(b->faults, 0x80000001u);
	assert_bin_eq(b->fields, m.fields);
	protobuf_c_message_free_unpacked(&b->base, NULL);
}

static void walk_response(size_t n, Sevmon__V1__WalkStop stop, int32_t status, const char *err)
{
	Sevmon__V1__WalkListResponse m = SEVMON__V1__WALK_LIST_RESPONSE__INIT;
	static Sevmon__V1__WalkNode wn[T_MAX_ITEMS], *wp[T_MAX_ITEMS];
	static uint8_t data[T_MAX_ITEMS][T_ITEM_BYTES];
	for (size_t i = 0; i < n; i++) {
		sevmon__v1__walk_node__init(&wn[i]);
		wn[i].addr = 0xffff888000000000ull + i * 0x1000;
		size_t len = i == 0 ? 0 : (i * 53) % (T_ITEM_BYTES + 1);
		fill(data[i], len, (unsigned)i);
		wn[i].fields.data = data[i];
		wn[i].fields.len = len;
		wn[i].faults = i % 4 == 3 ? (uint32_t)(1u << (i % 32)) : 0;
		wp[i] = &wn[i];
	}
	m.n_nodes = n;
	m.nodes = wp;
	m.stop = stop;
	m.status = status;
	m.error = (char *)err;
	Sevmon__V1__WalkListResponse *b = (Sevmon__V1__WalkListResponse *)roundtrip(
		&m.base, sevmon_v1_WalkListResponse_fields, hook_walk_resp);
	ASSERT_EQ(items.n, n);
	ASSERT_EQ(b->n_nodes, n);
	for (size_t i = 0; i < n; i++) {
		ASSERT_UEQ(b->nodes[i]->addr, wn[i].addr);
		ASSERT_UEQ(b->nodes[i]->faults, wn[i].faults);
		ASSERT_UEQ(items.it[i].faults, wn[i].faults);
		assert_bin_eq(b->nodes[i]->fields, wn[i].fields);
	}
	ASSERT_EQ(b->stop, stop);
	ASSERT_EQ(b->status, status);
	ASSERT_STREQ(b->error, err);
	protobuf_c_message_free_unpacked(&b->base, NULL);
}

TEST(proto_wire_walk_list_response_empty)
{
	walk_response(0, SEVMON__V1__WALK_STOP__WALK_STOP_HEAD, 0, "");
}

TEST(proto_wire_walk_list_response_many)
{
	walk_response(T_MAX_ITEMS, SEVMON__V1__WALK_STOP__WALK_STOP_FAULT, -9, "next pointer unmapped");
}

/* ---- a third implementation: protoc --decode ---- */

/* Run protoc --decode=sevmon.v1.<type> on bytes; return its text output (malloc'd). */
static char *protoc_decode(const char *type, const uint8_t *bytes, size_t len)
{
	const char *protoc = getenv("SEVMON_PROTOC"), *idl = getenv("SEVMON_IDL_DIR");
	char path[] = "/tmp/sevmon-wire-XXXXXX";
	ASSERT(protoc != NULL && idl != NULL);
	int fd = mkstemp(path);
	ASSERT(fd >= 0);
	ASSERT_EQ(write(fd, bytes, len), (ssize_t)len);
	close(fd);
	char cmd[2048];
	snprintf(cmd, sizeof(cmd), "'%s' --decode=sevmon.v1.%s -I'%s' '%s/sevmon.proto' < '%s'",
		 protoc, type, idl, idl, path);
	FILE *p = popen(cmd, "r");
	ASSERT(p != NULL);
	size_t cap = 1 << 20, n = 0;
	char *out = malloc(cap);
	ASSERT(out != NULL);
	size_t got;
	while ((got = fread(out + n, 1, cap - 1 - n, p)) > 0)
		n += got;
	out[n] = 0;
	ASSERT_EQ(pclose(p), 0);
	unlink(path);
	return out;
}

TEST(proto_wire_protoc_decodes_read_request)
{
	Sevmon__V1__ReadVirtRequest m = SEVMON__V1__READ_VIRT_REQUEST__INIT;
	m.addr = UINT64_MAX;
	m.len = 4096;
	Sevmon__V1__ReadVirtRequest *b = (Sevmon__V1__ReadVirtRequest *)roundtrip(
		&m.base, sevmon_v1_ReadVirtRequest_fields, NULL);
	protobuf_c_message_free_unpacked(&b->base, NULL);
	char want[256];
	snprintf(want, sizeof(want), "addr: %llu\nlen: %u\n", (unsigned long long)m.addr, m.len);
	char *got = protoc_decode("ReadVirtRequest", npb_bytes, npb_len);
	ASSERT_STREQ(got, want);
	free(got);
}

TEST(proto_wire_protoc_decodes_gather_request)
{
	Sevmon__V1__GatherRequest m = SEVMON__V1__GATHER_REQUEST__INIT;
	Sevmon__V1__Range r[2], *rp[2] = { &r[0], &r[1] };
	sevmon__v1__range__init(&r[0]);
	sevmon__v1__range__init(&r[1]);
	r[0].addr = 0x1000;
	r[0].len = 8;
	r[1].addr = 0xffffffff82000000ull;
	r[1].len = 64;
	r[1].space = SEVMON__V1__ADDR_SPACE__ADDR_SPACE_VIRT;
	m.n_ranges = 2;
	m.ranges = rp;
	Sevmon__V1__GatherRequest *b =
		(Sevmon__V1__GatherRequest *)roundtrip(&m.base, sevmon_v1_GatherRequest_fields, NULL);
	protobuf_c_message_free_unpacked(&b->base, NULL);
	char want[512];
	snprintf(want, sizeof(want),
		 "ranges {\n  addr: %llu\n  len: %u\n}\nranges {\n  addr: %llu\n  len: %u\n  space: ADDR_SPACE_VIRT\n}\n",
		 (unsigned long long)r[0].addr, r[0].len, (unsigned long long)r[1].addr, r[1].len);
	char *got = protoc_decode("GatherRequest", npb_bytes, npb_len);
	ASSERT_STREQ(got, want);
	free(got);
}

TEST(proto_wire_protoc_decodes_walk_list_response)
{
	Sevmon__V1__WalkListResponse m = SEVMON__V1__WALK_LIST_RESPONSE__INIT;
	Sevmon__V1__WalkNode n = SEVMON__V1__WALK_NODE__INIT, *np = &n;
	n.addr = 0xffff888001234000ull;
	n.fields.data = (uint8_t *)"swapper/0";
	n.fields.len = 9;
	m.n_nodes = 1;
	m.nodes = &np;
	m.stop = SEVMON__V1__WALK_STOP__WALK_STOP_CYCLE;
	m.status = -9;
	m.error = (char *)"loop";
	Sevmon__V1__WalkListResponse *b = (Sevmon__V1__WalkListResponse *)roundtrip(
		&m.base, sevmon_v1_WalkListResponse_fields, hook_walk_resp);
	protobuf_c_message_free_unpacked(&b->base, NULL);
	char want[512];
	snprintf(want, sizeof(want),
		 "nodes {\n  addr: %llu\n  fields: \"swapper/0\"\n}\nstop: WALK_STOP_CYCLE\nstatus: -9\nerror: \"loop\"\n",
		 (unsigned long long)n.addr);
	char *got = protoc_decode("WalkListResponse", npb_bytes, npb_len);
	ASSERT_STREQ(got, want);
	free(got);
}

TEST(proto_wire_protoc_decodes_get_info_response)
{
	Sevmon__V1__GetInfoResponse m = SEVMON__V1__GET_INFO_RESPONSE__INIT;
	uint32_t meth[2] = { 1, 65535 };
	m.agent_version = (char *)"sevmon-agent 0.1.0";
	m.memory_source = (char *)"kcore";
	m.virt_supported = 1;
	m.max_read = 65536;
	m.n_methods = 2;
	m.methods = meth;
	Sevmon__V1__GetInfoResponse *b = (Sevmon__V1__GetInfoResponse *)roundtrip(
		&m.base, sevmon_v1_GetInfoResponse_fields, NULL);
	protobuf_c_message_free_unpacked(&b->base, NULL);
	char want[512];
	snprintf(want, sizeof(want),
		 "agent_version: \"%s\"\nmemory_source: \"%s\"\nvirt_supported: true\nmax_read: %u\nmethods: %u\nmethods: %u\n",
		 m.agent_version, m.memory_source, m.max_read, meth[0], meth[1]);
	char *got = protoc_decode("GetInfoResponse", npb_bytes, npb_len);
	ASSERT_STREQ(got, want);
	free(got);
}

TEST_MAIN()
