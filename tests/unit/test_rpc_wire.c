#include <stdlib.h>

#include "err.h"
#include "harness.h"
#include "rpc_wire.h"

TEST(rpc_hdr_roundtrip)
{
	struct rpc_hdr h = { .id = 0x01020304, .method = 7, .flags = RPC_F_END | RPC_F_ERROR,
			     .status = 9, .deadline_ms = 1500, .total_len = 3 };
	uint8_t msg[RPC_HDR_LEN + 3];
	rpc_hdr_write(msg, &h);
	memcpy(msg + RPC_HDR_LEN, "xyz", 3);
	struct rpc_hdr g;
	const uint8_t *frag;
	size_t flen;
	ASSERT_EQ(rpc_hdr_parse(msg, sizeof msg, &g, &frag, &flen), 0);
	ASSERT_UEQ(g.id, h.id);
	ASSERT_EQ(g.method, 7);
	ASSERT_EQ(g.flags, RPC_F_END | RPC_F_ERROR);
	ASSERT_EQ(g.status, 9);
	ASSERT_EQ(g.deadline_ms, 1500);
	ASSERT_EQ(flen, 3);
	ASSERT_MEMEQ(frag, "xyz", 3);
}

TEST(rpc_hdr_parse_truncated)
{
	uint8_t msg[RPC_HDR_LEN] = { 0 };
	struct rpc_hdr g;
	const uint8_t *frag;
	size_t flen;
	for (size_t n = 0; n < RPC_HDR_LEN; n++)
		ASSERT_EQ(rpc_hdr_parse(msg, n, &g, &frag, &flen), SEVMON_ETRUNC);
	ASSERT_EQ(rpc_hdr_parse(msg, RPC_HDR_LEN, &g, &frag, &flen), 0);
}

TEST(rpc_hdr_parse_bad_fields)
{
	struct rpc_hdr h = { .id = 1, .method = 1, .flags = RPC_F_END, .total_len = 0 };
	uint8_t msg[RPC_HDR_LEN + 4];
	struct rpc_hdr g;
	const uint8_t *frag;
	size_t flen;

	rpc_hdr_write(msg, &h);
	msg[7] = 1; /* reserved */
	ASSERT_EQ(rpc_hdr_parse(msg, RPC_HDR_LEN, &g, &frag, &flen), SEVMON_EPROTO);
	rpc_hdr_write(msg, &h);
	msg[6] = 0x80; /* unknown flag */
	ASSERT_EQ(rpc_hdr_parse(msg, RPC_HDR_LEN, &g, &frag, &flen), SEVMON_EPROTO);
	rpc_hdr_write(msg, &h); /* fragment longer than the declared total */
	ASSERT_EQ(rpc_hdr_parse(msg, sizeof msg, &g, &frag, &flen), SEVMON_EPROTO);
	h.flags = RPC_F_CANCEL | RPC_F_ERROR;
	h.status = 3;
	rpc_hdr_write(msg, &h);
	ASSERT_EQ(rpc_hdr_parse(msg, RPC_HDR_LEN, &g, &frag, &flen), SEVMON_EPROTO);
	h.flags = RPC_F_ERROR | RPC_F_END;
	h.status = 0; /* error without a status */
	rpc_hdr_write(msg, &h);
	ASSERT_EQ(rpc_hdr_parse(msg, RPC_HDR_LEN, &g, &frag, &flen), SEVMON_EPROTO);
}

static void roundtrip_fragments(size_t len, size_t max_msg, size_t expect_frags)
{
	uint8_t *payload = malloc(len + 1);
	for (size_t i = 0; i < len; i++)
		payload[i] = (uint8_t)(i * 7 + 3);
	struct rpc_hdr h = { .id = 5, .method = 2 };
	struct rpc_frag f;
	rpc_frag_init(&f, &h, payload, len, max_msg);
	uint8_t *out = malloc(max_msg);
	struct rpc_reasm ra = { 0 };
	size_t n, frags = 0;
	int done = 0;
	while ((n = rpc_frag_next(&f, out)) > 0) {
		struct rpc_hdr g;
		const uint8_t *frag;
		size_t flen;
		ASSERT(n <= max_msg);
		ASSERT_EQ(rpc_hdr_parse(out, n, &g, &frag, &flen), 0);
		ASSERT_EQ(g.total_len, len);
		ASSERT_EQ(done, 0);
		int rc = rpc_reasm_add(&ra, &g, frag, flen, 1u << 24);
		ASSERT(rc >= 0);
		done = rc;
		frags++;
	}
	ASSERT_EQ(done, 1);
	ASSERT_EQ(frags, expect_frags);
	ASSERT_EQ(ra.len, len);
	ASSERT_MEMEQ(ra.buf, payload, len);
	rpc_reasm_reset(&ra);
	free(out);
	free(payload);
}

TEST(rpc_frag_reassemble_sizes)
{
	roundtrip_fragments(0, 100, 1);
	roundtrip_fragments(80, 100, 1);
	roundtrip_fragments(81, 100, 2);
	roundtrip_fragments(160, 100, 2);
	roundtrip_fragments(1000000, 65535, 16);
}

TEST(rpc_reasm_add_over_limit)
{
	struct rpc_hdr h = { .id = 1, .flags = 0, .total_len = 1000 };
	struct rpc_reasm ra = { 0 };
	uint8_t b[10] = { 0 };
	ASSERT_EQ(rpc_reasm_add(&ra, &h, b, 10, 999), SEVMON_ETOOBIG);
	rpc_reasm_reset(&ra);
}

TEST(rpc_reasm_add_inconsistent)
{
	struct rpc_reasm ra = { 0 };
	uint8_t b[10] = { 0 };
	struct rpc_hdr cont = { .id = 1, .flags = RPC_F_CONT | RPC_F_END, .total_len = 10 };
	ASSERT_EQ(rpc_reasm_add(&ra, &cont, b, 10, 100), SEVMON_EPROTO); /* no start */

	struct rpc_hdr first = { .id = 1, .flags = 0, .total_len = 10 };
	ASSERT_EQ(rpc_reasm_add(&ra, &first, b, 4, 100), 0);
	struct rpc_hdr changed = { .id = 1, .flags = RPC_F_CONT, .total_len = 11 };
	ASSERT_EQ(rpc_reasm_add(&ra, &changed, b, 4, 100), SEVMON_EPROTO);
	rpc_reasm_reset(&ra);

	ASSERT_EQ(rpc_reasm_add(&ra, &first, b, 4, 100), 0);
	struct rpc_hdr early_end = { .id = 1, .flags = RPC_F_CONT | RPC_F_END, .total_len = 10 };
	ASSERT_EQ(rpc_reasm_add(&ra, &early_end, b, 4, 100), SEVMON_EPROTO);
	rpc_reasm_reset(&ra);

	ASSERT_EQ(rpc_reasm_add(&ra, &first, b, 4, 100), 0);
	struct rpc_hdr over = { .id = 1, .flags = RPC_F_CONT, .total_len = 10 };
	ASSERT_EQ(rpc_reasm_add(&ra, &over, b, 7, 100), SEVMON_EPROTO);
	rpc_reasm_reset(&ra);
}

TEST_MAIN()
