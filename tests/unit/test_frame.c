#include "err.h"
#include "frame.h"
#include "harness.h"
#include "rbuf.h"

static struct frame_reader fr;

TEST(frame_reader_feed_byte_by_byte)
{
	uint8_t wire[2 + 300];
	ASSERT_EQ(frame_header_write(wire, 300), 0);
	for (int i = 0; i < 300; i++)
		wire[2 + i] = (uint8_t)i;
	frame_reader_init(&fr);
	const uint8_t *body = NULL;
	size_t blen = 0;
	for (size_t i = 0; i < sizeof wire; i++) {
		long used = frame_reader_feed(&fr, wire + i, 1, &body, &blen);
		ASSERT_EQ(used, 1);
		if (i + 1 < sizeof wire)
			ASSERT(body == NULL);
	}
	ASSERT(body != NULL);
	ASSERT_EQ(blen, 300);
	ASSERT_MEMEQ(body, wire + 2, 300);
	ASSERT_EQ(frame_reader_pending(&fr), 0);
}

TEST(frame_reader_feed_two_frames_one_buffer)
{
	uint8_t wire[] = { 0, 3, 'a', 'b', 'c', 0, 1, 'z', 0 };
	frame_reader_init(&fr);
	const uint8_t *body;
	size_t blen;
	long used = frame_reader_feed(&fr, wire, sizeof wire, &body, &blen);
	ASSERT_EQ(used, 5);
	ASSERT_EQ(blen, 3);
	ASSERT_MEMEQ(body, "abc", 3);
	used = frame_reader_feed(&fr, wire + 5, sizeof wire - 5, &body, &blen);
	ASSERT_EQ(used, 3);
	ASSERT_EQ(blen, 1);
	ASSERT_EQ(body[0], 'z');
	used = frame_reader_feed(&fr, wire + 8, 1, &body, &blen);
	ASSERT_EQ(used, 1);
	ASSERT(body == NULL);
	ASSERT_EQ(frame_reader_pending(&fr), 1); /* a truncated header is visible at EOF */
}

TEST(frame_reader_feed_zero_length_rejected)
{
	uint8_t wire[] = { 0, 0, 1 };
	const uint8_t *body;
	size_t blen;
	frame_reader_init(&fr);
	ASSERT_EQ(frame_reader_feed(&fr, wire, sizeof wire, &body, &blen), SEVMON_EPROTO);
}

TEST(frame_reader_feed_max_body)
{
	static uint8_t wire[2 + FRAME_MAX_BODY];
	ASSERT_EQ(frame_header_write(wire, FRAME_MAX_BODY), 0);
	memset(wire + 2, 0x5a, FRAME_MAX_BODY);
	const uint8_t *body;
	size_t blen;
	frame_reader_init(&fr);
	ASSERT_EQ(frame_reader_feed(&fr, wire, sizeof wire, &body, &blen), (long)sizeof wire);
	ASSERT_EQ(blen, FRAME_MAX_BODY);
}

TEST(frame_header_write_limits)
{
	uint8_t h[2];
	ASSERT_EQ(frame_header_write(h, 0), SEVMON_EINVAL);
	ASSERT_EQ(frame_header_write(h, FRAME_MAX_BODY + 1), SEVMON_ETOOBIG);
	ASSERT_EQ(frame_header_write(h, 258), 0);
	ASSERT_EQ(h[0], 1);
	ASSERT_EQ(h[1], 2);
}

TEST_MAIN()
