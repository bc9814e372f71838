/*
 * rpc_client.c — requests over one stream fd on a libuv loop.
 *
 * Receive: on_poll -> do_read (budgeted) -> frame_reader -> on_frame (codec open)
 *          -> on_message (envelope) -> reassembly -> deliver.
 * Send:    rpc_client_call -> rpc_frag -> send_message (codec seal, frame header)
 *          -> write queue -> do_write when the fd is writable.
 * on_message/send_message are the seam between bytes and envelopes: they see whole frame
 * bodies only, so a Noise channel fits in the codec without touching either side.
 *
 * Reentrancy: user callbacks may call back into this client (call, cancel, close). So a
 * request always leaves the table before its callback runs, and every loop that calls
 * back re-checks c->closing / c->dead after each callback. Failures found inside an API
 * call go to the deferred list, which an idle handle drains from the loop.
 */
#include "rpc_client.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "err.h"
#include "frame.h"
#include "rpc_pending.h"
#include "rpc_wire.h"
#include "rpc_wqueue.h"
#include "rpc_client_int.h"

static void on_poll(uv_poll_t *h, int status, int events);
static void stream_update(struct rpc_client *c);
static void on_timer(uv_timer_t *t);
static void on_idle(uv_idle_t *i);

/* ---- small helpers ---- */

static void io_update(struct rpc_client *c)
{
	c->io->update(c);
}

static void stream_update(struct rpc_client *c)
{
	int want = 0;

	if (!c->dead && !c->closing)
		want = UV_READABLE | (c->wq.bytes ? UV_WRITABLE : 0);
	if (want == c->poll_events)
		return;
	if (want)
		uv_poll_start(&c->poll, want, on_poll);
	else
		uv_poll_stop(&c->poll);
	c->poll_events = want;
}

static void arm_timer(struct rpc_client *c)
{
	struct rpc_req *r = rpc_pend_earliest(&c->pend);
	uint64_t now = uv_now(c->loop);

	if (!r) {
		/* An armed timer with nothing due fires once and finds nothing: cheaper than
		 * restarting it on every removal. */
		return;
	}
	if (c->timer_due && c->timer_due <= r->deadline)
		return;
	uv_timer_start(&c->timer, on_timer, r->deadline > now ? r->deadline - now : 0, 0);
	c->timer_due = r->deadline;
}

static void release_reasm(struct rpc_client *c, struct rpc_req *r)
{
	c->reasm_bytes -= r->charged;
	r->charged = 0;
	rpc_reasm_reset(&r->reasm);
}

/* r is out of the table: call its callback once and free it. */
static void finish(struct rpc_client *c, struct rpc_req *r, int status, const char *errmsg,
		   const uint8_t *payload, size_t len)
{
	release_reasm(c, r);
	r->cb(r->user, status, errmsg ? errmsg : "", payload, len);
	free(r);
}

static void defer(struct rpc_client *c, struct rpc_req *r, int status)
{
	r->status = status;
	r->dnext = NULL;
	if (c->done_tail)
		c->done_tail->dnext = r;
	else
		c->done_head = r;
	c->done_tail = r;
	uv_idle_start(&c->idle, on_idle);
}

static struct rpc_req *done_pop(struct rpc_client *c)
{
	struct rpc_req *r = c->done_head;

	if (r) {
		c->done_head = r->dnext;
		if (!c->done_head)
			c->done_tail = NULL;
	}
	return r;
}

/* The connection is unusable: no more I/O, every pending request fails with reason
 * (from the loop, then the disconnect callback). Safe to call from anywhere. */
void rpc_client_conn_fail(struct rpc_client *c, int reason)
{
	struct rpc_req *r;

	if (c->dead || c->closing)
		return;
	c->dead = reason;
	io_update(c);
	c->io->shutdown(c); /* the peer learns now, not when the owner closes */
	uv_timer_stop(&c->timer);
	c->timer_due = 0;
	rpc_wq_fini(&c->wq); /* nobody will write these bytes */
	while ((r = rpc_pend_oldest(&c->pend))) {
		rpc_pend_remove(&c->pend, r);
		defer(c, r, reason);
	}
	c->disconnect_pending = 1;
	uv_idle_start(&c->idle, on_idle);
}

/* ---- send side ---- */

/* The seam: one whole envelope in, one frame out (sealed when a codec is set). */
static int send_message(struct rpc_client *c, const uint8_t *msg, size_t len)
{
	const uint8_t *body = msg;
	size_t blen = len;
	uint8_t hdr[FRAME_HDR_LEN];
	int rc;

	c->io_started = 1;
	if (c->codec.seal) {
		long n = c->codec.seal(c->codec.ctx, msg, len, c->seal_buf, FRAME_MAX_BODY);
		if (n < 0)
			return (int)n;
		if (n == 0 || (size_t)n > FRAME_MAX_BODY)
			return SEVMON_EINTERNAL;
		body = c->seal_buf;
		blen = (size_t)n;
	}
	if ((rc = frame_header_write(hdr, blen)) ||
	    (rc = rpc_wq_append(&c->wq, hdr, sizeof hdr)) ||
	    (rc = rpc_wq_append(&c->wq, body, blen)))
		return rc;
	return 0;
}

static void send_cancel(struct rpc_client *c, uint32_t id, uint16_t method)
{
	uint8_t msg[RPC_HDR_LEN];
	struct rpc_hdr h = { .id = id, .method = method, .flags = RPC_F_CANCEL | RPC_F_END };
	int rc;

	if (c->dead || c->closing)
		return;
	rpc_hdr_write(msg, &h);
	/* Not bounded by max_write_queued: at most one CANCEL per request ever sent. */
	if ((rc = send_message(c, msg, sizeof msg))) {
		rpc_client_conn_fail(c, rc);
		return;
	}
	c->st.cancels++;
	io_update(c);
}

/* Bytes a request of len payload bytes adds to the write queue. */
static size_t request_wire_size(const struct rpc_client *c, size_t len)
{
	size_t room = c->lim.max_msg - RPC_HDR_LEN;
	size_t frags = len == 0 ? 1 : (len + room - 1) / room;

	return frags * (FRAME_HDR_LEN + RPC_HDR_LEN + c->codec.overhead) + len;
}

static int queue_request(struct rpc_client *c, const struct rpc_req *r, const uint8_t *payload,
			 size_t len, uint32_t timeout_ms)
{
	struct rpc_hdr h = { .id = r->id, .method = r->method, .deadline_ms = timeout_ms };
	struct rpc_frag f;
	size_t n;
	int rc;

	rpc_frag_init(&f, &h, payload, len, c->lim.max_msg);
	while ((n = rpc_frag_next(&f, c->msgbuf)) > 0)
		if ((rc = send_message(c, c->msgbuf, n)))
			return rc;
	return 0;
}

static void stream_write(struct rpc_client *c)
{
	struct iovec iov[RPC_CLIENT_IOV_MAX];
	size_t written = 0;

	while (c->wq.bytes && written < c->lim.read_budget) {
		int cnt = rpc_wq_iov(&c->wq, iov, RPC_CLIENT_IOV_MAX);
		ssize_t n;

		if (c->is_sock) {
			struct msghdr m = { .msg_iov = iov, .msg_iovlen = (size_t)cnt };
			n = sendmsg(c->fd, &m, MSG_NOSIGNAL);
		} else {
			n = writev(c->fd, iov, cnt);
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			rpc_client_conn_fail(c, SEVMON_ECONNRESET);
			return;
		}
		rpc_wq_consume(&c->wq, (size_t)n);
		c->st.bytes_sent += (uint64_t)n;
		written += (size_t)n;
	}
}

/* ---- receive side ---- */

static void copy_errmsg(char *out, const uint8_t *p, size_t len)
{
	if (len > RPC_MAX_ERRMSG)
		len = RPC_MAX_ERRMSG; /* the text is for people; the sender should have cut it */
	/* Control bytes become '?': the text ends up in logs and terminals. */
	for (size_t i = 0; i < len; i++)
		out[i] = (p[i] < 0x20 || p[i] == 0x7f) ? '?' : (char)p[i];
	out[len] = '\0';
}

/* A whole reply for r (out of the table after this). */
static void deliver(struct rpc_client *c, struct rpc_req *r, uint32_t status, uint8_t flags,
		    const uint8_t *payload, size_t len)
{
	char msg[RPC_MAX_ERRMSG + 1];

	rpc_pend_remove(&c->pend, r);
	c->st.replies++;
	if (status == 0) {
		finish(c, r, 0, NULL, payload, len);
	} else if (flags & RPC_F_ERROR) {
		copy_errmsg(msg, payload, len);
		finish(c, r, -(int)status, msg, NULL, 0);
	} else {
		/* A status without ERROR (e.g. EPARTIAL) keeps its payload. */
		finish(c, r, -(int)status, NULL, payload, len);
	}
}

/* Fail r alone (its reply cannot be taken) and tell the peer to stop sending it. */
static void give_up(struct rpc_client *c, struct rpc_req *r, int status)
{
	rpc_pend_remove(&c->pend, r);
	send_cancel(c, r->id, r->method);
	finish(c, r, status, NULL, NULL, 0);
}

/* The seam: one whole envelope from the peer. Negative return = close the connection. */
static int on_message(struct rpc_client *c, const uint8_t *msg, size_t len)
{
	struct rpc_hdr h;
	const uint8_t *frag;
	size_t flen;
	struct rpc_req *r;
	int rc;

	if (rpc_hdr_parse(msg, len, &h, &frag, &flen))
		return SEVMON_EPROTO;
	if ((h.flags & RPC_F_CANCEL) || h.status > (uint32_t)INT32_MAX)
		return SEVMON_EPROTO; /* we never serve requests; statuses are negated ints */
	if (!(r = rpc_pend_find(&c->pend, h.id))) {
		c->st.dropped++;
		return 0;
	}
	int first = !(h.flags & RPC_F_CONT);
	if (first && !r->reasm.started && (h.flags & RPC_F_END)) {
		/* the common case: the whole reply in one frame, delivered without a copy */
		if (flen != h.total_len)
			return SEVMON_EPROTO;
		if (flen > c->lim.max_reply)
			give_up(c, r, SEVMON_ETOOBIG); /* a limit set below one frame */
		else
			deliver(c, r, h.status, h.flags, frag, flen);
		return 0;
	}
	if (first && !r->reasm.started) {
		if (h.total_len > c->lim.max_reply ||
		    h.total_len > c->lim.max_reasm_total - c->reasm_bytes) {
			give_up(c, r, SEVMON_ETOOBIG);
			return 0;
		}
		r->reply_status = h.status;
		r->reply_flags = h.flags & RPC_F_ERROR;
	} else if (h.status != r->reply_status || (h.flags & RPC_F_ERROR) != r->reply_flags) {
		return SEVMON_EPROTO; /* fragments of one reply disagree */
	}
	rc = rpc_reasm_add(&r->reasm, &h, frag, flen, c->lim.max_reply);
	if (rc == SEVMON_ETOOBIG || rc == SEVMON_ENOMEM) {
		give_up(c, r, rc);
		return 0;
	}
	if (rc < 0)
		return rc;
	if (first) {
		r->charged = h.total_len;
		c->reasm_bytes += r->charged;
	}
	if (rc == 1) {
		uint8_t *buf = r->reasm.buf;
		size_t blen = r->reasm.len;

		r->reasm.buf = NULL; /* ours now */
		release_reasm(c, r);
		deliver(c, r, r->reply_status, r->reply_flags, buf, blen);
		free(buf);
	}
	return 0;
}

int rpc_client_on_frame(struct rpc_client *c, const uint8_t *body, size_t len)
{
	if (c->codec.open) {
		long n = c->codec.open(c->codec.ctx, body, len, c->open_buf, FRAME_MAX_BODY);
		if (n < 0)
			return (int)n;
		if ((size_t)n > FRAME_MAX_BODY)
			return SEVMON_EINTERNAL;
		return on_message(c, c->open_buf, (size_t)n);
	}
	return on_message(c, body, len);
}

static int feed(struct rpc_client *c, const uint8_t *p, size_t n)
{
	while (n > 0 && !c->dead && !c->closing) {
		const uint8_t *body;
		size_t blen;
		long used = frame_reader_feed(&c->fr, p, n, &body, &blen);
		int rc;

		if (used < 0)
			return (int)used;
		p += used;
		n -= (size_t)used;
		if (body && (rc = rpc_client_on_frame(c, body, blen)))
			return rc;
	}
	return 0;
}

static void stream_read(struct rpc_client *c)
{
	size_t total = 0;

	while (total < c->lim.read_budget && !c->dead && !c->closing) {
		ssize_t n = read(c->fd, c->rbuf, sizeof c->rbuf);
		int rc;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				rpc_client_conn_fail(c, SEVMON_ECONNRESET);
			return;
		}
		if (n == 0) {
			/* A partial frame at EOF is a lost connection, not a violation: a
			 * crashed peer leaves one too. */
			rpc_client_conn_fail(c, SEVMON_ECONNRESET);
			return;
		}
		c->io_started = 1;
		c->st.bytes_received += (uint64_t)n;
		total += (size_t)n;
		if ((rc = feed(c, c->rbuf, (size_t)n))) {
			rpc_client_conn_fail(c, rc);
			return;
		}
		if ((size_t)n < sizeof c->rbuf)
			return; /* drained; the (level-triggered) poll says when there is more */
	}
}

/* ---- loop callbacks ---- */

static void on_poll(uv_poll_t *h, int status, int events)
{
	struct rpc_client *c = h->data;

	if (status < 0) {
		rpc_client_conn_fail(c, SEVMON_ECONNRESET);
		return;
	}
	if (events & UV_WRITABLE)
		stream_write(c);
	if (events & UV_READABLE)
		stream_read(c);
	io_update(c);
}

static void on_timer(uv_timer_t *t)
{
	struct rpc_client *c = t->data;
	uint64_t now = uv_now(c->loop);
	struct rpc_req *r;

	c->timer_due = 0;
	while (!c->closing && !c->dead && (r = rpc_pend_earliest(&c->pend)) &&
	       r->deadline <= now) {
		rpc_pend_remove(&c->pend, r);
		send_cancel(c, r->id, r->method);
		c->st.timeouts++;
		finish(c, r, SEVMON_ETIMEDOUT, NULL, NULL, 0);
	}
	if (!c->closing && !c->dead)
		arm_timer(c);
}

static void on_idle(uv_idle_t *i)
{
	struct rpc_client *c = i->data;
	struct rpc_req *r, *last = c->done_tail;

	uv_idle_stop(&c->idle);
	if (c->disconnect_pending) {
		/* First, so the owner can react (even close) knowing why; the failed
		 * requests follow, from here or from rpc_client_close. */
		c->disconnect_pending = 0;
		if (c->on_disc)
			c->on_disc(c->on_disc_arg, c->dead);
	}
	/* Only what was queued before this pass: a callback that retries on EBUSY gets its
	 * answer on the next loop turn, not in an endless loop here. */
	while (!c->closing && last && (r = done_pop(c))) {
		int stop = r == last;
		finish(c, r, r->status, NULL, NULL, 0);
		if (stop)
			break;
	}
	if (c->closing)
		return;
	if (c->done_head)
		uv_idle_start(&c->idle, on_idle);
}

/* ---- public API ---- */

static size_t or_default(size_t v, size_t def) { return v ? v : def; }

static void stream_shutdown(struct rpc_client *c)
{
	if (c->is_sock)
		shutdown(c->fd, SHUT_RDWR);
}

static void stream_close_handles(struct rpc_client *c, uv_close_cb cb)
{
	uv_close((uv_handle_t *)&c->poll, cb);
}

static void stream_release(struct rpc_client *c)
{
	close(c->fd);
}

static const struct rpc_client_io stream_io = {
	.update = stream_update, .shutdown = stream_shutdown,
	.close_handles = stream_close_handles, .release = stream_release,
};

int rpc_client_new(uv_loop_t *loop, const struct rpc_client_limits *lim, struct rpc_client **out)
{
	static const struct rpc_client_limits none;
	struct rpc_client *c;
	int rc;

	*out = NULL;
	if (!lim)
		lim = &none;
	if (lim->max_msg && (lim->max_msg <= RPC_HDR_LEN || lim->max_msg > FRAME_MAX_BODY))
		return SEVMON_EINVAL;
	if (lim->max_reply > UINT32_MAX || lim->max_request > UINT32_MAX)
		return SEVMON_EINVAL; /* total_len is 32 bits on the wire */
	if (!(c = calloc(1, sizeof *c)))
		return SEVMON_ENOMEM;
	c->loop = loop;
	c->fd = -1;
	c->lim.max_in_flight = lim->max_in_flight ? lim->max_in_flight : RPC_CLIENT_MAX_IN_FLIGHT;
	c->lim.max_reply = or_default(lim->max_reply, RPC_CLIENT_MAX_REPLY);
	c->lim.max_reasm_total = or_default(lim->max_reasm_total, RPC_CLIENT_MAX_REASM_TOTAL);
	c->lim.max_request = or_default(lim->max_request, RPC_CLIENT_MAX_REQUEST);
	c->lim.max_write_queued = or_default(lim->max_write_queued, RPC_CLIENT_MAX_WRITE_QUEUED);
	c->lim.read_budget = or_default(lim->read_budget, RPC_CLIENT_READ_BUDGET);
	c->lim.max_msg = or_default(lim->max_msg, FRAME_MAX_BODY);
	frame_reader_init(&c->fr);
	rpc_wq_init(&c->wq);
	if ((rc = rpc_pend_init(&c->pend, c->lim.max_in_flight))) {
		free(c);
		return rc;
	}
	uv_timer_init(loop, &c->timer);
	uv_idle_init(loop, &c->idle);
	c->timer.data = c->idle.data = c;
	c->handles_open = 2;
	*out = c;
	return 0;
}

static void on_discard_closed(uv_handle_t *h)
{
	struct rpc_client *c = h->data;

	if (--c->handles_open > 0)
		return;
	rpc_pend_fini(&c->pend);
	free(c);
}

void rpc_client_discard(struct rpc_client *c)
{
	uv_close((uv_handle_t *)&c->timer, on_discard_closed);
	uv_close((uv_handle_t *)&c->idle, on_discard_closed);
}

int rpc_client_open(uv_loop_t *loop, int fd, const struct rpc_client_limits *lim,
		    struct rpc_client **out)
{
	struct rpc_client *c;
	int type, rc;
	socklen_t tlen = sizeof type;

	*out = NULL;
	if (!loop || fd < 0)
		return SEVMON_EINVAL;
	if ((rc = rpc_client_new(loop, lim, &c)))
		return rc;
	c->io = &stream_io;
	c->fd = fd;
	c->is_sock = getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) == 0;
	if (uv_poll_init(loop, &c->poll, fd) < 0) {
		rpc_client_discard(c);
		return SEVMON_EINVAL;
	}
	c->poll.data = c;
	c->handles_open++;
	io_update(c);
	*out = c;
	return 0;
}

int rpc_client_set_codec(struct rpc_client *c, const struct rpc_client_codec *codec)
{
	if (!c || !codec || c->io_started || c->closing || c->dead || c->codec.seal ||
	    c->codec.open || codec->overhead >= FRAME_MAX_BODY - RPC_HDR_LEN)
		return SEVMON_EINVAL;
	if ((codec->seal && !(c->seal_buf = malloc(FRAME_MAX_BODY))) ||
	    (codec->open && !(c->open_buf = malloc(FRAME_MAX_BODY)))) {
		free(c->seal_buf);
		c->seal_buf = NULL;
		return SEVMON_ENOMEM;
	}
	c->codec = *codec;
	if (c->lim.max_msg > FRAME_MAX_BODY - codec->overhead)
		c->lim.max_msg = FRAME_MAX_BODY - codec->overhead;
	return 0;
}

void rpc_client_on_disconnect(struct rpc_client *c, rpc_client_disconnect_cb cb, void *arg)
{
	c->on_disc = cb;
	c->on_disc_arg = arg;
}

int rpc_client_call(struct rpc_client *c, uint16_t method, const uint8_t *payload, size_t len,
		    uint32_t timeout_ms, rpc_reply_cb cb, void *user, uint32_t *out_id)
{
	struct rpc_req *r;
	int rc;

	if (out_id)
		*out_id = 0;
	if (!c || !cb || (len && !payload) || c->closing)
		return SEVMON_EINVAL;
	if (!(r = calloc(1, sizeof *r)))
		return SEVMON_ENOMEM;
	r->method = method;
	r->cb = cb;
	r->user = user;
	r->heap_idx = RPC_PEND_NOT_IN_HEAP;
	if (c->dead) {
		defer(c, r, SEVMON_ECONNRESET);
		return 0;
	}
	if (len > c->lim.max_request) {
		defer(c, r, SEVMON_ETOOBIG);
		return 0;
	}
	/* An empty queue takes any one request, so a request larger than the queue limit
	 * still goes out once the queue drains. */
	if (c->pend.count >= c->lim.max_in_flight ||
	    (c->wq.bytes && (c->wq.bytes > c->lim.max_write_queued ||
			     request_wire_size(c, len) > c->lim.max_write_queued - c->wq.bytes))) {
		c->st.busy++;
		defer(c, r, SEVMON_EBUSY);
		return 0;
	}
	r->id = rpc_pend_new_id(&c->pend);
	/* The loop's clock is cached: on a connection's private loop, idle since its last
	 * request (minutes, for a session between scans), it is as old as that, and a
	 * deadline counted from it would already be past when the loop runs. */
	uv_update_time(c->loop);
	r->deadline = timeout_ms ? uv_now(c->loop) + timeout_ms : 0;
	rpc_pend_insert(&c->pend, r);
	if (out_id)
		*out_id = r->id;
	if ((rc = queue_request(c, r, payload, len, timeout_ms))) {
		rpc_client_conn_fail(c, rc); /* the queue may hold half a request: the stream is lost */
		return 0;
	}
	c->st.requests++;
	if (r->deadline)
		arm_timer(c);
	io_update(c);
	return 0;
}

int rpc_client_cancel(struct rpc_client *c, uint32_t id)
{
	struct rpc_req *r;

	if (!c || c->closing)
		return SEVMON_EINVAL;
	if (id == 0 || !(r = rpc_pend_find(&c->pend, id)))
		return SEVMON_ENOENT;
	rpc_pend_remove(&c->pend, r);
	send_cancel(c, r->id, r->method);
	finish(c, r, SEVMON_ECANCELED, NULL, NULL, 0);
	return 0;
}

static void on_handle_closed(uv_handle_t *h)
{
	struct rpc_client *c = h->data;

	if (--c->handles_open > 0)
		return;
	c->io->release(c);
	rpc_wq_fini(&c->wq);
	rpc_pend_fini(&c->pend);
	free(c->seal_buf);
	free(c->open_buf);
	void (*cb)(void *) = c->closed_cb;
	void *arg = c->closed_arg;
	free(c);
	if (cb)
		cb(arg);
}

void rpc_client_close(struct rpc_client *c, void (*closed_cb)(void *arg), void *arg)
{
	struct rpc_req *r;

	if (!c || c->closing)
		return;
	c->closing = 1;
	c->closed_cb = closed_cb;
	c->closed_arg = arg;
	io_update(c);
	while ((r = done_pop(c)))
		finish(c, r, r->status, NULL, NULL, 0);
	while ((r = rpc_pend_oldest(&c->pend))) {
		rpc_pend_remove(&c->pend, r);
		finish(c, r, SEVMON_ECANCELED, NULL, NULL, 0);
	}
	c->io->close_handles(c, on_handle_closed);
	uv_close((uv_handle_t *)&c->timer, on_handle_closed);
	uv_close((uv_handle_t *)&c->idle, on_handle_closed);
}

void rpc_client_get_stats(const struct rpc_client *c, struct rpc_client_stats *out)
{
	*out = c->st;
	out->in_flight = c->pend.count;
	out->write_queued = c->wq.bytes;
}
