/*
 * test_xport_msg.c — the blocking message pipe over a socketpair and over a shm session.
 */
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "err.h"
#include "frame.h"
#include "harness.h"
#include "shm.h"
#include "xport_msg.h"

static uint8_t buf[FRAME_MAX_BODY];

TEST(xport_msg_fd_roundtrip_reads_one_frame_only)
{
	int sv[2];
	ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	struct xport_msg a = xport_msg_fd(sv[0]), b = xport_msg_fd(sv[1]);
	int64_t dl = shm_deadline_after_ms(2000);
	ASSERT_EQ(xport_msg_send(&a, (const uint8_t *)"hello", 5, dl), 0);
	ASSERT_EQ(xport_msg_send(&a, (const uint8_t *)"world!", 6, dl), 0);
	ASSERT_EQ(xport_msg_recv(&b, buf, sizeof buf, dl), 5);
	ASSERT(memcmp(buf, "hello", 5) == 0);
	/* the second frame is still whole in the socket: read it raw */
	uint8_t raw[8];
	ASSERT_EQ(read(sv[1], raw, sizeof raw), 8);
	ASSERT_EQ(raw[1], 6);
	ASSERT(memcmp(raw + 2, "world!", 6) == 0);
	close(sv[0]);
	close(sv[1]);
}

TEST(xport_msg_fd_max_body_and_bad_lengths)
{
	int sv[2];
	static uint8_t big[FRAME_MAX_BODY];
	ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	struct xport_msg a = xport_msg_fd(sv[0]), b = xport_msg_fd(sv[1]);
	int64_t dl = shm_deadline_after_ms(2000);
	for (size_t i = 0; i < sizeof big; i++)
		big[i] = (uint8_t)(i * 7u);
	if (fork() == 0) {
		_exit(xport_msg_send(&a, big, sizeof big, dl) == 0 ? 0 : 1);
	}
	ASSERT_EQ(xport_msg_recv(&b, buf, sizeof buf, dl), (int)FRAME_MAX_BODY);
	ASSERT(memcmp(buf, big, sizeof big) == 0);
	ASSERT_EQ(xport_msg_send(&a, big, 0, dl), SEVMON_EINVAL);
	ASSERT_EQ(xport_msg_send(&a, big, FRAME_MAX_BODY + 1u, dl), SEVMON_ETOOBIG);
	ASSERT_EQ(xport_msg_recv(&b, buf, 100, dl), SEVMON_EINVAL);
}

TEST(xport_msg_fd_zero_length_eof_and_timeout)
{
	int sv[2];
	ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	struct xport_msg b = xport_msg_fd(sv[1]);
	ASSERT_EQ(xport_msg_recv(&b, buf, sizeof buf, shm_deadline_after_ms(30)), SEVMON_ETIMEDOUT);
	ASSERT_EQ(write(sv[0], "\0\0", 2), 2);
	ASSERT_EQ(xport_msg_recv(&b, buf, sizeof buf, shm_deadline_after_ms(500)), SEVMON_EPROTO);
	ASSERT_EQ(write(sv[0], "\0\x09" "abc", 5), 5); /* 9 announced, 3 sent, then EOF */
	close(sv[0]);
	ASSERT_EQ(xport_msg_recv(&b, buf, sizeof buf, shm_deadline_after_ms(500)), SEVMON_ECONNRESET);
	close(sv[1]);
}

TEST(xport_msg_shm_roundtrip_and_reset)
{
	char path[96];
	struct shm_region r;
	struct shm_conn ca, cb;
	snprintf(path, sizeof path, "/dev/shm/sevmon-test-xmsg-%d", (int)getpid());
	ASSERT_EQ(shm_region_map(&r, path, SHM_REGION_DEFAULT, SHM_MAP_CREATE), 0);
	ASSERT_EQ(shm_conn_attach_start(&cb, &r, SHM_SIDE_B, NULL), 0);
	ASSERT_EQ(shm_conn_attach_start(&ca, &r, SHM_SIDE_A, NULL), 0);
	for (int i = 0; i < 4; i++) {
		shm_conn_attach_step(&ca);
		shm_conn_attach_step(&cb);
	}
	ASSERT_EQ(shm_conn_attach_step(&ca), 1);
	struct xport_msg a = xport_msg_shm(&ca), b = xport_msg_shm(&cb);
	int64_t dl = shm_deadline_after_ms(1000);
	ASSERT_EQ(xport_msg_send(&a, (const uint8_t *)"noise e", 7, dl), 0);
	ASSERT_EQ(xport_msg_recv(&b, buf, sizeof buf, dl), 7);
	ASSERT(memcmp(buf, "noise e", 7) == 0);
	ASSERT_EQ(xport_msg_recv(&b, buf, sizeof buf, shm_deadline_after_ms(20)), SEVMON_ETIMEDOUT);
	shm_conn_close(&ca);
	ASSERT_EQ(xport_msg_recv(&b, buf, sizeof buf, dl), SEVMON_ECONNRESET);
	shm_region_unmap(&r);
	unlink(path);
}

TEST_MAIN()
