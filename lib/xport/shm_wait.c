/*
 * shm_wait.c — waiting for the peer: bounded spin, then futex sleep (host processes) or
 * polling with exponential backoff (across a VM boundary), always against a deadline.
 * Also the doorbell a side rings after publishing an index.
 */
#include "shm.h"

#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "err.h"

/* Clock reads are ~20 ns: look at the clock once per this many pause instructions. */
#define SPIN_BATCH 32
/* Spin without yielding this long: a reply from a peer busy on another CPU comes back in
 * about 1 us, and a sched_yield() syscall per batch would add ~0.5 us to that. */
#define SPIN_PURE_NS 2000

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

int64_t shm_deadline_after_ms(int64_t ms)
{
	return clock_mono_ns() + ms * 1000000;
}

static struct timespec ts_from_ns(int64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000), (long)(ns % 1000000000) };
	return ts;
}

/* Not FUTEX_PRIVATE: the key must be the shared page so another process can wake us. */
static void futex_wait(_Atomic uint32_t *addr, uint32_t val, int64_t ns)
{
	struct timespec ts = ts_from_ns(ns);
	syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAIT, val, &ts, NULL, 0);
}

static void futex_wake(_Atomic uint32_t *addr)
{
	syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

void shm_notify_peer(struct shm_conn *c)
{
	shm_notify_peer_for(c, SHM_READABLE | SHM_WRITABLE);
}

void shm_notify_peer_for(struct shm_conn *c, unsigned what)
{
	/* Pairs with the waiter's fence between setting its flag and re-checking: either it
	 * sees what we just published, or we see its flag. */
	atomic_thread_fence(memory_order_seq_cst);
	if (!(atomic_load_explicit(&c->peer_db[SHM_DB_WAITING / 4], memory_order_relaxed) & what))
		return;
	if (c->bell) {
		/* the peer's bell id, read once; the bell rings only ids it knows */
		uint32_t id = atomic_load_explicit(&c->peer_db[SHM_DB_ID / 4], memory_order_relaxed);
		if (id != 0 && id - 1 <= 0xffffu)
			(void)shm_bell_ring(c->bell, id - 1);
		return;
	}
	atomic_fetch_add_explicit(&c->peer_db[SHM_DB_SEQ / 4], 1, memory_order_release);
	futex_wake(&c->peer_db[SHM_DB_SEQ / 4]);
}

static int sleep_futex(struct shm_conn *c, shm_pred_fn pred, unsigned events, size_t send_len,
		       int64_t left)
{
	_Atomic uint32_t *seq = &c->my_db[SHM_DB_SEQ / 4];
	_Atomic uint32_t *waiting = &c->my_db[SHM_DB_WAITING / 4];
	uint32_t s = atomic_load_explicit(seq, memory_order_acquire);
	atomic_store_explicit(waiting, shm_wait_mask(events), memory_order_relaxed);
	atomic_thread_fence(memory_order_seq_cst);
	int rc = pred(c, events, send_len);
	if (rc == 0)
		futex_wait(seq, s, left < SHM_FUTEX_SLICE_NS ? left : SHM_FUTEX_SLICE_NS);
	atomic_store_explicit(waiting, 0, memory_order_relaxed);
	return rc;
}

int shm_wait_for(struct shm_conn *c, shm_pred_fn pred, unsigned events, size_t send_len,
		 int64_t deadline_ns)
{
	int64_t start = clock_mono_ns();
	int64_t spin_end = start + c->opt.spin_ns;
	int64_t backoff = SHM_POLL_MIN_NS;
	for (;;) {
		int rc = pred(c, events, send_len);
		if (rc != 0)
			return rc;
		int64_t now = clock_mono_ns();
		if (now >= deadline_ns)
			return SEVMON_ETIMEDOUT;
		if (now < spin_end) {
			for (int i = 0; i < SPIN_BATCH; i++)
				cpu_relax();
			/* If the peer shares this CPU, spinning only delays it: let it run. With the
			 * CPU to ourselves this returns at once. */
			if (now - start >= SPIN_PURE_NS)
				sched_yield();
			continue;
		}
		int64_t left = deadline_ns - now;
		if (c->bell) {
			/* flag up, fence, re-check (shm_conn_arm), then sleep on the bell: only a
			 * ring or the deadline ends it */
			atomic_store_explicit(&c->my_db[SHM_DB_WAITING / 4], shm_wait_mask(events),
					      memory_order_relaxed);
			atomic_thread_fence(memory_order_seq_cst);
			rc = pred(c, events, send_len);
			if (rc == 0)
				rc = shm_bell_wait(c->bell, deadline_ns) < 0 ? SEVMON_ESYS : 0;
			atomic_store_explicit(&c->my_db[SHM_DB_WAITING / 4], 0, memory_order_relaxed);
			if (rc != 0)
				return rc;
		} else if (c->opt.wake == SHM_WAKE_FUTEX) {
			rc = sleep_futex(c, pred, events, send_len, left);
			if (rc != 0)
				return rc;
		} else {
			struct timespec ts = ts_from_ns(backoff < left ? backoff : left);
			nanosleep(&ts, NULL);
			backoff *= 2;
			if (backoff > c->opt.poll_max_ns)
				backoff = c->opt.poll_max_ns;
		}
	}
}
