/* Ring basics over private memory: the record format, wrap-around, full and limits. */
#include <stdlib.h>

#include "err.h"
#include "frame.h"
#include "harness.h"
#include "shm.h"

struct test_ring {
	_Atomic uint32_t head, tail;
	struct shm_ring prod, cons;
	uint8_t *data;
};

static void ring_setup(struct test_ring *t, uint32_t size, uint32_t start)
{
	t->data = calloc(1, size);
	ASSERT(t->data != NULL);
	atomic_store(&t->head, start);
	atomic_store(&t->tail, start);
	shm_ring_init(&t->prod, t->data, size, &t->head, &t->tail, start);
	shm_ring_init(&t->cons, t->data, size, &t->head, &t->tail, start);
}

static void fill(uint8_t *p, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed * 31u + i * 7u + (i >> 8));
}

static uint8_t in[FRAME_MAX_BODY], out[FRAME_MAX_BODY];

TEST(shm_ring_put_get_one_frame)
{
	struct test_ring t;
	ring_setup(&t, 1024, 0);
	ASSERT_EQ(shm_ring_readable(&t.cons), 0);
	ASSERT_EQ(shm_ring_get(&t.cons, out, sizeof out), 0);
	fill(in, 100, 1);
	ASSERT_EQ(shm_ring_put(&t.prod, in, 100), 100);
	ASSERT_EQ(atomic_load(&t.head), 102); /* u16 length + body */
	ASSERT_EQ(t.data[0], 0);
	ASSERT_EQ(t.data[1], 100); /* big-endian length, as on streams */
	ASSERT_EQ(shm_ring_readable(&t.cons), 1);
	ASSERT_EQ(shm_ring_get(&t.cons, out, sizeof out), 100);
	ASSERT_MEMEQ(in, out, 100);
	ASSERT_EQ(atomic_load(&t.tail), 102);
	ASSERT_EQ(shm_ring_get(&t.cons, out, sizeof out), 0);
	free(t.data);
}

TEST(shm_ring_put_get_many_frames_interleaved)
{
	struct test_ring t;
	ring_setup(&t, 4096, 0);
	uint32_t sent = 0, got = 0;
	srand(7);
	while (got < 5000) {
		/* queue a random number of frames, then drain a random number */
		int k = rand() % 8;
		for (int i = 0; i < k && sent < 5000; i++) {
			size_t len = 1 + (size_t)rand() % 300;
			fill(in, len, sent);
			int rc = shm_ring_put(&t.prod, in, len);
			if (rc == 0)
				break;
			ASSERT_EQ(rc, (int)len);
			sent++;
		}
		k = rand() % 8;
		for (int i = 0; i < k && got < sent; i++) {
			int rc = shm_ring_get(&t.cons, out, sizeof out);
			ASSERT(rc > 0);
			fill(in, (size_t)rc, got);
			ASSERT_MEMEQ(in, out, (size_t)rc);
			got++;
		}
	}
	ASSERT_EQ(shm_ring_get(&t.cons, out, sizeof out), 0);
	free(t.data);
}

TEST(shm_ring_put_get_wraps_at_every_offset)
{
	const uint32_t size = 256;
	const size_t lens[] = { 1, 2, 3, 100, 253, 254 };
	for (uint32_t off = 0; off < size; off++) {
		for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
			struct test_ring t;
			ring_setup(&t, size, off);
			fill(in, lens[k], off + (uint32_t)k);
			ASSERT_EQ(shm_ring_put(&t.prod, in, lens[k]), (int)lens[k]);
			memset(out, 0, lens[k]);
			ASSERT_EQ(shm_ring_get(&t.cons, out, sizeof out), (int)lens[k]);
			ASSERT_MEMEQ(in, out, lens[k]);
			ASSERT_EQ(atomic_load(&t.tail), off + 2 + lens[k]);
			free(t.data);
		}
	}
}

TEST(shm_ring_put_get_index_wraps_past_2_32)
{
	struct test_ring t;
	ring_setup(&t, 1024, 0xffffffffu - 150);
	for (uint32_t i = 0; i < 20; i++) {
		fill(in, 90, i);
		ASSERT_EQ(shm_ring_put(&t.prod, in, 90), 90);
		ASSERT_EQ(shm_ring_get(&t.cons, out, sizeof out), 90);
		ASSERT_MEMEQ(in, out, 90);
	}
	ASSERT(atomic_load(&t.head) < 2000); /* it did wrap */
	free(t.data);
}

TEST(shm_ring_put_full_ring_then_room_again)
{
	struct test_ring t;
	ring_setup(&t, 1024, 0);
	int n = 0;
	fill(in, 98, 0);
	while (shm_ring_put(&t.prod, in, 98) == 98)
		n++;
	ASSERT_EQ(n, 1024 / 100);                 /* 100 bytes per record */
	ASSERT_EQ(shm_ring_writable(&t.prod, 98), 0);
	ASSERT_EQ(shm_ring_writable(&t.prod, 22), 1); /* 24 bytes left: exactly fits */
	ASSERT_EQ(shm_ring_put(&t.prod, in, 22), 22);
	ASSERT_EQ(shm_ring_put(&t.prod, in, 1), 0); /* now exactly full */
	ASSERT_EQ(atomic_load(&t.head) - atomic_load(&t.tail), 1024);
	ASSERT_EQ(shm_ring_get(&t.cons, out, sizeof out), 98);
	ASSERT_EQ(shm_ring_put(&t.prod, in, 98), 98);
	free(t.data);
}

TEST(shm_ring_put_max_size_frame)
{
	struct test_ring t;
	ring_setup(&t, SHM_RING_MIN, 1000);
	for (int i = 0; i < 3; i++) { /* the second and third wrap */
		fill(in, FRAME_MAX_BODY, (uint32_t)i);
		ASSERT_EQ(shm_ring_put(&t.prod, in, FRAME_MAX_BODY), (int)FRAME_MAX_BODY);
		ASSERT_EQ(shm_ring_get(&t.cons, out, sizeof out), (int)FRAME_MAX_BODY);
		ASSERT_MEMEQ(in, out, FRAME_MAX_BODY);
	}
	free(t.data);
}

TEST(shm_ring_put_bad_lengths_rejected)
{
	struct test_ring t;
	ring_setup(&t, 1024, 0);
	ASSERT_EQ(shm_ring_put(&t.prod, in, 0), SEVMON_EINVAL);
	ASSERT_EQ(shm_ring_put(&t.prod, in, FRAME_MAX_BODY + 1), SEVMON_ETOOBIG);
	ASSERT_EQ(shm_ring_put(&t.prod, in, 1023), SEVMON_ETOOBIG); /* could never fit */
	ASSERT_EQ(atomic_load(&t.head), 0);
	free(t.data);
}

TEST(shm_ring_get_zero_length_record_rejected)
{
	struct test_ring t;
	ring_setup(&t, 1024, 0);
	t.data[0] = 0;
	t.data[1] = 0;
	t.data[2] = 'x';
	atomic_store(&t.head, 3);
	ASSERT_EQ(shm_ring_get(&t.cons, out, sizeof out), SEVMON_EPROTO);
	ASSERT_EQ(atomic_load(&t.tail), 0); /* nothing consumed */
	free(t.data);
}

TEST(shm_ring_get_small_buffer_rejected)
{
	struct test_ring t;
	ring_setup(&t, 1024, 0);
	ASSERT_EQ(shm_ring_put(&t.prod, in, 5), 5);
	ASSERT_EQ(shm_ring_get(&t.cons, out, FRAME_MAX_BODY - 1), SEVMON_EINVAL);
	ASSERT_EQ(shm_ring_get(&t.cons, out, FRAME_MAX_BODY), 5);
	free(t.data);
}

TEST_MAIN()
