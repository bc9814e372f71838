/*
 * shm_conn.c — one side of a shared-memory connection: attach (epochs, acknowledgements,
 * index reset), session checks, send and receive.
 *
 * Everything the peer can write is loaded once into a local and validated; a violation
 * latches SEVMON_EPROTO on this connection. A violation seen while the peer's epoch has
 * changed is reported as SEVMON_ECONNRESET instead: a restarting peer resets its indices
 * right after bumping its epoch, so we may observe the reset indices first.
 */
#include "shm.h"

#include <string.h>
#include <time.h>

#include "clock.h"
#include "err.h"
#include "frame.h"

static _Atomic uint32_t *word(uint8_t *base, size_t off)
{
	return (_Atomic uint32_t *)(void *)(base + off);
}

void shm_opts_default(struct shm_opts *o, enum shm_wake wake)
{
	o->wake = wake;
	o->spin_ns = SHM_SPIN_NS_DEFAULT;
	o->poll_max_ns = SHM_POLL_MAX_NS_DEFAULT;
	o->loop_max_ms = SHM_LOOP_MAX_MS_DEFAULT;
}

/* The peer's control block, read once: epoch first (acquire, it is stored last). */
struct peer_view {
	uint32_t state, epoch, ack;
};

static struct peer_view peer_load(const struct shm_conn *c)
{
	struct peer_view v;
	v.epoch = atomic_load_explicit(&c->peer_ctl[SHM_CTL_EPOCH / 4], memory_order_acquire);
	v.state = atomic_load_explicit(&c->peer_ctl[SHM_CTL_STATE / 4], memory_order_relaxed);
	v.ack = atomic_load_explicit(&c->peer_ctl[SHM_CTL_ACK / 4], memory_order_relaxed);
	return v;
}

static int latch(struct shm_conn *c, int err)
{
	if (!c->err)
		c->err = err;
	return c->err;
}

/* Session status from the peer's control block: 0 up, 1 peer closed gracefully (drain
 * what is left, then reset), or a latched error. */
static int session_status(struct shm_conn *c)
{
	if (c->err)
		return c->err;
	if (!c->up)
		return SEVMON_EINVAL;
	struct peer_view v = peer_load(c);
	if (v.epoch != c->peer_epoch || v.ack != c->epoch)
		return latch(c, SEVMON_ECONNRESET);
	switch (v.state) {
	case SHM_STATE_ATTACHING: /* it has not flipped to READY yet */
	case SHM_STATE_READY:
		return 0;
	case SHM_STATE_CLOSED:
		return 1;
	case SHM_STATE_DOWN:
		return latch(c, SEVMON_ECONNRESET);
	default:
		return latch(c, SEVMON_EPROTO);
	}
}

/* A ring violation: a reset if the peer has moved on, else a protocol error. */
static int ring_violation(struct shm_conn *c)
{
	struct peer_view v = peer_load(c);
	if (v.epoch != c->peer_epoch || v.state == SHM_STATE_DOWN)
		return latch(c, SEVMON_ECONNRESET);
	return latch(c, SEVMON_EPROTO);
}

int shm_conn_check(struct shm_conn *c)
{
	int rc = session_status(c);
	return rc == 1 ? latch(c, SEVMON_ECONNRESET) : rc;
}

int shm_conn_attach_start(struct shm_conn *c, struct shm_region *r, enum shm_side side,
			  const struct shm_opts *opts)
{
	memset(c, 0, sizeof *c);
	if (!r->base || (side != SHM_SIDE_A && side != SHM_SIDE_B))
		return SEVMON_EINVAL;
	if (opts)
		c->opt = *opts;
	else
		shm_opts_default(&c->opt, SHM_WAKE_FUTEX);
	if (c->opt.poll_max_ns < SHM_POLL_MIN_NS)
		c->opt.poll_max_ns = SHM_POLL_MIN_NS;
	if (c->opt.loop_max_ms < 1)
		c->opt.loop_max_ms = 1;

	struct shm_geom g;
	int rc = shm_region_check(r, &g);
	if (rc < 0) {
		if (side != SHM_SIDE_B)
			return rc;
		/* The agent owns the layout: a fresh (zero) or damaged header is rewritten. Our
		 * epoch survives, so a peer that knew us still sees a change. */
		uint32_t old = atomic_load_explicit(word(r->base, SHM_OFF_CTL_B + SHM_CTL_EPOCH),
						    memory_order_relaxed);
		if ((rc = shm_region_format(r)) < 0)
			return rc;
		atomic_store_explicit(word(r->base, SHM_OFF_CTL_B + SHM_CTL_EPOCH), old,
				      memory_order_relaxed);
		if ((rc = shm_region_check(r, &g)) < 0)
			return SEVMON_EINTERNAL;
	}
	c->base = r->base;
	c->len = r->len;
	c->side = side;
	bool a = side == SHM_SIDE_A;
	c->my_ctl = word(c->base, a ? SHM_OFF_CTL_A : SHM_OFF_CTL_B);
	c->peer_ctl = word(c->base, a ? SHM_OFF_CTL_B : SHM_OFF_CTL_A);
	c->my_db = word(c->base, a ? SHM_OFF_DB_A : SHM_OFF_DB_B);
	c->peer_db = word(c->base, a ? SHM_OFF_DB_B : SHM_OFF_DB_A);
	c->bell = r->bell;
	if (c->bell)
		c->opt.wake = SHM_WAKE_BELL;
	else if (c->opt.wake == SHM_WAKE_BELL)
		return SEVMON_EINVAL; /* a doorbell wanted, but the region has none */
	uint8_t *ab = c->base + g.ab_off, *ba = c->base + g.ba_off;
	_Atomic uint32_t *ab_head = word(c->base, SHM_OFF_AB_HEAD), *ab_tail = word(c->base, SHM_OFF_AB_TAIL);
	_Atomic uint32_t *ba_head = word(c->base, SHM_OFF_BA_HEAD), *ba_tail = word(c->base, SHM_OFF_BA_TAIL);
	if (a) {
		shm_ring_init(&c->tx, ab, g.ab_size, ab_head, ab_tail, 0);
		shm_ring_init(&c->rx, ba, g.ba_size, ba_head, ba_tail, 0);
	} else {
		shm_ring_init(&c->tx, ba, g.ba_size, ba_head, ba_tail, 0);
		shm_ring_init(&c->rx, ab, g.ab_size, ab_head, ab_tail, 0);
	}

	/* 1. A new epoch first, so a peer still in an old session sees the change before it
	 *    can see our reset indices (it then reports a reset, not a violation). */
	uint32_t e = atomic_load_explicit(&c->my_ctl[SHM_CTL_EPOCH / 4], memory_order_relaxed) + 1;
	if (e == 0)
		e = 1;
	c->epoch = e;
	atomic_store_explicit(&c->my_ctl[SHM_CTL_STATE / 4], SHM_STATE_ATTACHING, memory_order_relaxed);
	atomic_store_explicit(&c->my_ctl[SHM_CTL_ACK / 4], 0, memory_order_relaxed);
	atomic_store_explicit(&c->my_ctl[SHM_CTL_EPOCH / 4], e, memory_order_release);
	atomic_store_explicit(&c->my_db[SHM_DB_WAITING / 4], 0, memory_order_relaxed);
	atomic_store_explicit(&c->my_db[SHM_DB_ID / 4], c->bell ? c->bell->my_id + 1 : 0,
			      memory_order_relaxed);
	/* 2. The indices we own start at zero. */
	atomic_store_explicit(c->tx.head, 0, memory_order_release);
	atomic_store_explicit(c->rx.tail, 0, memory_order_release);
	shm_notify_peer(c);
	return 0;
}

int shm_conn_attach_step(struct shm_conn *c)
{
	if (c->err)
		return c->err;
	if (!c->base)
		return SEVMON_EINVAL;
	if (c->up)
		return 1;
	struct peer_view v = peer_load(c);
	if ((v.state != SHM_STATE_ATTACHING && v.state != SHM_STATE_READY) || v.epoch == 0)
		return 0;
	/* 3. Acknowledge the peer's epoch: our indices were reset before this store. */
	uint32_t mine = atomic_load_explicit(&c->my_ctl[SHM_CTL_ACK / 4], memory_order_relaxed);
	if (mine != v.epoch) {
		atomic_store_explicit(&c->my_ctl[SHM_CTL_ACK / 4], v.epoch, memory_order_release);
		shm_notify_peer(c);
	}
	if (v.ack != c->epoch)
		return 0;
	c->peer_epoch = v.epoch;
	c->up = 1;
	atomic_store_explicit(&c->my_ctl[SHM_CTL_STATE / 4], SHM_STATE_READY, memory_order_release);
	shm_notify_peer(c);
	return 1;
}

static int attach_pred(struct shm_conn *c, unsigned events, size_t send_len)
{
	(void)events;
	(void)send_len;
	return shm_conn_attach_step(c);
}

int shm_conn_attach(struct shm_conn *c, struct shm_region *r, enum shm_side side,
		    const struct shm_opts *opts, int64_t deadline_ns)
{
	int rc;
	uint32_t backoff = SHM_POLL_MIN_NS;
	/* Side A waits for side B to format the region, sleeping with backoff. */
	while ((rc = shm_conn_attach_start(c, r, side, opts)) == SEVMON_ENOENT) {
		int64_t now = clock_mono_ns();
		if (now >= deadline_ns)
			return SEVMON_ETIMEDOUT;
		struct timespec ts = { 0, backoff };
		nanosleep(&ts, NULL);
		backoff = backoff * 2 > SHM_POLL_MAX_NS_DEFAULT ? SHM_POLL_MAX_NS_DEFAULT : backoff * 2;
	}
	if (rc < 0)
		return rc;
	rc = shm_wait_for(c, attach_pred, 0, 0, deadline_ns);
	return rc > 0 ? 0 : rc;
}

int shm_conn_open(struct shm_conn *c, struct shm_region *r, const char *uri, enum shm_side side,
		  int64_t deadline_ns)
{
	struct shm_uri u;
	int rc = shm_uri_parse(uri, &u);
	if (rc < 0)
		return rc;
	uint32_t backoff = SHM_POLL_MIN_NS;
	while ((rc = shm_region_map_uri(r, &u, side)) == SEVMON_ENOENT && side == SHM_SIDE_A) {
		if (clock_mono_ns() >= deadline_ns)
			return SEVMON_ETIMEDOUT;
		struct timespec ts = { 0, backoff };
		nanosleep(&ts, NULL);
		backoff = backoff * 2 > SHM_POLL_MAX_NS_DEFAULT ? SHM_POLL_MAX_NS_DEFAULT : backoff * 2;
	}
	if (rc < 0)
		return rc;
	struct shm_opts o;
	shm_opts_default(&o, u.wake);
	if (u.spin_us)
		o.spin_ns = u.spin_us * 1000u;
	rc = shm_conn_attach(c, r, side, &o, deadline_ns);
	if (rc < 0)
		shm_region_unmap(r);
	return rc;
}

void shm_conn_close(struct shm_conn *c)
{
	if (!c->base)
		return;
	atomic_store_explicit(&c->my_ctl[SHM_CTL_STATE / 4], SHM_STATE_CLOSED, memory_order_release);
	shm_notify_peer(c);
	c->up = 0;
	latch(c, SEVMON_ECONNRESET);
}

int shm_conn_send_nb(struct shm_conn *c, const void *body, size_t len)
{
	int rc = session_status(c);
	if (rc != 0)
		return rc < 0 ? rc : latch(c, SEVMON_ECONNRESET);
	rc = shm_ring_put(&c->tx, body, len);
	if (rc == SEVMON_EPROTO)
		return ring_violation(c);
	if (rc > 0)
		shm_notify_peer_for(c, SHM_READABLE); /* a record to read */
	return rc;
}

int shm_conn_recv_nb(struct shm_conn *c, void *buf, size_t cap)
{
	int st = session_status(c);
	if (st < 0)
		return st;
	int rc = shm_ring_get(&c->rx, buf, cap);
	if (rc == SEVMON_EPROTO)
		return ring_violation(c);
	if (rc > 0)
		shm_notify_peer_for(c, SHM_WRITABLE); /* room in the ring */
	else if (rc == 0 && st == 1)
		return latch(c, SEVMON_ECONNRESET); /* closed and drained */
	return rc;
}

int shm_conn_ready(struct shm_conn *c, unsigned events, size_t send_len)
{
	int st = session_status(c);
	if (st < 0)
		return st;
	unsigned mask = 0;
	if (events & SHM_READABLE) {
		int rc = shm_ring_readable(&c->rx);
		if (rc < 0)
			return ring_violation(c);
		if (rc > 0)
			mask |= SHM_READABLE;
		else if (st == 1)
			return latch(c, SEVMON_ECONNRESET);
	}
	if (events & SHM_WRITABLE) {
		if (st == 1) /* closed: report what is left to read first */
			return mask ? (int)mask : latch(c, SEVMON_ECONNRESET);
		if (send_len == 0 || send_len > FRAME_MAX_BODY || FRAME_HDR_LEN + send_len > c->tx.size)
			return SEVMON_EINVAL;
		int rc = shm_ring_writable(&c->tx, send_len);
		if (rc < 0)
			return ring_violation(c);
		if (rc > 0)
			mask |= SHM_WRITABLE;
	}
	return (int)mask;
}

int shm_conn_wait(struct shm_conn *c, unsigned events, size_t send_len, int64_t deadline_ns)
{
	if (!(events & (SHM_READABLE | SHM_WRITABLE)))
		return SEVMON_EINVAL;
	return shm_wait_for(c, shm_conn_ready, events, send_len, deadline_ns);
}

void shm_conn_spin_outcome(struct shm_conn *c, int caught)
{
	int preempted = c->spin_preempted;
	c->spin_preempted = 0;
	c->spin_last_ns = 0;
	if (c->spin_skip) {
		c->spin_skip--;
		return;
	}
	if (caught || !preempted) {
		c->spin_misses = 0;
	} else if (++c->spin_misses >= SHM_SPIN_MISSES) {
		c->spin_misses = 0;
		c->spin_skip = SHM_SPIN_SKIP;
	}
}

int shm_conn_arm(struct shm_conn *c, unsigned events, size_t send_len)
{
	atomic_store_explicit(&c->my_db[SHM_DB_WAITING / 4], shm_wait_mask(events),
			      memory_order_relaxed);
	/* pairs with shm_notify_peer's fence: we see its index, or it sees our flag */
	atomic_thread_fence(memory_order_seq_cst);
	int rc = c->up ? shm_conn_ready(c, events, send_len) : shm_conn_attach_step(c);
	if (rc != 0)
		atomic_store_explicit(&c->my_db[SHM_DB_WAITING / 4], 0, memory_order_relaxed);
	return rc;
}

void shm_conn_disarm(struct shm_conn *c)
{
	atomic_store_explicit(&c->my_db[SHM_DB_WAITING / 4], 0, memory_order_relaxed);
}

/* For callers that poll(2) on something else meanwhile (the agent loop): how long until
 * the region is worth looking at again, backing off while nothing happens. */
int shm_conn_poll_timeout_ms(struct shm_conn *c, size_t want_send_len)
{
	unsigned events = SHM_READABLE | (want_send_len ? SHM_WRITABLE : 0);
	if (shm_conn_ready(c, events, want_send_len) != 0) {
		c->idle_ms = 0;
		return 0;
	}
	c->idle_ms = c->idle_ms ? c->idle_ms * 2 : 1;
	if (c->idle_ms > c->opt.loop_max_ms)
		c->idle_ms = c->opt.loop_max_ms;
	return c->idle_ms;
}

int shm_conn_send(struct shm_conn *c, const void *body, size_t len, int64_t deadline_ns)
{
	for (;;) {
		int rc = shm_conn_send_nb(c, body, len);
		if (rc != 0)
			return rc > 0 ? 0 : rc;
		rc = shm_conn_wait(c, SHM_WRITABLE, len, deadline_ns);
		if (rc < 0)
			return rc;
	}
}

int shm_conn_recv(struct shm_conn *c, void *buf, size_t cap, int64_t deadline_ns)
{
	for (;;) {
		int rc = shm_conn_recv_nb(c, buf, cap);
		if (rc != 0)
			return rc;
		rc = shm_conn_wait(c, SHM_READABLE, 0, deadline_ns);
		if (rc < 0)
			return rc;
	}
}
