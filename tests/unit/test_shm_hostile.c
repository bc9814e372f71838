/* A hostile peer: the test plays side B (or the host) by writing the region directly, and
 * checks that side A only ever returns valid data, EPROTO, ECONNRESET or ETIMEDOUT — never
 * an out-of-bounds access (run under ASan), a hang or a crash. */
#include <pthread.h>
#include <stdlib.h>

#include "clock.h"
#include "err.h"
#include "frame.h"
#include "harness.h"
#include "rbuf.h"
#include "shm.h"

static char path[128];
static uint8_t in[FRAME_MAX_BODY];
static uint8_t *out; /* exactly FRAME_MAX_BODY bytes on the heap, so ASan sees overruns */

static void region_new(struct shm_region *r)
{
	static int n;
	snprintf(path, sizeof path, "/dev/shm/sevmon-test-hostile-%d-%d", (int)getpid(), n++);
	unlink(path);
	ASSERT_EQ(shm_region_map(r, path, SHM_REGION_DEFAULT, SHM_MAP_CREATE), 0);
	unlink(path);
	if (!out)
		out = malloc(FRAME_MAX_BODY);
	ASSERT(out != NULL);
}

static void pair_up(struct shm_region *r, struct shm_conn *a, struct shm_conn *b)
{
	struct shm_opts o;
	shm_opts_default(&o, SHM_WAKE_FUTEX);
	o.spin_ns = 0;
	ASSERT_EQ(shm_conn_attach_start(b, r, SHM_SIDE_B, &o), 0);
	ASSERT_EQ(shm_conn_attach_start(a, r, SHM_SIDE_A, &o), 0);
	for (int i = 0; i < 4; i++) {
		shm_conn_attach_step(a);
		shm_conn_attach_step(b);
	}
	ASSERT_EQ(shm_conn_attach_step(a), 1);
	ASSERT_EQ(shm_conn_attach_step(b), 1);
}

static _Atomic uint32_t *word(struct shm_region *r, size_t off)
{
	return (_Atomic uint32_t *)(void *)(r->base + off);
}

/* Side B's transmit ring as the evil peer sees it. */
static uint8_t *ba_data(struct shm_region *r) { return r->base + load_le32(r->base + SHM_OFF_BA_OFF); }

TEST(shm_hostile_head_far_ahead_is_eproto)
{
	struct shm_region r;
	struct shm_conn a, b;
	region_new(&r);
	pair_up(&r, &a, &b);
	atomic_store(word(&r, SHM_OFF_BA_HEAD), 0x80000000u);
	ASSERT_EQ(shm_conn_recv_nb(&a, out, FRAME_MAX_BODY), SEVMON_EPROTO);
	ASSERT_EQ(shm_conn_send_nb(&a, "x", 1), SEVMON_EPROTO); /* latched: the connection is dead */
	ASSERT_EQ(shm_conn_wait(&a, SHM_READABLE, 0, shm_deadline_after_ms(1000)), SEVMON_EPROTO);
}

TEST(shm_hostile_head_one_past_ring_is_eproto)
{
	struct shm_region r;
	struct shm_conn a, b;
	region_new(&r);
	pair_up(&r, &a, &b);
	atomic_store(word(&r, SHM_OFF_BA_HEAD), b.tx.size + 1);
	ASSERT_EQ(shm_conn_wait(&a, SHM_READABLE, 0, shm_deadline_after_ms(1000)), SEVMON_EPROTO);
}

TEST(shm_hostile_head_behind_consumer_is_eproto)
{
	struct shm_region r;
	struct shm_conn a, b;
	region_new(&r);
	pair_up(&r, &a, &b);
	ASSERT_EQ(shm_conn_send_nb(&b, "hello", 5), 5);
	ASSERT_EQ(shm_conn_recv_nb(&a, out, FRAME_MAX_BODY), 5);
	atomic_store(word(&r, SHM_OFF_BA_HEAD), 6); /* consumer is at 7 */
	ASSERT_EQ(shm_conn_recv_nb(&a, out, FRAME_MAX_BODY), SEVMON_EPROTO);
}

TEST(shm_hostile_tail_ahead_of_producer_is_eproto)
{
	struct shm_region r;
	struct shm_conn a, b;
	region_new(&r);
	pair_up(&r, &a, &b);
	ASSERT_EQ(shm_conn_send_nb(&a, "abc", 3), 3);
	atomic_store(word(&r, SHM_OFF_AB_TAIL), 100); /* consumed more than was produced */
	ASSERT_EQ(shm_conn_send_nb(&a, "abc", 3), SEVMON_EPROTO);
}

TEST(shm_hostile_never_consumes_send_times_out)
{
	struct shm_region r;
	struct shm_conn a, b;
	region_new(&r);
	pair_up(&r, &a, &b);
	while (shm_conn_send_nb(&a, in, 1000) > 0)
		;
	int64_t t0 = clock_mono_ns();
	ASSERT_EQ(shm_conn_send(&a, in, 1000, t0 + 30 * 1000000), SEVMON_ETIMEDOUT);
	ASSERT(clock_mono_ns() - t0 >= 30 * 1000000);
}

/* Write a record as the evil producer: raw length bytes, n body bytes, head += adv. */
static void evil_record(struct shm_region *r, uint16_t len, uint32_t adv)
{
	uint8_t *d = ba_data(r);
	store_be16(d, len);
	memset(d + 2, 'e', 100);
	atomic_store(word(r, SHM_OFF_BA_HEAD), adv);
}

TEST(shm_hostile_zero_length_is_eproto)
{
	struct shm_region r;
	struct shm_conn a, b;
	region_new(&r);
	pair_up(&r, &a, &b);
	evil_record(&r, 0, 3);
	ASSERT_EQ(shm_conn_recv_nb(&a, out, FRAME_MAX_BODY), SEVMON_EPROTO);
}

TEST(shm_hostile_length_beyond_published_is_eproto)
{
	struct shm_region r;
	struct shm_conn a, b;
	region_new(&r);
	pair_up(&r, &a, &b);
	evil_record(&r, 500, 102);
	ASSERT_EQ(shm_conn_recv_nb(&a, out, FRAME_MAX_BODY), SEVMON_EPROTO);
}

TEST(shm_hostile_length_max_beyond_published_is_eproto)
{
	struct shm_region r;
	struct shm_conn a, b;
	region_new(&r);
	pair_up(&r, &a, &b);
	evil_record(&r, 0xffff, 0xffff + 1); /* one byte short */
	ASSERT_EQ(shm_conn_recv_nb(&a, out, FRAME_MAX_BODY), SEVMON_EPROTO);
}

TEST(shm_hostile_partial_length_is_eproto)
{
	struct shm_region r;
	struct shm_conn a, b;
	region_new(&r);
	pair_up(&r, &a, &b);
	evil_record(&r, 1, 1);
	ASSERT_EQ(shm_conn_recv_nb(&a, out, FRAME_MAX_BODY), SEVMON_EPROTO);
}

TEST(shm_hostile_exact_record_is_accepted)
{
	struct shm_region r;
	struct shm_conn a, b;
	region_new(&r);
	pair_up(&r, &a, &b);
	evil_record(&r, 100, 102); /* the control: a well-formed record written by hand */
	ASSERT_EQ(shm_conn_recv_nb(&a, out, FRAME_MAX_BODY), 100);
	ASSERT_EQ(out[99], 'e');
}

/* Header damage: side A refuses, side B re-formats and a session still comes up. */
struct hdr_damage {
	const char *what;
	size_t off;
	uint64_t val;
	int width;
};

static const struct hdr_damage damages[] = {
	{ "magic", SHM_OFF_MAGIC, 0x12345678, 4 },
	{ "version", SHM_OFF_VERSION, 2, 4 },
	{ "total larger than the file", SHM_OFF_TOTAL, SHM_REGION_DEFAULT + 4096, 8 },
	{ "total huge", SHM_OFF_TOTAL, ~0ull, 8 },
	{ "header size", SHM_OFF_HDR_SIZE, 0x800, 4 },
	{ "ring inside header", SHM_OFF_AB_OFF, 0x40, 4 },
	{ "ring misaligned", SHM_OFF_AB_OFF, SHM_HDR_SIZE + 1, 4 },
	{ "ring size not a power of two", SHM_OFF_AB_SIZE, 200000, 4 },
	{ "ring size too small", SHM_OFF_AB_SIZE, 4096, 4 },
	{ "ring size too big", SHM_OFF_BA_SIZE, 0x80000000u, 4 },
	{ "ring past the end", SHM_OFF_BA_OFF, SHM_REGION_DEFAULT - 4096, 4 },
	{ "ring offset wraps", SHM_OFF_BA_OFF, 0xfffff000u, 4 },
	{ "rings overlap", SHM_OFF_BA_OFF, SHM_HDR_SIZE + 4096, 4 },
};

TEST(shm_hostile_bad_header_refused_by_a_reformatted_by_b)
{
	for (size_t i = 0; i < sizeof damages / sizeof damages[0]; i++) {
		struct shm_region r;
		struct shm_conn a, b;
		region_new(&r);
		ASSERT_EQ(shm_region_format(&r), 0);
		ASSERT_EQ(shm_region_check(&r, NULL), 0);
		if (damages[i].width == 4)
			store_le32(r.base + damages[i].off, (uint32_t)damages[i].val);
		else
			store_le64(r.base + damages[i].off, damages[i].val);
		if (shm_conn_attach_start(&a, &r, SHM_SIDE_A, NULL) != SEVMON_EPROTO)
			FAIL_AT("side A accepted: %s", damages[i].what);
		pair_up(&r, &a, &b);
		shm_region_unmap(&r);
	}
}

TEST(shm_hostile_region_file_too_small_refused)
{
	snprintf(path, sizeof path, "/dev/shm/sevmon-test-small-%d", (int)getpid());
	FILE *f = fopen(path, "w");
	ASSERT(f != NULL);
	ASSERT_EQ(ftruncate(fileno(f), SHM_REGION_MIN - 1), 0);
	fclose(f);
	struct shm_region r;
	ASSERT_EQ(shm_region_map(&r, path, SHM_REGION_DEFAULT, SHM_MAP_CREATE), SEVMON_EINVAL);
	unlink(path);
}

TEST(shm_hostile_peer_state_changes)
{
	struct shm_region r;
	struct shm_conn a, b;
	region_new(&r);
	_Atomic uint32_t *st = word(&r, SHM_OFF_CTL_B + SHM_CTL_STATE);
	pair_up(&r, &a, &b);
	atomic_store(st, 7); /* no such state */
	ASSERT_EQ(shm_conn_recv_nb(&a, out, FRAME_MAX_BODY), SEVMON_EPROTO);
	pair_up(&r, &a, &b);
	atomic_store(st, SHM_STATE_DOWN);
	ASSERT_EQ(shm_conn_send_nb(&a, "x", 1), SEVMON_ECONNRESET);
	pair_up(&r, &a, &b);
	atomic_store(st, SHM_STATE_ATTACHING); /* legal: not flipped to READY yet */
	ASSERT_EQ(shm_conn_check(&a), 0);
}

TEST(shm_hostile_epoch_bump_is_connreset)
{
	struct shm_region r;
	struct shm_conn a, b;
	region_new(&r);
	pair_up(&r, &a, &b);
	ASSERT_EQ(shm_conn_send_nb(&b, "data", 4), 4);
	atomic_fetch_add(word(&r, SHM_OFF_CTL_B + SHM_CTL_EPOCH), 1);
	ASSERT_EQ(shm_conn_recv_nb(&a, out, FRAME_MAX_BODY), SEVMON_ECONNRESET);
	pair_up(&r, &a, &b);
	atomic_store(word(&r, SHM_OFF_CTL_B + SHM_CTL_ACK), 12345); /* forgot who we are */
	ASSERT_EQ(shm_conn_wait(&a, SHM_READABLE, 0, shm_deadline_after_ms(1000)), SEVMON_ECONNRESET);
}

/* A violation seen while the peer is restarting (epoch bumped, indices reset) is a reset. */
TEST(shm_hostile_reset_indices_with_new_epoch_is_connreset)
{
	struct shm_region r;
	struct shm_conn a, b;
	region_new(&r);
	pair_up(&r, &a, &b);
	ASSERT_EQ(shm_conn_send_nb(&b, "data", 4), 4);
	ASSERT_EQ(shm_conn_recv_nb(&a, out, FRAME_MAX_BODY), 4);
	atomic_fetch_add(word(&r, SHM_OFF_CTL_B + SHM_CTL_EPOCH), 1);
	atomic_store(word(&r, SHM_OFF_BA_HEAD), 0);
	ASSERT_EQ(shm_conn_recv_nb(&a, out, FRAME_MAX_BODY), SEVMON_ECONNRESET);
}

/* ---- concurrent evil: a thread rewrites shared bytes while the victim reads ---- */

struct flipper {
	struct shm_region *r;
	_Atomic int stop;
	int mode; /* 0: ring data + head; 1: anything in the header and rings */
};

static void *flip_thread(void *arg)
{
	struct flipper *f = arg;
	uint64_t x = 88172645463325252ull;
	_Atomic uint32_t *head = word(f->r, SHM_OFF_BA_HEAD);
	_Atomic uint32_t *tail = word(f->r, SHM_OFF_BA_TAIL);
	uint8_t *data = ba_data(f->r);
	uint32_t size = load_le32(f->r->base + SHM_OFF_BA_SIZE);
	while (!atomic_load(&f->stop)) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		if (f->mode == 0) {
			/* plausible heads and lengths that keep changing under the reader */
			uint32_t t = atomic_load(tail);
			uint32_t off = t & (size - 1);
			uint8_t *p = data + off, *q = data + ((off + 1) & (size - 1));
			*(volatile uint8_t *)p = (uint8_t)x;
			*(volatile uint8_t *)q = (uint8_t)(x >> 8);
			if ((x >> 16) % 4 == 0)
				atomic_store(head, t + (uint32_t)((x >> 24) % (size + 64)));
		} else {
			size_t off = (size_t)((x >> 8) % (SHM_HDR_SIZE + 256));
			if ((x & 7) == 0)
				off = SHM_OFF_CTL_B + (size_t)((x >> 3) % 12);
			((volatile uint8_t *)f->r->base)[off] = (uint8_t)(x >> 32);
		}
	}
	return NULL;
}

TEST(shm_hostile_no_double_fetch_under_flipping_bytes)
{
	struct shm_region r;
	struct shm_conn a, b;
	region_new(&r);
	pair_up(&r, &a, &b);
	struct flipper f = { &r, 0, 0 };
	pthread_t th;
	ASSERT_EQ(pthread_create(&th, NULL, flip_thread, &f), 0);
	int ok = 0, eproto = 0;
	int64_t end = clock_mono_ns() + 500 * 1000000ll;
	while (clock_mono_ns() < end) {
		/* the ring alone, so an error does not end the run */
		int rc = shm_ring_get(&a.rx, out, FRAME_MAX_BODY);
		if (rc > 0) {
			ASSERT(rc <= (int)FRAME_MAX_BODY && (uint32_t)rc + FRAME_HDR_LEN <= a.rx.size);
			ok++;
		} else if (rc == SEVMON_EPROTO) {
			eproto++;
		} else {
			ASSERT_EQ(rc, 0);
		}
	}
	atomic_store(&f.stop, 1);
	pthread_join(th, NULL);
	ASSERT(eproto > 0);
	printf("# %d records taken, %d violations\n", ok, eproto);
}

TEST(shm_hostile_garbage_everywhere_only_errors)
{
	struct shm_region r;
	struct shm_conn a, b;
	region_new(&r);
	pair_up(&r, &a, &b);
	struct flipper f = { &r, 0, 1 };
	pthread_t th;
	ASSERT_EQ(pthread_create(&th, NULL, flip_thread, &f), 0);
	int64_t end = clock_mono_ns() + 500 * 1000000ll;
	int resets = 0, protos = 0, attach_fail = 0, attached = 1;
	while (clock_mono_ns() < end) {
		if (!attached) {
			/* start over, as the upper layer would; the header may be damaged by now */
			if (shm_conn_attach_start(&a, &r, SHM_SIDE_A, NULL) < 0) {
				attach_fail++;
				shm_region_format(&r);
				continue;
			}
			/* skip the acknowledgement dance: we want the data path under fire */
			a.up = 1;
			a.peer_epoch = atomic_load(word(&r, SHM_OFF_CTL_B + SHM_CTL_EPOCH));
			atomic_store(word(&r, SHM_OFF_CTL_B + SHM_CTL_ACK), a.epoch);
			attached = 1;
		}
		int rc = shm_conn_send_nb(&a, in, 1 + (size_t)(end % 3000));
		if (rc >= 0)
			rc = shm_conn_recv_nb(&a, out, FRAME_MAX_BODY);
		if (rc >= 0)
			rc = shm_conn_wait(&a, SHM_READABLE, 0, clock_mono_ns() + 100000);
		if (rc == SEVMON_ETIMEDOUT || rc >= 0)
			continue;
		if (rc == SEVMON_ECONNRESET)
			resets++;
		else if (rc == SEVMON_EPROTO)
			protos++;
		else
			FAIL_AT("unexpected %s", sevmon_errname(rc));
		attached = 0;
	}
	atomic_store(&f.stop, 1);
	pthread_join(th, NULL);
	printf("# %d resets, %d violations, %d refused headers\n", resets, protos, attach_fail);
	ASSERT(resets + protos > 0);
}

TEST_MAIN()
