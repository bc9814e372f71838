/*
 * test_sevrpc_client.c — the generated client stubs (sevmon.sevrpc-client.h).
 *
 * rpc_client_call below is a stand-in for ids-svc's: it records what the stub
 * passes and keeps the reply callback so the test can deliver a reply.
 */
#include "err.h"
#include "harness.h"
#include "sevmon.sevrpc-client.h"

typedef void (*rpc_reply_cb)(void *user, int status, const char *errmsg, const uint8_t *payload,
			     size_t len);
int rpc_client_call(struct rpc_client *c, uint16_t method, const uint8_t *payload, size_t len,
		    uint32_t timeout_ms, rpc_reply_cb cb, void *user, uint32_t *out_id);

static struct {
	int calls, rc;
	uint16_t method;
	uint8_t payload[4096];
	size_t len;
	uint32_t timeout_ms;
	rpc_reply_cb cb;
	void *user;
} stand_in;

int rpc_client_call(struct rpc_client *c, uint16_t method, const uint8_t *payload, size_t len,
		    uint32_t timeout_ms, rpc_reply_cb cb, void *user, uint32_t *out_id)
{
	(void)c;
	stand_in.calls++;
	if (stand_in.rc != 0)
		return stand_in.rc;
	ASSERT(len <= sizeof(stand_in.payload));
	stand_in.method = method;
	memcpy(stand_in.payload, payload, len);
	stand_in.len = len;
	stand_in.timeout_ms = timeout_ms;
	stand_in.cb = cb;
	stand_in.user = user;
	if (out_id)
		*out_id = 42;
	return 0;
}

/* Any non-NULL pointer will do: the stand-in never dereferences it. */
static struct rpc_client *const fake_client = (struct rpc_client *)&stand_in;

static struct {
	int calls, status;
	char errmsg[128];
	size_t data_len;
	uint8_t data[256];
	int had_resp;
} got;

static void on_read(void *user, int status, const char *errmsg, Sevmon__V1__ReadResponse *resp)
{
	ASSERT(user == &got);
	got.calls++;
	got.status = status;
	snprintf(got.errmsg, sizeof(got.errmsg), "%s", errmsg ? errmsg : "");
	got.had_resp = resp != NULL;
	if (resp) {
		ASSERT(resp->data.len <= sizeof(got.data));
		got.data_len = resp->data.len;
		memcpy(got.data, resp->data.data, resp->data.len);
	}
}

static void send_read_phys(uint64_t addr, uint32_t len)
{
	Sevmon__V1__ReadPhysRequest rq = SEVMON__V1__READ_PHYS_REQUEST__INIT;
	rq.addr = addr;
	rq.len = len;
	ASSERT_EQ(sevmon_agent_read_phys(fake_client, &rq, 250, on_read, &got), 0);
}

TEST(sevrpc_client_read_phys_packs_request)
{
	send_read_phys(UINT64_MAX, 4096);
	ASSERT_EQ(stand_in.calls, 1);
	ASSERT_EQ(stand_in.method, SEVMON_AGENT_METHOD_READ_PHYS);
	ASSERT_EQ(stand_in.method, 2);
	ASSERT_EQ(stand_in.timeout_ms, 250);
	Sevmon__V1__ReadPhysRequest *r =
		sevmon__v1__read_phys_request__unpack(NULL, stand_in.len, stand_in.payload);
	ASSERT(r != NULL);
	ASSERT_UEQ(r->addr, UINT64_MAX);
	ASSERT_EQ(r->len, 4096);
	sevmon__v1__read_phys_request__free_unpacked(r, NULL);
	stand_in.cb(stand_in.user, SEVMON_ECANCELED, NULL, NULL, 0); /* releases the context */
}

TEST(sevrpc_client_reply_roundtrip)
{
	send_read_phys(0x1000, 5);
	Sevmon__V1__ReadResponse rs = SEVMON__V1__READ_RESPONSE__INIT;
	uint8_t buf[64];
	rs.data.data = (uint8_t *)"\x01\x02\x03\x04\x05";
	rs.data.len = 5;
	size_t n = sevmon__v1__read_response__pack(&rs, buf);
	stand_in.cb(stand_in.user, 0, NULL, buf, n);
	ASSERT_EQ(got.calls, 1);
	ASSERT_EQ(got.status, 0);
	ASSERT(got.had_resp);
	ASSERT_EQ(got.data_len, 5);
	ASSERT_MEMEQ(got.data, "\x01\x02\x03\x04\x05", 5);
}

TEST(sevrpc_client_undecodable_reply_edecode)
{
	send_read_phys(0x1000, 5);
	const uint8_t bad[] = { 0x0a, 0x05, 0x01 }; /* bytes field longer than the payload */
	stand_in.cb(stand_in.user, 0, NULL, bad, sizeof(bad));
	ASSERT_EQ(got.calls, 1);
	ASSERT_EQ(got.status, SEVMON_EDECODE);
	ASSERT(!got.had_resp);
	ASSERT(strstr(got.errmsg, "ReadPhys") != NULL);
}

TEST(sevrpc_client_error_status_passes_through)
{
	send_read_phys(0, 1);
	stand_in.cb(stand_in.user, SEVMON_ETIMEDOUT, "deadline", NULL, 0);
	ASSERT_EQ(got.calls, 1);
	ASSERT_EQ(got.status, SEVMON_ETIMEDOUT);
	ASSERT_STREQ(got.errmsg, "deadline");
	ASSERT(!got.had_resp);
}

TEST(sevrpc_client_call_error_no_callback)
{
	Sevmon__V1__ReadPhysRequest rq = SEVMON__V1__READ_PHYS_REQUEST__INIT;
	stand_in.rc = SEVMON_EBUSY;
	ASSERT_EQ(sevmon_agent_read_phys(fake_client, &rq, 1, on_read, &got), SEVMON_EBUSY);
	ASSERT_EQ(stand_in.calls, 1);
	ASSERT_EQ(got.calls, 0);
	ASSERT_EQ(sevmon_agent_read_phys(NULL, &rq, 1, on_read, &got), SEVMON_EINVAL);
	ASSERT_EQ(sevmon_agent_read_phys(fake_client, NULL, 1, on_read, &got), SEVMON_EINVAL);
	ASSERT_EQ(stand_in.calls, 1);
}

static int gather_seen;
static void on_gather(void *user, int status, const char *errmsg, Sevmon__V1__GatherResponse *resp)
{
	(void)user;
	(void)errmsg;
	ASSERT_EQ(status, 0);
	ASSERT(resp != NULL);
	ASSERT_EQ(resp->n_results, 2);
	ASSERT_EQ(resp->results[1]->status, SEVMON_EFAULT);
	gather_seen = 1;
}

TEST(sevrpc_client_gather_roundtrip)
{
	Sevmon__V1__GatherRequest rq = SEVMON__V1__GATHER_REQUEST__INIT;
	Sevmon__V1__Range r[2], *rp[2] = { &r[0], &r[1] };
	sevmon__v1__range__init(&r[0]);
	sevmon__v1__range__init(&r[1]);
	r[1].addr = 77;
	rq.n_ranges = 2;
	rq.ranges = rp;
	ASSERT_EQ(sevmon_agent_gather(fake_client, &rq, 10, on_gather, NULL), 0);
	ASSERT_EQ(stand_in.method, SEVMON_AGENT_METHOD_GATHER);
	Sevmon__V1__GatherRequest *back =
		sevmon__v1__gather_request__unpack(NULL, stand_in.len, stand_in.payload);
	ASSERT(back != NULL);
	ASSERT_EQ(back->n_ranges, 2);
	ASSERT_UEQ(back->ranges[1]->addr, 77);
	sevmon__v1__gather_request__free_unpacked(back, NULL);

	Sevmon__V1__GatherResponse rs = SEVMON__V1__GATHER_RESPONSE__INIT;
	Sevmon__V1__RangeResult rr[2], *rrp[2] = { &rr[0], &rr[1] };
	sevmon__v1__range_result__init(&rr[0]);
	sevmon__v1__range_result__init(&rr[1]);
	rr[1].status = SEVMON_EFAULT;
	rs.n_results = 2;
	rs.results = rrp;
	uint8_t buf[64];
	size_t n = sevmon__v1__gather_response__pack(&rs, buf);
	stand_in.cb(stand_in.user, 0, NULL, buf, n);
	ASSERT_EQ(gather_seen, 1);
}

static int walk_status = 1;
static void on_walk(void *user, int status, const char *errmsg, Sevmon__V1__WalkListResponse *resp)
{
	(void)user;
	(void)errmsg;
	ASSERT(resp == NULL);
	walk_status = status;
}

TEST(sevrpc_client_every_method_uses_its_id)
{
	Sevmon__V1__GetInfoRequest gi = SEVMON__V1__GET_INFO_REQUEST__INIT;
	Sevmon__V1__ReadVirtRequest rv = SEVMON__V1__READ_VIRT_REQUEST__INIT;
	Sevmon__V1__WalkListRequest wl = SEVMON__V1__WALK_LIST_REQUEST__INIT;
	ASSERT_EQ(sevmon_agent_get_info(fake_client, &gi, 1, (sevmon_agent_get_info_cb)NULL, NULL),
		  SEVMON_EINVAL); /* a callback is required */
	ASSERT_EQ(stand_in.calls, 0);
	ASSERT_EQ(sevmon_agent_read_virt(fake_client, &rv, 1, on_read, &got), 0);
	ASSERT_EQ(stand_in.method, SEVMON_AGENT_METHOD_READ_VIRT);
	stand_in.cb(stand_in.user, SEVMON_ECONNRESET, NULL, NULL, 0);
	wl.head = 1;
	ASSERT_EQ(sevmon_agent_walk_list(fake_client, &wl, 1, on_walk, NULL), 0);
	ASSERT_EQ(stand_in.method, SEVMON_AGENT_METHOD_WALK_LIST);
	ASSERT_EQ(SEVMON_AGENT_METHOD_WALK_LIST, 5);
	stand_in.cb(stand_in.user, SEVMON_ECANCELED, NULL, NULL, 0);
	ASSERT_EQ(walk_status, SEVMON_ECANCELED);
	ASSERT_EQ(got.calls, 1);
}

TEST(sevrpc_client_id_variant_returns_request_id)
{
	Sevmon__V1__ReadPhysRequest req = SEVMON__V1__READ_PHYS_REQUEST__INIT;
	uint32_t id = 0;
	req.addr = 0x1000;
	req.len = 8;
	memset(&got, 0, sizeof got);
	ASSERT_EQ(sevmon_agent_read_phys_id(fake_client, &req, 500, on_read, &got, &id), 0);
	ASSERT_EQ(id, 42); /* what the stand-in rpc_client_call handed out */
	ASSERT_EQ(stand_in.method, SEVMON_AGENT_METHOD_READ_PHYS);
	ASSERT_EQ(stand_in.timeout_ms, 500);
	/* The reply thunk owns its context: a cancelled request still reaches the typed callback. */
	stand_in.cb(stand_in.user, SEVMON_ECANCELED, "canceled", NULL, 0);
	ASSERT_EQ(got.calls, 1);
	ASSERT_EQ(got.status, SEVMON_ECANCELED);
	ASSERT_EQ(got.had_resp, 0);
}

TEST(sevrpc_client_method_names)
{
	ASSERT_STREQ(sevmon_agent_method_name(1), "GetInfo");
	ASSERT_STREQ(sevmon_agent_method_name(SEVMON_AGENT_METHOD_READ_PHYS), "ReadPhys");
	ASSERT_STREQ(sevmon_agent_method_name(5), "WalkList");
	ASSERT(sevmon_agent_method_name(0) == NULL);
	ASSERT_STREQ(sevmon_agent_method_name(6), "Scan");
	ASSERT_STREQ(sevmon_agent_method_name(7), "Hash");
	ASSERT(sevmon_agent_method_name(8) == NULL);
	ASSERT(sevmon_agent_method_name(999) == NULL);
}

TEST_MAIN()
