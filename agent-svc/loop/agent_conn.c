/*
 * agent_conn.c — one connection of the agent: frames → (channel) → envelopes →
 * reassembly → FIFO of requests → dispatch → fragments → (channel) → frames →
 * write queue.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent_loop_int.h"
#include "clock.h"
#include "err.h"

#define NS_PER_MS 1000000ull

struct agent_conn *agent_conn_new(struct agent_loop *l, int fd, const char *peer)
{
	struct agent_conn *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->partials = calloc(l->cfg.max_partial, sizeof *c->partials);
	c->queue = calloc(l->cfg.max_queued, sizeof *c->queue);
	if (!c->partials || !c->queue) {
		free(c->partials);
		free(c->queue);
		free(c);
		return NULL;
	}
	c->loop = l;
	c->io = &agent_conn_io_stream;
	c->fd = fd;
	c->is_sock = 1;
	c->id = ++l->next_conn_id;
	snprintf(c->peer, sizeof c->peer, "%s", peer);
	/* "tcp:1.2.3.4:5" -> "tcp:1.2.3.4", "vsock:3:1234" -> "vsock:3"; a label without
	 * a port (unix) is its own source, shared by every local peer */
	snprintf(c->source, sizeof c->source, "%s", peer);
	char *colon = strrchr(c->source, ':');
	if (colon && colon != strchr(c->source, ':') && strspn(colon + 1, "0123456789") == strlen(colon + 1))
		*colon = 0;
	frame_reader_init(&c->fr);
	c->last_activity_ns = ((uint64_t)clock_mono_ns());
	c->idle_timeout_ms = l->cfg.idle_timeout_ms;
	return c;
}

void agent_conn_free(struct agent_conn *c)
{
	struct agent_loop *l = c->loop;

	if (c->hooked && l->cfg.hooks.close)
		l->cfg.hooks.close(l->cfg.hooks.ctx, c, c->session);
	c->io->release(c);
	for (unsigned i = 0; i < l->cfg.max_partial; i++)
		if (c->partials[i].used)
			rpc_reasm_reset(&c->partials[i].ra);
	for (unsigned i = 0; i < c->qcount; i++)
		free(c->queue[(c->qhead + i) % l->cfg.max_queued].payload);
	free(c->partials);
	free(c->queue);
	free(c->out.p);
	free(c);
}

int agent_conn_admit(struct agent_loop *l, struct agent_conn *c)
{
	int rc;

	c->ch.max_msg = FRAME_MAX_BODY; /* the default, so hooks.open may already send */
	if (l->cfg.hooks.open &&
	    (rc = l->cfg.hooks.open(l->cfg.hooks.ctx, c, &c->session, &c->ch)) < 0) {
		agent_logf(l, AGENT_LOG_WARN, "conn %llu refused peer=%s: %s",
			   (unsigned long long)c->id, c->peer, sevmon_errname(rc));
		agent_conn_free(c);
		l->st.refused++;
		return SEVMON_EDENIED;
	}
	c->hooked = 1;
	c->authed = c->ch.open == NULL;
	if (!c->ch.max_msg)
		c->ch.max_msg = FRAME_MAX_BODY;
	if (c->ch.max_msg <= RPC_HDR_LEN || c->ch.max_msg > FRAME_MAX_BODY) {
		agent_logf(l, AGENT_LOG_WARN, "conn %llu refused peer=%s: channel max_msg %zu invalid",
			   (unsigned long long)c->id, c->peer, c->ch.max_msg);
		agent_conn_free(c);
		l->st.refused++;
		return SEVMON_EINVAL;
	}
	l->conns[l->nconns++] = c;
	l->st.accepted++;
	agent_logf(l, AGENT_LOG_INFO, "conn %llu open peer=%s", (unsigned long long)c->id, c->peer);
	return 0;
}

void agent_conn_fail(struct agent_conn *c, int protocol, const char *fmt, ...)
{
	va_list ap;

	if (c->closing)
		return; /* the first reason is the one that matters */
	c->closing = 1;
	if (protocol)
		c->loop->st.protocol_errors++;
	va_start(ap, fmt);
	vsnprintf(c->reason, sizeof c->reason, fmt, ap);
	va_end(ap);
}

void agent_conn_close(struct agent_conn *c, const char *reason)
{
	agent_conn_fail(c, 0, "%s", reason ? reason : "closed by the agent");
}

void agent_conn_set_authenticated(struct agent_conn *c) { c->authed = 1; }

void agent_conn_set_timeout(struct agent_conn *c, uint32_t ms)
{
	c->idle_timeout_ms = ms ? ms : c->loop->cfg.idle_timeout_ms;
}

const char *agent_conn_peer(const struct agent_conn *c) { return c->peer; }
uint64_t agent_conn_id(const struct agent_conn *c) { return c->id; }

int agent_conn_in_stalled(const struct agent_conn *c)
{
	const struct agent_loop_config *cfg = &c->loop->cfg;
	return c->qcount >= cfg->max_queued || c->queued_bytes >= cfg->max_queued_bytes ||
	       agent_conn_wq(c) >= cfg->max_wqueue;
}

int agent_conn_wants_read(const struct agent_conn *c)
{
	return !c->closing && !c->rd_eof && c->in_off == c->in_len && !agent_conn_in_stalled(c);
}

int agent_conn_has_work(const struct agent_conn *c)
{
	if (c->closing)
		return 0;
	if (c->qcount && agent_conn_wq(c) < c->loop->cfg.max_wqueue)
		return 1;
	return c->in_off < c->in_len && !agent_conn_in_stalled(c);
}

int agent_conn_done(const struct agent_conn *c)
{
	return c->rd_eof && !c->qcount && !c->npartial && agent_conn_wq(c) == 0;
}

/* --- write side --- */

static uint8_t *obuf_reserve(struct agent_conn *c, size_t need)
{
	struct agent_obuf *o = &c->out;

	if (o->cap - o->len < need && o->off) {
		memmove(o->p, o->p + o->off, o->len - o->off);
		o->len -= o->off;
		o->off = 0;
	}
	if (o->cap - o->len < need) {
		/* grow by half, or to the exact need: a reply reserves its whole size at once
		 * (send_envelope), and doubling would hold twice the biggest reply */
		size_t ncap = o->cap + o->cap / 2;
		if (ncap < 4096)
			ncap = 4096;
		if (ncap - o->len < need)
			ncap = o->len + need;
		uint8_t *np = realloc(o->p, ncap);
		if (!np) {
			agent_conn_fail(c, 0, "out of memory for the write queue");
			return NULL;
		}
		o->p = np;
		o->cap = ncap;
	}
	return o->p + o->len;
}

static void obuf_commit(struct agent_conn *c, size_t n)
{
	c->out.len += n;
	if (agent_conn_wq(c) > c->loop->st.wqueue_peak)
		c->loop->st.wqueue_peak = agent_conn_wq(c);
}

int agent_conn_send_raw(struct agent_conn *c, const uint8_t *msg, size_t n)
{
	int rc;
	uint8_t *p;

	if (c->closing)
		return SEVMON_ECONNRESET;
	if (!msg || n == 0)
		return SEVMON_EINVAL;
	if (n > FRAME_MAX_BODY)
		return SEVMON_ETOOBIG;
	if (!(p = obuf_reserve(c, FRAME_HDR_LEN + n)))
		return SEVMON_ENOMEM;
	if ((rc = frame_header_write(p, n)))
		return rc;
	memcpy(p + FRAME_HDR_LEN, msg, n);
	obuf_commit(c, FRAME_HDR_LEN + n);
	return 0;
}

int agent_conn_send_message(struct agent_conn *c, const uint8_t *msg, size_t n)
{
	uint8_t *p;
	long sealed;

	if (c->closing)
		return SEVMON_ECONNRESET;
	if (!c->ch.seal)
		return agent_conn_send_raw(c, msg, n);
	if (n == 0 || !msg)
		return SEVMON_EINVAL;
	if (n > c->ch.max_msg)
		return SEVMON_ETOOBIG;
	if (!(p = obuf_reserve(c, FRAME_HDR_LEN + FRAME_MAX_BODY)))
		return SEVMON_ENOMEM;
	sealed = c->ch.seal(c->ch.ctx, msg, n, p + FRAME_HDR_LEN, FRAME_MAX_BODY);
	if (sealed <= 0 || (size_t)sealed > FRAME_MAX_BODY) {
		agent_conn_fail(c, 0, "channel seal failed: %s",
				sevmon_errname(sealed < 0 ? (int)sealed : SEVMON_EINTERNAL));
		return sealed < 0 ? (int)sealed : SEVMON_EINTERNAL;
	}
	frame_header_write(p, (size_t)sealed);
	obuf_commit(c, FRAME_HDR_LEN + (size_t)sealed);
	return 0;
}

/* One whole envelope (reply or error), cut into fragments of at most max_msg bytes. */
static void send_envelope(struct agent_conn *c, const struct rpc_hdr *h, const uint8_t *payload,
			  size_t len)
{
	struct rpc_frag f;
	size_t n;

	size_t room = c->ch.max_msg - RPC_HDR_LEN;
	size_t nfrag = len ? (len + room - 1) / room : 1;
	/* Reserve the whole envelope at once, so the buffer grows once. A sealed frame is at
	 * most FRAME_MAX_BODY; the slack covers the last, short fragment. */
	size_t per_frag = FRAME_HDR_LEN + RPC_HDR_LEN + (FRAME_MAX_BODY - c->ch.max_msg);
	if (!obuf_reserve(c, len + nfrag * per_frag + FRAME_HDR_LEN + FRAME_MAX_BODY))
		return;
	rpc_frag_init(&f, h, payload, len, c->ch.max_msg);
	for (;;) {
		if (c->ch.seal) {
			if (!(n = rpc_frag_next(&f, c->loop->msg)))
				break;
			if (agent_conn_send_message(c, c->loop->msg, n))
				return;
		} else {
			uint8_t *p = obuf_reserve(c, FRAME_HDR_LEN + c->ch.max_msg);
			if (!p || !(n = rpc_frag_next(&f, p + FRAME_HDR_LEN)))
				break;
			frame_header_write(p, n);
			obuf_commit(c, FRAME_HDR_LEN + n);
		}
	}
}

static void send_error(struct agent_conn *c, const struct agent_pending *q, int err,
		       const char *msg)
{
	struct rpc_hdr h = { .id = q->id, .method = q->method, .flags = RPC_F_ERROR,
			     .status = (uint32_t)-err };
	size_t n = strlen(msg);
	enum agent_log_level lv = AGENT_LOG_INFO;

	if (n > RPC_MAX_ERRMSG)
		n = RPC_MAX_ERRMSG;
	if (n == 0) { /* the wire error text is for people: never leave it empty */
		msg = sevmon_strerror(err);
		n = strlen(msg);
	}
	/* Refusals by the loop or the method table are worth a warning; a handler reporting
	 * e.g. an unmapped address is the normal course of introspection. */
	if (err == SEVMON_ETIMEDOUT || err == SEVMON_EUNMETHOD || err == SEVMON_EDENIED)
		lv = AGENT_LOG_WARN;
	agent_logf(c->loop, lv, "conn %llu request id=%u method=%u rejected: %s (%.*s)",
		   (unsigned long long)c->id, q->id, q->method, sevmon_errname(err), (int)n, msg);
	c->loop->st.rejected++;
	send_envelope(c, &h, (const uint8_t *)msg, n);
}

static long stream_write(struct agent_conn *c, const uint8_t *p, size_t n)
{
	for (;;) {
		ssize_t w;
		if (c->is_sock)
			w = send(c->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		else
			w = write(c->fd, p, n);
		if (w < 0 && errno == ENOTSOCK && c->is_sock) {
			c->is_sock = 0;
			continue;
		}
		if (w > 0)
			return (long)w;
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		agent_conn_fail(c, 0, "write failed: %s", w < 0 ? strerror(errno) : "no progress");
		return SEVMON_ECONNRESET;
	}
}

void agent_conn_flush(struct agent_conn *c)
{
	struct agent_obuf *o = &c->out;

	while (o->off < o->len && !c->closing) {
		long n = c->io->write(c, o->p + o->off, o->len - o->off);
		if (n <= 0)
			return;
		o->off += (size_t)n;
		c->last_activity_ns = ((uint64_t)clock_mono_ns());
	}
	if (o->off == o->len) {
		o->off = o->len = 0;
		if (o->cap > AGENT_OBUF_KEEP) {
			free(o->p);
			o->p = NULL;
			o->cap = 0;
		}
	}
}

/* --- read side --- */

static struct agent_partial *find_partial(struct agent_conn *c, uint32_t id)
{
	for (unsigned i = 0; i < c->loop->cfg.max_partial; i++)
		if (c->partials[i].used && c->partials[i].id == id)
			return &c->partials[i];
	return NULL;
}

static long find_queued(struct agent_conn *c, uint32_t id)
{
	for (unsigned i = 0; i < c->qcount; i++)
		if (c->queue[(c->qhead + i) % c->loop->cfg.max_queued].id == id)
			return (long)i;
	return -1;
}

static void drop_partial(struct agent_conn *c, struct agent_partial *p)
{
	c->partial_bytes -= p->ra.total;
	rpc_reasm_reset(&p->ra);
	p->used = 0;
	c->npartial--;
}

static void note_inbound(struct agent_conn *c)
{
	size_t in = c->partial_bytes + c->queued_bytes;
	if (in > c->loop->st.inbound_peak)
		c->loop->st.inbound_peak = in;
}

static void cancel(struct agent_conn *c, uint32_t id)
{
	struct agent_partial *p = find_partial(c, id);
	unsigned mq = c->loop->cfg.max_queued;
	long k;

	if (p) {
		drop_partial(c, p);
	} else if ((k = find_queued(c, id)) >= 0) {
		struct agent_pending *q = &c->queue[(c->qhead + (unsigned)k) % mq];
		c->queued_bytes -= q->len;
		free(q->payload);
		for (unsigned i = (unsigned)k; i + 1 < c->qcount; i++)
			c->queue[(c->qhead + i) % mq] = c->queue[(c->qhead + i + 1) % mq];
		c->qcount--;
	} else {
		return; /* unknown or already answered: nothing to drop */
	}
	c->loop->st.canceled++;
	agent_logf(c->loop, AGENT_LOG_DEBUG, "conn %llu request id=%u canceled",
		   (unsigned long long)c->id, id);
}

static void enqueue(struct agent_conn *c, const struct rpc_hdr *h, uint64_t received_ns,
		    uint8_t *payload, size_t len)
{
	unsigned mq = c->loop->cfg.max_queued;

	if (c->qcount >= mq) { /* cannot happen: parsing stops while the queue is full */
		free(payload);
		agent_conn_fail(c, 0, "internal: request queue overflow");
		return;
	}
	c->queue[(c->qhead + c->qcount) % mq] = (struct agent_pending){
		.id = h->id, .method = h->method, .deadline_ms = h->deadline_ms,
		.received_ns = received_ns, .payload = payload, .len = len };
	c->qcount++;
	c->queued_bytes += len;
	note_inbound(c);
}

static void on_message(struct agent_conn *c, const uint8_t *msg, size_t len)
{
	const struct agent_loop_config *cfg = &c->loop->cfg;
	struct rpc_hdr h;
	const uint8_t *frag;
	size_t flen;
	struct agent_partial *p;
	int rc;

	if ((rc = rpc_hdr_parse(msg, len, &h, &frag, &flen))) {
		/* name the usual culprits: a peer's developer reads this line */
		const char *why = len < RPC_HDR_LEN		  ? "shorter than its header"
				  : msg[6] & ~RPC_F_KNOWN	  ? "unknown flags"
				  : msg[7]			  ? "reserved byte set"
				  : (msg[6] & RPC_F_CANCEL)	  ? "CANCEL with other flags"
				  : (msg[6] & RPC_F_ERROR)	  ? "ERROR flag in a request"
								  : "fragment longer than total_len";
		agent_conn_fail(c, 1, "protocol error: bad envelope: %s (%s)", why,
				sevmon_errname(rc));
		return;
	}
	if (h.flags & RPC_F_ERROR) {
		agent_conn_fail(c, 1, "protocol error: id=%u: ERROR flag in a request", h.id);
		return;
	}
	if (h.status) {
		agent_conn_fail(c, 1, "protocol error: id=%u: status set in a request", h.id);
		return;
	}
	if (h.flags & RPC_F_CANCEL) {
		if (h.total_len || flen) {
			agent_conn_fail(c, 1, "protocol error: id=%u: CANCEL with payload", h.id);
			return;
		}
		cancel(c, h.id);
		return;
	}
	p = find_partial(c, h.id);
	if (h.flags & RPC_F_CONT) {
		if (!p) {
			agent_conn_fail(c, 1, "protocol error: id=%u: continuation without start",
				h.id);
			return;
		}
		if (p->method != h.method) {
			agent_conn_fail(c, 1, "protocol error: id=%u: fragment method differs",
				h.id);
			return;
		}
	} else {
		if (p || find_queued(c, h.id) >= 0) {
			agent_conn_fail(c, 1, "protocol error: id=%u: duplicate request id",
				h.id);
			return;
		}
		if (h.total_len > cfg->max_request) {
			agent_conn_fail(c, 1,
				"protocol error: id=%u method=%u: request of %u bytes over the limit %zu",
				h.id, h.method, h.total_len, cfg->max_request);
			return;
		}
	}

	if (!p && (h.flags & RPC_F_END)) { /* the common case: a request in one message */
		struct rpc_reasm ra = { 0 };
		rc = rpc_reasm_add(&ra, &h, frag, flen, cfg->max_request);
		if (rc == 1) {
			enqueue(c, &h, ((uint64_t)clock_mono_ns()), ra.buf, ra.len);
			return;
		}
		rpc_reasm_reset(&ra);
		agent_conn_fail(c, rc != SEVMON_ENOMEM, "protocol error: id=%u: bad fragment (%s)",
				h.id, sevmon_errname(rc < 0 ? rc : SEVMON_EPROTO));
		return;
	}
	if (!p) {
		if (c->npartial >= cfg->max_partial) {
			agent_conn_fail(c, 1,
				"protocol error: more than %u partial requests",
				cfg->max_partial);
			return;
		}
		for (unsigned i = 0; i < cfg->max_partial && !p; i++)
			if (!c->partials[i].used)
				p = &c->partials[i];
		if (!p) { /* cannot happen: npartial counts the used slots */
			agent_conn_fail(c, 0, "internal: no free partial slot");
			return;
		}
		memset(p, 0, sizeof *p);
		p->used = 1;
		p->id = h.id;
		p->method = h.method;
		p->deadline_ms = h.deadline_ms;
		p->received_ns = ((uint64_t)clock_mono_ns());
		c->npartial++;
	}
	size_t before = p->ra.total;
	rc = rpc_reasm_add(&p->ra, &h, frag, flen, cfg->max_request);
	c->partial_bytes += p->ra.total - before;
	note_inbound(c);
	if (rc < 0) {
		drop_partial(c, p);
		agent_conn_fail(c, rc != SEVMON_ENOMEM, "protocol error: id=%u: bad fragment (%s)",
				h.id, sevmon_errname(rc));
		return;
	}
	if (rc == 1) {
		struct rpc_hdr first = { .id = p->id, .method = p->method,
					 .deadline_ms = p->deadline_ms };
		uint8_t *buf = p->ra.buf;
		size_t blen = p->ra.len;
		uint64_t t0 = p->received_ns;
		p->ra.buf = NULL; /* ownership moves to the queue */
		drop_partial(c, p);
		enqueue(c, &first, t0, buf, blen);
	}
}

void agent_conn_on_frame(struct agent_conn *c, const uint8_t *body, size_t n)
{
	const uint8_t *msg = body;
	size_t len = n;

	c->frames_in++;
	if (c->ch.open) {
		long m = c->ch.open(c->ch.ctx, body, n, c->loop->plain, sizeof c->loop->plain);
		if (m < 0) {
			agent_conn_fail(c, 1, "channel open failed: %s", sevmon_errname((int)m));
			return;
		}
		if (m == 0)
			return; /* consumed by the channel (handshake) */
		if ((size_t)m > sizeof c->loop->plain) {
			agent_conn_fail(c, 0, "channel open overran its buffer");
			return;
		}
		msg = c->loop->plain;
		len = (size_t)m;
	}
	if (len > c->ch.max_msg) {
		agent_conn_fail(c, 1, "protocol error: message of %zu bytes over %zu", len,
				c->ch.max_msg);
		return;
	}
	on_message(c, msg, len);
}

void agent_conn_parse(struct agent_conn *c)
{
	while (c->in_off < c->in_len && !c->closing && !agent_conn_in_stalled(c)) {
		const uint8_t *body;
		size_t blen;
		long used = frame_reader_feed(&c->fr, c->in + c->in_off, c->in_len - c->in_off,
					      &body, &blen);
		if (used < 0) {
			agent_conn_fail(c, 1, "protocol error: zero-length frame");
			return;
		}
		c->in_off += (size_t)used;
		if (body)
			agent_conn_on_frame(c, body, blen);
	}
	if (c->in_off == c->in_len)
		c->in_off = c->in_len = 0;
}

static void on_eof(struct agent_conn *c)
{
	c->rd_eof = 1;
	if (frame_reader_pending(&c->fr)) {
		agent_conn_fail(c, 1, "protocol error: truncated frame at EOF");
		return;
	}
	if (c->npartial) {
		agent_conn_fail(c, 1, "protocol error: EOF inside a fragmented request");
		return;
	}
}

void agent_conn_on_readable(struct agent_conn *c)
{
	c->io->read(c);
}

static void stream_release(struct agent_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

static void stream_read(struct agent_conn *c)
{
	size_t budget = c->loop->cfg.read_budget;

	while (budget && agent_conn_wants_read(c)) {
		size_t want = budget < sizeof c->in ? budget : sizeof c->in;
		ssize_t n = read(c->fd, c->in, want);
		if (n > 0) {
			c->in_off = 0;
			c->in_len = (size_t)n;
			budget -= (size_t)n;
			c->last_activity_ns = ((uint64_t)clock_mono_ns());
			agent_conn_parse(c);
		} else if (n == 0) {
			on_eof(c);
		} else if (errno == EINTR) {
			continue;
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			return;
		} else {
			if (errno == ECONNRESET)
				agent_conn_fail(c, 0, "connection reset by peer");
			else
				agent_conn_fail(c, 0, "read failed: %s", strerror(errno));
			return;
		}
	}
}

const struct agent_conn_io agent_conn_io_stream = {
	.read = stream_read, .write = stream_write, .release = stream_release,
};

/* --- dispatch --- */

static void dispatch_one(struct agent_conn *c, struct agent_pending *q)
{
	struct agent_loop *l = c->loop;
	uint64_t now = ((uint64_t)clock_mono_ns());
	char errmsg[RPC_MAX_ERRMSG + 1];
	int rc;

	if (q->deadline_ms && now - q->received_ns >= (uint64_t)q->deadline_ms * NS_PER_MS) {
		send_error(c, q, SEVMON_ETIMEDOUT, "deadline passed before the request ran");
		return;
	}

	struct agent_request req = { .id = q->id, .method = q->method,
				     .deadline_ms = q->deadline_ms, .payload = q->payload,
				     .len = q->len, .received_ns = q->received_ns,
				     .session = c->session, .conn = c };
	struct wbuf out = wbuf_make(l->reply, l->cfg.max_reply);
	errmsg[0] = '\0';
	rc = l->cfg.dispatch(l->cfg.dispatch_ctx, &req, &out, errmsg, sizeof errmsg);
	l->st.requests++;
	if (c->closing)
		return; /* the handler closed the connection */
	if (rc > 0)
		rc = SEVMON_EINTERNAL;
	if (rc < 0) {
		errmsg[sizeof errmsg - 1] = '\0';
		send_error(c, q, rc, errmsg);
		return;
	}
	struct rpc_hdr h = { .id = q->id, .method = q->method };
	send_envelope(c, &h, out.p, out.len <= l->cfg.max_reply ? out.len : 0);
}

void agent_conn_dispatch_some(struct agent_conn *c)
{
	const struct agent_loop_config *cfg = &c->loop->cfg;
	unsigned n = 0;

	while (c->qcount && n < cfg->dispatch_budget && !c->closing &&
	       agent_conn_wq(c) < cfg->max_wqueue) {
		struct agent_pending q = c->queue[c->qhead];
		c->qhead = (c->qhead + 1) % cfg->max_queued;
		c->qcount--;
		c->queued_bytes -= q.len;
		dispatch_one(c, &q);
		free(q.payload);
		n++;
		/* Send as we go: the socket usually takes the reply now, keeping the queue short. */
		agent_conn_flush(c);
	}
}
