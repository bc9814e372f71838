#include "err.h"
#include "harness.h"
#include "rbuf.h"

TEST(rbuf_get_be32_exact)
{
	const uint8_t b[] = { 0x01, 0x02, 0x03, 0x04 };
	struct rbuf r = rbuf_make(b, sizeof b);
	uint32_t v = 0;
	ASSERT_EQ(rbuf_get_be32(&r, &v), 0);
	ASSERT_UEQ(v, 0x01020304);
	ASSERT_EQ(rbuf_left(&r), 0);
}

TEST(rbuf_get_be64_truncated_leaves_cursor)
{
	const uint8_t b[7] = { 0 };
	struct rbuf r = rbuf_make(b, sizeof b);
	uint64_t v = 42;
	ASSERT_EQ(rbuf_get_be64(&r, &v), SEVMON_ETRUNC);
	ASSERT_EQ(rbuf_left(&r), 7);
	ASSERT_EQ(v, 42);
}

TEST(rbuf_get_le_values)
{
	const uint8_t b[] = { 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a };
	struct rbuf r = rbuf_make(b, sizeof b);
	uint16_t a;
	uint64_t c;
	ASSERT_EQ(rbuf_get_le16(&r, &a), 0);
	ASSERT_UEQ(a, 0x0201);
	ASSERT_EQ(rbuf_get_le64(&r, &c), 0);
	ASSERT_UEQ(c, 0x0a09080706050403ull);
}

TEST(rbuf_peek_at_overflow_rejected)
{
	const uint8_t b[16] = { 0 };
	struct rbuf r = rbuf_make(b, sizeof b), s;
	ASSERT_EQ(rbuf_peek_at(&r, 8, 8, &s), 0);
	ASSERT_EQ(rbuf_left(&s), 8);
	ASSERT_EQ(rbuf_peek_at(&r, 8, 9, &s), SEVMON_ETRUNC);
	ASSERT_EQ(rbuf_peek_at(&r, 17, 0, &s), SEVMON_ETRUNC);
	ASSERT_EQ(rbuf_peek_at(&r, 1, SIZE_MAX, &s), SEVMON_ETRUNC);
	ASSERT_EQ(rbuf_peek_at(&r, SIZE_MAX, 2, &s), SEVMON_ETRUNC);
}

TEST(rbuf_get_sub_advances_parent)
{
	const uint8_t b[] = "abcdef";
	struct rbuf r = rbuf_make(b, 6), s;
	ASSERT_EQ(rbuf_get_sub(&r, &s, 4), 0);
	ASSERT_EQ(rbuf_left(&r), 2);
	ASSERT_EQ(rbuf_left(&s), 4);
	ASSERT_EQ(rbuf_get_sub(&r, &s, 3), SEVMON_ETRUNC);
}

TEST(wbuf_put_overflow_unchanged)
{
	uint8_t b[6];
	struct wbuf w = wbuf_make(b, sizeof b);
	ASSERT_EQ(wbuf_put_be32(&w, 0xdeadbeef), 0);
	ASSERT_EQ(wbuf_put_be32(&w, 1), SEVMON_ETOOBIG);
	ASSERT_EQ(w.len, 4);
	ASSERT_EQ(wbuf_put_be16(&w, 0x1234), 0);
	ASSERT_EQ(w.len, 6);
	ASSERT_UEQ(load_be32(b), 0xdeadbeef);
	ASSERT_UEQ(load_be16(b + 4), 0x1234);
}

TEST_MAIN()
