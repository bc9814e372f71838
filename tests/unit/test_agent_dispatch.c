/*
 * test_agent_dispatch.c — the generated method table and agent_dispatch().
 *
 * The handlers below stand in for the agent's (which live in agent-svc); they use
 * the same nanopb callback pattern a real handler uses to stream reply bytes.
 */
#include <pb_common.h>
#include <pb_decode.h>
#include <pb_encode.h>

#include "agent_dispatch.h"
#include "err.h"
#include "harness.h"
#include "sevmon.pb-c.h"

struct agent_call {
	int calls;
	uint32_t seen_ranges;
};

static uint8_t arena[4096];

static bool enc_arena(pb_ostream_t *s, const pb_field_t *f, void *const *arg)
{
	size_t n = *(const size_t *)*arg;
	return pb_encode_tag_for_field(s, f) && pb_encode_string(s, arena, n);
}

static size_t read_len;

int agent_handle_get_info(struct agent_call *call, const sevmon_v1_GetInfoRequest *req,
			  sevmon_v1_GetInfoResponse *resp)
{
	(void)req;
	call->calls++;
	strcpy(resp->agent_version, "test-agent");
	resp->max_read = sizeof(arena);
	resp->methods_count = (pb_size_t)sevmon_agent_methods_count;
	for (size_t i = 0; i < sevmon_agent_methods_count; i++)
		resp->methods[i] = sevmon_agent_methods[i].id;
	return 0;
}

int agent_handle_read_phys(struct agent_call *call, const sevmon_v1_ReadPhysRequest *req,
			   sevmon_v1_ReadResponse *resp)
{
	call->calls++;
	if (req->len > sizeof(arena))
		return SEVMON_ETOOBIG;
	for (uint32_t i = 0; i < req->len; i++)
		arena[i] = (uint8_t)(req->addr + i);
	read_len = req->len;
	resp->data.funcs.encode = enc_arena;
	resp->data.arg = &read_len;
	return 0;
}

int agent_handle_read_virt(struct agent_call *call, const sevmon_v1_ReadVirtRequest *req,
			   sevmon_v1_ReadResponse *resp)
{
	(void)req;
	(void)resp;
	call->calls++;
	return SEVMON_EFAULT;
}

int agent_handle_gather(struct agent_call *call, const sevmon_v1_GatherRequest *req,
			sevmon_v1_GatherResponse *resp)
{
	(void)resp;
	call->calls++;
	call->seen_ranges = req->ranges_count;
	return 0;
}

int agent_handle_walk_list(struct agent_call *call, const sevmon_v1_WalkListRequest *req,
			   sevmon_v1_WalkListResponse *resp)
{
	(void)req;
	(void)resp;
	call->calls++;
	return 5; /* a buggy handler: positive */
}

int agent_handle_scan(struct agent_call *call, const sevmon_v1_ScanRequest *req,
		      sevmon_v1_ScanResponse *resp)
{
	(void)req;
	(void)resp;
	call->calls++;
	return 0;
}

int agent_handle_hash(struct agent_call *call, const sevmon_v1_HashRequest *req,
		      sevmon_v1_HashResponse *resp)
{
	(void)req;
	(void)resp;
	call->calls++;
	return 0;
}

static int run(uint16_t id, const uint8_t *req, size_t len, struct agent_call *call,
	       struct wbuf *out)
{
	const struct sevrpc_agent_method *m = sevmon_agent_method_find(id);
	ASSERT(m != NULL);
	return agent_dispatch(m, call, req, len, out);
}

TEST(agent_method_find_unknown_null)
{
	ASSERT(sevmon_agent_method_find(0) == NULL);
	ASSERT(sevmon_agent_method_find(8) == NULL);
	ASSERT(sevmon_agent_method_find(65535) == NULL);
}

TEST(agent_method_find_known_ids)
{
	const uint16_t ids[] = { SEVMON_AGENT_METHOD_GET_INFO, SEVMON_AGENT_METHOD_READ_PHYS,
				 SEVMON_AGENT_METHOD_READ_VIRT, SEVMON_AGENT_METHOD_GATHER,
				 SEVMON_AGENT_METHOD_WALK_LIST, SEVMON_AGENT_METHOD_SCAN,
				 SEVMON_AGENT_METHOD_HASH };
	const char *names[] = { "GetInfo", "ReadPhys", "ReadVirt", "Gather", "WalkList", "Scan",
				"Hash" };
	ASSERT_EQ(sevmon_agent_methods_count, 7);
	for (size_t i = 0; i < 7; i++) {
		const struct sevrpc_agent_method *m = sevmon_agent_method_find(ids[i]);
		ASSERT(m != NULL);
		ASSERT_EQ(m->id, ids[i]);
		ASSERT_STREQ(m->name, names[i]);
		ASSERT(m->req_size <= sizeof(union sevmon_agent_req_storage));
		ASSERT(m->resp_size <= sizeof(union sevmon_agent_resp_storage));
	}
	ASSERT_EQ(SEVMON_AGENT_METHOD_READ_PHYS, 2);
	ASSERT_EQ(sevmon_agent_method_find(2)->req_fields, sevmon_v1_ReadPhysRequest_fields);
	ASSERT_EQ(sevmon_agent_method_find(3)->resp_fields, sevmon_v1_ReadResponse_fields);
}

/* No field anywhere may be FT_POINTER: the agent must not allocate while decoding.
 * Requests must not hold callbacks either: the dispatcher sets none, so nanopb would
 * skip such a field silently. */
static void assert_no_pointer_fields(const pb_msgdesc_t *d, int depth, int is_req)
{
	pb_field_iter_t it;
	ASSERT(depth < 8);
	if (!pb_field_iter_begin_const(&it, d, NULL))
		return; /* no fields */
	do {
		ASSERT(PB_ATYPE(it.type) != PB_ATYPE_POINTER);
		if (is_req)
			ASSERT(PB_ATYPE(it.type) == PB_ATYPE_STATIC);
		if (PB_LTYPE_IS_SUBMSG(it.type) && it.submsg_desc != NULL)
			assert_no_pointer_fields(it.submsg_desc, depth + 1, is_req);
	} while (pb_field_iter_next(&it));
}

TEST(agent_methods_static_requests_no_pointer_fields)
{
	for (size_t i = 0; i < sevmon_agent_methods_count; i++) {
		assert_no_pointer_fields(sevmon_agent_methods[i].req_fields, 0, 1);
		assert_no_pointer_fields(sevmon_agent_methods[i].resp_fields, 0, 0);
	}
}

TEST(agent_dispatch_read_phys_streams_reply)
{
	struct agent_call call = { 0 };
	Sevmon__V1__ReadPhysRequest rq = SEVMON__V1__READ_PHYS_REQUEST__INIT;
	uint8_t req[32], outbuf[8192];
	rq.addr = 0x1234;
	rq.len = 1000;
	size_t n = sevmon__v1__read_phys_request__pack(&rq, req);
	struct wbuf out = wbuf_make(outbuf, sizeof(outbuf));
	out.len = 3; /* appends after what is there */
	ASSERT_EQ(run(2, req, n, &call, &out), 0);
	ASSERT_EQ(call.calls, 1);
	Sevmon__V1__ReadResponse *r = sevmon__v1__read_response__unpack(NULL, out.len - 3, outbuf + 3);
	ASSERT(r != NULL);
	ASSERT_EQ(r->data.len, 1000);
	for (size_t i = 0; i < 1000; i++)
		ASSERT_EQ(r->data.data[i], (uint8_t)(0x1234 + i));
	sevmon__v1__read_response__free_unpacked(r, NULL);
}

TEST(agent_dispatch_get_info_static_fields)
{
	struct agent_call call = { 0 };
	uint8_t outbuf[2048];
	struct wbuf out = wbuf_make(outbuf, sizeof(outbuf));
	ASSERT_EQ(run(1, NULL, 0, &call, &out), 0);
	Sevmon__V1__GetInfoResponse *r = sevmon__v1__get_info_response__unpack(NULL, out.len, outbuf);
	ASSERT(r != NULL);
	ASSERT_STREQ(r->agent_version, "test-agent");
	ASSERT_EQ(r->max_read, sizeof(arena));
	ASSERT_EQ(r->n_methods, 7);
	ASSERT_EQ(r->methods[4], 5);
	ASSERT_EQ(r->methods[5], 6);
	ASSERT_EQ(r->methods[6], 7);
	sevmon__v1__get_info_response__free_unpacked(r, NULL);
}

TEST(agent_dispatch_malformed_request_edecode)
{
	struct agent_call call = { 0 };
	uint8_t outbuf[64];
	struct wbuf out = wbuf_make(outbuf, sizeof(outbuf));
	const uint8_t truncated_varint[] = { 0x08, 0xff };
	const uint8_t bad_length[] = { 0x0a, 0x40, 0x08, 0x01 };
	const uint8_t bad_wiretype[] = { 0x0f };
	ASSERT_EQ(run(2, truncated_varint, sizeof(truncated_varint), &call, &out), SEVMON_EDECODE);
	ASSERT_EQ(run(4, bad_length, sizeof(bad_length), &call, &out), SEVMON_EDECODE);
	ASSERT_EQ(run(3, bad_wiretype, sizeof(bad_wiretype), &call, &out), SEVMON_EDECODE);
	ASSERT_EQ(call.calls, 0);
	ASSERT_EQ(out.len, 0);
}

TEST(agent_dispatch_gather_over_limit_edecode)
{
	struct agent_call call = { 0 };
	static uint8_t req[2 * 1025];
	uint8_t outbuf[64];
	struct wbuf out = wbuf_make(outbuf, sizeof(outbuf));
	for (size_t i = 0; i < 1025; i++) {
		req[2 * i] = 0x0a; /* field 1, length-delimited: an empty Range */
		req[2 * i + 1] = 0;
	}
	ASSERT_EQ(run(4, req, 2 * 1024, &call, &out), 0);
	ASSERT_EQ(call.seen_ranges, 1024);
	ASSERT_EQ(run(4, req, sizeof(req), &call, &out), SEVMON_EDECODE);
	ASSERT_EQ(call.calls, 1);
}

TEST(agent_dispatch_handler_error_propagates)
{
	struct agent_call call = { 0 };
	uint8_t outbuf[64];
	struct wbuf out = wbuf_make(outbuf, sizeof(outbuf));
	ASSERT_EQ(run(3, NULL, 0, &call, &out), SEVMON_EFAULT);
	ASSERT_EQ(call.calls, 1);
	ASSERT_EQ(out.len, 0);
}

TEST(agent_dispatch_positive_handler_return_einternal)
{
	struct agent_call call = { 0 };
	uint8_t outbuf[64];
	struct wbuf out = wbuf_make(outbuf, sizeof(outbuf));
	ASSERT_EQ(run(5, NULL, 0, &call, &out), SEVMON_EINTERNAL);
	ASSERT_EQ(out.len, 0);
}

TEST(agent_dispatch_reply_too_big_etoobig)
{
	struct agent_call call = { 0 };
	Sevmon__V1__ReadPhysRequest rq = SEVMON__V1__READ_PHYS_REQUEST__INIT;
	uint8_t req[32], outbuf[600];
	rq.len = 1000;
	size_t n = sevmon__v1__read_phys_request__pack(&rq, req);
	struct wbuf out = wbuf_make(outbuf, sizeof(outbuf));
	ASSERT_EQ(run(2, req, n, &call, &out), SEVMON_ETOOBIG);
	ASSERT_EQ(out.len, 0);
}

TEST(agent_dispatch_null_args_einval)
{
	struct agent_call call = { 0 };
	uint8_t outbuf[8];
	struct wbuf out = wbuf_make(outbuf, sizeof(outbuf));
	ASSERT_EQ(agent_dispatch(NULL, &call, NULL, 0, &out), SEVMON_EINVAL);
	ASSERT_EQ(agent_dispatch(sevmon_agent_method_find(1), &call, NULL, 0, NULL), SEVMON_EINVAL);
	ASSERT_EQ(agent_dispatch(sevmon_agent_method_find(1), &call, NULL, 4, &out), SEVMON_EINVAL);
}

TEST_MAIN()
