/*
 * rpc_client_shm.c — the RPC client over a shared-memory session (side A of lib/xport/shm.h).
 *
 * The rings carry whole frame bodies, so this transport skips the frame reader: bodies go
 * straight to rpc_client_on_frame, and each frame of the write queue (u16 BE length ||
 * body, as queued by send_message) goes to the ring as one body.
 *
 * The region has no fd, so libuv cannot wake us when the peer writes. The pump:
 *   - spin (a uv_idle: the loop turns with a zero poll timeout) while a frame waits to go
 *     out, and for spin_ns after the last frame moved while requests are pending — an
 *     agent answers a small request in microseconds, a sleep costs a millisecond;
 *   - else, while requests are pending, a uv_timer at shm_conn_poll_timeout_ms (1, 2, 4 ms:
 *     the region's loop cap);
 *   - with nothing pending, a uv_timer at RPC_CLIENT_SHM_IDLE_MS, only to notice that the
 *     peer went away; an idle client costs a few wake-ups a second and no spinning.
 * (A uv_prepare/uv_check pair would spin the same way; a uv_idle does it with one handle.)
 *
 * With a doorbell (shm+ivshmem://, lib/xport/shm_bell.h) there is no timer: past the spin
 * window the client raises its waiting flag (shm_conn_arm), and a uv_poll on the bell's fd
 * wakes it when the agent rings; idle or waiting, it costs nothing until then.
 */
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "err.h"
#include "rbuf.h"
#include "rpc_client_int.h"

static void shm_update(struct rpc_client *c);

static int shm_failure(int rc)
{
	return rc == SEVMON_ECONNRESET ? SEVMON_ECONNRESET : SEVMON_EPROTO;
}

/* The first frame of the write queue: its body length, and a pointer to the whole frame
 * (in place when it lies in one block, else gathered into s->tx). */
static const uint8_t *head_frame(struct rpc_client *c, size_t *blen)
{
	struct iovec iov[2];
	int n = rpc_wq_iov(&c->wq, iov, 2);
	uint8_t hdr[FRAME_HDR_LEN];
	size_t got = 0;

	for (int i = 0; i < n && got < FRAME_HDR_LEN; i++)
		for (size_t k = 0; k < iov[i].iov_len && got < FRAME_HDR_LEN; k++)
			hdr[got++] = ((const uint8_t *)iov[i].iov_base)[k];
	if (got < FRAME_HDR_LEN)
		return NULL;
	*blen = load_be16(hdr);
	size_t need = FRAME_HDR_LEN + *blen;
	if (need > c->wq.bytes)
		return NULL; /* cannot happen: frames are queued whole */
	if (iov[0].iov_len >= need)
		return iov[0].iov_base;
	got = 0;
	for (int i = 0; i < n && got < need; i++) {
		size_t k = iov[i].iov_len < need - got ? iov[i].iov_len : need - got;
		memcpy(c->shm->tx + got, iov[i].iov_base, k);
		got += k;
	}
	return got == need ? c->shm->tx : NULL;
}

static void shm_pump(struct rpc_client *c)
{
	struct rpc_client_shm *s = c->shm;
	size_t moved = 0;
	int rc;

	while (c->wq.bytes && moved < c->lim.read_budget && !c->dead && !c->closing) {
		size_t blen;
		const uint8_t *f = head_frame(c, &blen);
		if (!f || blen == 0) {
			rpc_client_conn_fail(c, SEVMON_EINTERNAL);
			return;
		}
		if ((rc = shm_conn_send_nb(&s->sc, f + FRAME_HDR_LEN, blen)) == 0)
			break; /* ring full: the peer has not read yet */
		if (rc < 0) {
			rpc_client_conn_fail(c, shm_failure(rc));
			return;
		}
		rpc_wq_consume(&c->wq, FRAME_HDR_LEN + blen);
		c->st.bytes_sent += FRAME_HDR_LEN + blen;
		moved += FRAME_HDR_LEN + blen;
	}
	size_t got = 0;
	while (got < c->lim.read_budget && !c->dead && !c->closing) {
		int n = shm_conn_recv_nb(&s->sc, c->rbuf, sizeof c->rbuf);
		if (n == 0)
			break;
		if (n < 0) {
			rpc_client_conn_fail(c, shm_failure(n));
			return;
		}
		c->io_started = 1;
		c->st.bytes_received += FRAME_HDR_LEN + (size_t)n;
		got += FRAME_HDR_LEN + (size_t)n;
		if ((rc = rpc_client_on_frame(c, c->rbuf, (size_t)n))) {
			rpc_client_conn_fail(c, rc);
			return;
		}
	}
	if (got && s->has_bell && s->spinning)
		shm_conn_spin_outcome(&s->sc, 1); /* the reply came while we spun */
	if (moved || got) {
		s->active_ns = clock_mono_ns();
		s->sc.spin_last_ns = 0; /* work, not a spin turn: the gap is not a lost CPU */
	}
}

static void on_pump(uv_timer_t *t)
{
	struct rpc_client *c = t->data;

	shm_pump(c);
	if (!c->closing)
		shm_update(c);
}

static void on_bell(uv_poll_t *p, int status, int events)
{
	struct rpc_client *c = p->data;

	(void)status;
	(void)events;
	shm_conn_disarm(&c->shm->sc);
	(void)shm_bell_drain(c->shm->sc.bell);
	shm_pump(c);
	if (!c->closing)
		shm_update(c);
}

/* Bell mode past the spin window: sleep on the bell unless something is ready. */
static int bell_sleep(struct rpc_client *c, size_t want)
{
	struct rpc_client_shm *s = c->shm;
	unsigned ev = SHM_READABLE | (want ? SHM_WRITABLE : 0);

	if (shm_conn_arm(&s->sc, ev, want) != 0)
		return 0; /* ready (or an error to report): spin one more turn */
	if (s->spinning && c->pend.count)
		shm_conn_spin_outcome(&s->sc, 0); /* spun for nothing */
	if (s->spinning) {
		uv_idle_stop(&s->spin);
		s->spinning = 0;
	}
	if (!s->bell_on) {
		uv_poll_start(&s->bell, UV_READABLE, on_bell);
		s->bell_on = 1;
	}
	return 1;
}

static void on_spin(uv_idle_t *i)
{
	struct rpc_client *c = i->data;

	if (c->shm->has_bell) {
		int64_t now = clock_mono_ns();
		shm_conn_spin_tick(&c->shm->sc, now);
		/* past the first microseconds, let a peer that shares our CPU run */
		if (now - c->shm->active_ns >= RPC_CLIENT_SHM_YIELD_AFTER_NS &&
		    !shm_conn_ready(&c->shm->sc, SHM_READABLE, 0))
			sched_yield();
	}
	shm_pump(c);
	if (!c->closing)
		shm_update(c);
}

static void shm_update(struct rpc_client *c)
{
	struct rpc_client_shm *s = c->shm;
	int64_t now;
	int t;

	if (c->dead || c->closing) {
		uv_idle_stop(&s->spin);
		uv_timer_stop(&s->pump);
		if (s->bell_on)
			uv_poll_stop(&s->bell);
		s->bell_on = 0;
		s->spinning = 0;
		return;
	}
	now = clock_mono_ns();
	if (c->st.requests + c->st.cancels != s->sent_seen) {
		s->sent_seen = c->st.requests + c->st.cancels;
		s->active_ns = now; /* a call was queued: its reply is worth a spin */
		if (s->has_bell && shm_conn_spin_budget(&s->sc) == 0)
			shm_conn_spin_outcome(&s->sc, 0); /* backing off: one wait fewer */
	}
	int spin = c->pend.count && now - s->active_ns < (int64_t)shm_conn_spin_budget(&s->sc);
	if (!spin) {
		size_t want = 0;
		if (c->wq.bytes && !head_frame(c, &want))
			want = 0;
		if (s->has_bell) {
			if (bell_sleep(c, want))
				return;
			spin = 1;
		} else if (c->pend.count || c->wq.bytes) {
			t = shm_conn_poll_timeout_ms(&s->sc, want);
			spin = t == 0;
		} else {
			t = shm_conn_ready(&s->sc, SHM_READABLE, 0) ? 0 : RPC_CLIENT_SHM_IDLE_MS;
			spin = t == 0;
		}
		if (!spin) {
			if (s->spinning) {
				uv_idle_stop(&s->spin);
				s->spinning = 0;
			}
			uv_timer_start(&s->pump, on_pump, (uint64_t)t, 0);
			return;
		}
	}
	if (s->has_bell)
		shm_conn_disarm(&s->sc); /* awake: the agent need not ring */
	if (!s->spinning) {
		uv_timer_stop(&s->pump);
		uv_idle_start(&s->spin, on_spin);
		s->spinning = 1;
	}
}

static void shm_shutdown(struct rpc_client *c)
{
	shm_conn_close(&c->shm->sc); /* the agent sees ECONNRESET and re-attaches */
}

static void shm_close_handles(struct rpc_client *c, uv_close_cb cb)
{
	uv_close((uv_handle_t *)&c->shm->pump, cb);
	uv_close((uv_handle_t *)&c->shm->spin, cb);
	if (c->shm->has_bell)
		uv_close((uv_handle_t *)&c->shm->bell, cb);
}

static void shm_release(struct rpc_client *c)
{
	shm_conn_close(&c->shm->sc);
	if (c->shm->own_region)
		shm_region_unmap(&c->shm->region);
	free(c->shm);
	c->shm = NULL;
}

static const struct rpc_client_io shm_io = {
	.update = shm_update, .shutdown = shm_shutdown,
	.close_handles = shm_close_handles, .release = shm_release,
};

int rpc_client_open_shm(uv_loop_t *loop, struct shm_conn *sc, struct shm_region *region,
			const struct rpc_client_limits *lim, struct rpc_client **out)
{
	struct rpc_client *c;
	struct rpc_client_shm *s;
	int rc;

	*out = NULL;
	if (!loop || !sc || !sc->up || sc->side != SHM_SIDE_A)
		return SEVMON_EINVAL;
	if (!(s = calloc(1, sizeof *s)))
		return SEVMON_ENOMEM;
	if ((rc = rpc_client_new(loop, lim, &c))) {
		free(s);
		return rc;
	}
	s->sc = *sc;
	if (region) {
		s->region = *region;
		s->own_region = 1;
	}
	uv_timer_init(loop, &s->pump);
	uv_idle_init(loop, &s->spin);
	s->pump.data = s->spin.data = c;
	s->active_ns = clock_mono_ns();
	c->shm = s;
	c->io = &shm_io;
	c->handles_open += 2;
	if (s->sc.bell) {
		if ((rc = uv_poll_init(loop, &s->bell, s->sc.bell->wait_fd)) == 0) {
			s->bell.data = c;
			s->has_bell = 1;
			c->handles_open++;
		}
	}
	shm_update(c);
	*out = c;
	return 0;
}

int rpc_client_bell_stats(const struct rpc_client *c, uint64_t *rings, uint64_t *wakeups)
{
	if (!c->shm || !c->shm->sc.bell)
		return SEVMON_ENOTSUP;
	*rings = c->shm->sc.bell->rings;
	*wakeups = c->shm->sc.bell->wakeups;
	return 0;
}

int rpc_client_connect_shm(uv_loop_t *loop, const char *uri, int timeout_ms,
			   const struct rpc_client_limits *lim, struct rpc_client **out)
{
	struct shm_conn sc;
	struct shm_region r;
	int rc;

	*out = NULL;
	if (!loop || !uri || timeout_ms < 0)
		return SEVMON_EINVAL;
	if ((rc = shm_conn_open(&sc, &r, uri, SHM_SIDE_A, shm_deadline_after_ms(timeout_ms))))
		return rc;
	sc.opt.spin_ns = RPC_CLIENT_SHM_SPIN_NS;
	if ((rc = rpc_client_open_shm(loop, &sc, &r, lim, out))) {
		shm_conn_close(&sc);
		shm_region_unmap(&r);
	}
	return rc;
}
