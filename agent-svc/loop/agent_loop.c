/*
 * agent_loop.c — the poll(2) loop: listeners, stop signal, connection table, timers.
 * Per-connection protocol work lives in agent_conn.c.
 *
 * One wakeup: poll → stop? → accept (budgeted) → per connection: write what it can,
 * read up to read_budget → every connection in round-robin order: dispatch up to
 * dispatch_budget requests, write, parse input held back by backpressure → close the
 * connections that failed, idled out or finished.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "agent_loop_int.h"
#include "clock.h"
#include "err.h"

void agent_loop_config_init(struct agent_loop_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->stop_fd = -1;
	cfg->max_conns = AGENT_MAX_CONNS;
	cfg->max_request = AGENT_MAX_REQUEST;
	cfg->max_reply = AGENT_MAX_REPLY;
	cfg->max_partial = AGENT_MAX_PARTIAL;
	cfg->max_queued = AGENT_MAX_QUEUED;
	cfg->max_queued_bytes = AGENT_MAX_QUEUED_BYTES;
	cfg->max_wqueue = AGENT_MAX_WQUEUE;
	cfg->read_budget = AGENT_READ_BUDGET;
	cfg->dispatch_budget = AGENT_DISPATCH_BUDGET;
	cfg->idle_timeout_ms = AGENT_IDLE_TIMEOUT_MS;
	cfg->max_unauth = AGENT_MAX_UNAUTH;
	cfg->max_unauth_per_source = AGENT_MAX_UNAUTH_PER_SOURCE;
}

#define DEFAULT(field, value)               \
	do {                                \
		if (!cfg.field)             \
			cfg.field = (value); \
	} while (0)

int agent_loop_new(struct agent_loop **out, const struct agent_loop_config *in)
{
	struct agent_loop_config cfg = *in;
	struct agent_loop *l;
	int p[2];

	*out = NULL;
	if (!cfg.dispatch || cfg.nlisten > AGENT_MAX_LISTENERS || (cfg.nlisten && !cfg.listen_fds))
		return SEVMON_EINVAL;
	DEFAULT(max_conns, AGENT_MAX_CONNS);
	DEFAULT(max_request, AGENT_MAX_REQUEST);
	DEFAULT(max_reply, AGENT_MAX_REPLY);
	DEFAULT(max_partial, AGENT_MAX_PARTIAL);
	DEFAULT(max_queued, AGENT_MAX_QUEUED);
	DEFAULT(max_queued_bytes, AGENT_MAX_QUEUED_BYTES);
	DEFAULT(max_wqueue, AGENT_MAX_WQUEUE);
	DEFAULT(read_budget, AGENT_READ_BUDGET);
	DEFAULT(dispatch_budget, AGENT_DISPATCH_BUDGET);
	DEFAULT(idle_timeout_ms, AGENT_IDLE_TIMEOUT_MS);
	DEFAULT(max_unauth, AGENT_MAX_UNAUTH);
	DEFAULT(max_unauth_per_source, AGENT_MAX_UNAUTH_PER_SOURCE);
	/* a smaller max_conns (or max_unauth) caps the bounds below it */
	if (cfg.max_unauth > cfg.max_conns)
		cfg.max_unauth = cfg.max_conns;
	if (cfg.max_unauth_per_source > cfg.max_unauth)
		cfg.max_unauth_per_source = cfg.max_unauth;
	/* total_len is a u32 on the wire */
	if (cfg.max_request > UINT32_MAX || cfg.max_reply > UINT32_MAX)
		return SEVMON_EINVAL;

	if (!(l = calloc(1, sizeof *l)))
		return SEVMON_ENOMEM;
	l->cfg = cfg;
	l->cfg.listen_fds = NULL; /* the copy below is what the loop uses */
	for (size_t i = 0; i < cfg.nlisten; i++)
		l->listen_fds[i] = cfg.listen_fds[i];
	l->conns = calloc(cfg.max_conns, sizeof *l->conns);
	l->reply = malloc(cfg.max_reply);
	if (!l->conns || !l->reply) {
		free(l->conns);
		free(l->reply);
		free(l);
		return SEVMON_ENOMEM;
	}
	if (pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0) {
		int rc = sevmon_from_errno(errno);
		free(l->conns);
		free(l->reply);
		free(l);
		return rc;
	}
	l->stop_rd = p[0];
	l->stop_wr = p[1];
	/* Kept to shed a connection when descriptors run out (close it, accept, close). */
	l->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	*out = l;
	return 0;
}

void agent_loop_stop(struct agent_loop *l)
{
	int saved = errno;
	char b = 's';
	/* A full pipe already holds a stop request: losing this byte is fine. */
	if (write(l->stop_wr, &b, 1) < 0) {
	}
	errno = saved;
}

static void peer_name(int fd, char *out, size_t cap)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	char a[INET6_ADDRSTRLEN];

	memset(&ss, 0, sizeof ss);
	if (getpeername(fd, (struct sockaddr *)&ss, &sl) < 0) {
		snprintf(out, cap, "fd:%d", fd);
		return;
	}
	switch (ss.ss_family) {
	case AF_UNIX: {
		struct ucred cr;
		socklen_t cl = sizeof cr;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) == 0)
			snprintf(out, cap, "unix:pid=%d,uid=%u", (int)cr.pid, (unsigned)cr.uid);
		else
			snprintf(out, cap, "unix");
		break;
	}
	case AF_INET: {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		inet_ntop(AF_INET, &s4->sin_addr, a, sizeof a);
		snprintf(out, cap, "tcp:%s:%u", a, ntohs(s4->sin_port));
		break;
	}
	case AF_INET6: {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof a);
		snprintf(out, cap, "tcp:[%s]:%u", a, ntohs(s6->sin6_port));
		break;
	}
	case AF_VSOCK: {
		struct sockaddr_vm *v = (struct sockaddr_vm *)&ss;
		snprintf(out, cap, "vsock:%u:%u", v->svm_cid, v->svm_port);
		break;
	}
	default:
		snprintf(out, cap, "af%d", (int)ss.ss_family);
	}
}

static void close_conn(struct agent_loop *l, unsigned i, const char *why);

/* The unauthenticated connection to give up for a newer one (agent_loop.h): of source
 * (NULL: any), not except; one already closing first, else the fewest frames received,
 * the oldest of those. Returns its index or -1. */
static int eviction_victim(const struct agent_loop *l, const struct agent_conn *except,
			   const char *source)
{
	int best = -1;
	for (unsigned i = 0; i < l->nconns; i++) {
		const struct agent_conn *c = l->conns[i], *b = best < 0 ? NULL : l->conns[best];
		/* a shm region is one session with a bound of its own (AGENT_MAX_SHM) */
		if (c == except || c->authed || c->shm || (source && strcmp(c->source, source)))
			continue;
		if (!b || (c->closing && !b->closing) ||
		    (c->closing == b->closing &&
		     (c->frames_in < b->frames_in || (c->frames_in == b->frames_in && c->id < b->id))))
			best = (int)i;
	}
	return best;
}

static int evict(struct agent_loop *l, const struct agent_conn *except, const char *source,
		 const char *why)
{
	int i = eviction_victim(l, except, source);
	if (i < 0)
		return SEVMON_EBUSY;
	struct agent_conn *v = l->conns[i];
	char reason[AGENT_REASON_LEN];
	snprintf(reason, sizeof reason, "%s", v->closing ? v->reason : why);
	l->st.evicted += !v->closing;
	close_conn(l, (unsigned)i, reason);
	return 0;
}

/* c was just admitted unauthenticated: keep it within max_unauth(_per_source). */
static void bound_unauth(struct agent_loop *l, const struct agent_conn *c)
{
	unsigned all = 0, same = 0;
	for (unsigned i = 0; i < l->nconns; i++) {
		const struct agent_conn *o = l->conns[i];
		if (o == c || o->authed || o->shm)
			continue;
		all++;
		same += !strcmp(o->source, c->source);
	}
	if (same >= l->cfg.max_unauth_per_source)
		(void)evict(l, c, c->source, "evicted: too many unauthenticated from this source");
	else if (all >= l->cfg.max_unauth)
		(void)evict(l, c, NULL, "evicted: too many unauthenticated connections");
}

static int add_conn(struct agent_loop *l, int fd, const char *label)
{
	char peer[AGENT_PEER_LEN];
	struct agent_conn *c;
	int rc;

	if (label)
		snprintf(peer, sizeof peer, "%s", label);
	else
		peer_name(fd, peer, sizeof peer);
	if (l->nconns >= l->cfg.max_conns &&
	    evict(l, NULL, NULL, "evicted: connection slots full") < 0) {
		agent_logf(l, AGENT_LOG_WARN, "conn refused peer=%s: %u connections open (max_conns)",
			   peer, l->nconns);
		close(fd);
		l->st.refused++;
		return SEVMON_EBUSY;
	}
	if (!(c = agent_conn_new(l, fd, peer))) {
		agent_logf(l, AGENT_LOG_WARN, "conn refused peer=%s: out of memory", peer);
		close(fd);
		l->st.refused++;
		return SEVMON_ENOMEM;
	}
	if ((rc = agent_conn_admit(l, c)) == 0 && !c->authed)
		bound_unauth(l, c);
	return rc;
}

int agent_loop_adopt(struct agent_loop *l, int fd, const char *peer)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		int rc = sevmon_from_errno(errno);
		close(fd);
		return rc;
	}
	(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
	return add_conn(l, fd, peer);
}

static void accept_some(struct agent_loop *l, int lfd)
{
	for (unsigned i = 0; i < AGENT_ACCEPT_BUDGET; i++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			add_conn(l, fd, NULL);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		if (errno == EMFILE || errno == ENFILE) {
			if (l->spare_fd >= 0) {
				/* EMFILE comes before the backlog is looked at: it does not
				 * mean a client is waiting, the spare accept tells */
				close(l->spare_fd);
				fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
				if (fd >= 0)
					close(fd);
				l->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
				if (fd < 0)
					return;
				agent_logf(l, AGENT_LOG_WARN,
					   "conn refused: out of file descriptors");
				l->st.refused++;
				continue;
			}
			l->accept_paused_until_ns =
				((uint64_t)clock_mono_ns()) + AGENT_ACCEPT_PAUSE_MS * 1000000ull;
			agent_logf(l, AGENT_LOG_WARN,
				   "out of file descriptors: not accepting for %u ms",
				   AGENT_ACCEPT_PAUSE_MS);
			return;
		}
		agent_logf(l, AGENT_LOG_WARN, "accept on fd %d failed: %s", lfd, strerror(errno));
		return;
	}
}

static void close_conn(struct agent_loop *l, unsigned i, const char *why)
{
	struct agent_conn *c = l->conns[i];

	agent_logf(l, c->closing && strncmp(why, "protocol", 8) == 0 ? AGENT_LOG_WARN : AGENT_LOG_INFO,
		   "conn %llu closed peer=%s reason=%s", (unsigned long long)c->id, c->peer, why);
	agent_conn_free(c);
	l->conns[i] = l->conns[--l->nconns];
	l->conns[l->nconns] = NULL;
}

/* Closes what failed, finished or idled out. */
static void sweep(struct agent_loop *l, uint64_t now)
{
	for (unsigned i = 0; i < l->nconns;) {
		struct agent_conn *c = l->conns[i];
		uint64_t idle_ns = (uint64_t)c->idle_timeout_ms * 1000000ull;
		if (c->closing)
			close_conn(l, i, c->reason);
		else if (agent_conn_done(c))
			close_conn(l, i, "peer closed");
		else if (c->idle_timeout_ms != UINT32_MAX && now - c->last_activity_ns >= idle_ns)
			close_conn(l, i, "idle timeout");
		else
			i++;
	}
}

static int poll_timeout(struct agent_loop *l, uint64_t now)
{
	uint64_t wait_ns = UINT64_MAX;

	for (unsigned i = 0; i < l->nconns; i++) {
		struct agent_conn *c = l->conns[i];
		if (agent_conn_has_work(c))
			return 0;
		if (c->idle_timeout_ms != UINT32_MAX) {
			uint64_t due = c->last_activity_ns + (uint64_t)c->idle_timeout_ms * 1000000ull;
			uint64_t w = due > now ? due - now : 0;
			if (w < wait_ns)
				wait_ns = w;
		}
	}
	if (l->accept_paused_until_ns) {
		uint64_t w = l->accept_paused_until_ns > now ? l->accept_paused_until_ns - now : 0;
		if (w < wait_ns)
			wait_ns = w;
	}
	if (wait_ns == UINT64_MAX)
		return -1;
	wait_ns = (wait_ns + 999999) / 1000000; /* round up: waking early only spins */
	return wait_ns > INT32_MAX ? INT32_MAX : (int)wait_ns;
}

int agent_loop_run(struct agent_loop *l)
{
	const unsigned nfix = 2 + AGENT_MAX_LISTENERS;
	struct pollfd *pf = calloc(nfix + l->cfg.max_conns + AGENT_MAX_SHM, sizeof *pf);
	struct agent_conn **pc = calloc(l->cfg.max_conns, sizeof *pc);
	int rc = 0;

	if (!pf || !pc) {
		free(pf);
		free(pc);
		return SEVMON_ENOMEM;
	}
	for (;;) {
		uint64_t now = ((uint64_t)clock_mono_ns());
		unsigned nl = 0, np = 0, nc = 0;
		char drain[64];

		pf[np++] = (struct pollfd){ .fd = l->stop_rd, .events = POLLIN };
		pf[np++] = (struct pollfd){ .fd = l->cfg.stop_fd, .events = POLLIN };
		if (l->accept_paused_until_ns && now >= l->accept_paused_until_ns)
			l->accept_paused_until_ns = 0;
		if (!l->accept_paused_until_ns) {
			for (size_t i = 0; i < l->cfg.nlisten; i++, nl++)
				pf[np++] = (struct pollfd){ .fd = l->listen_fds[i], .events = POLLIN };
		}
		for (unsigned i = 0; i < l->nconns; i++) {
			struct agent_conn *c = l->conns[i];
			short ev = 0;
			if (agent_conn_wants_read(c))
				ev |= POLLIN;
			if (agent_conn_wq(c))
				ev |= POLLOUT;
			pc[nc++] = c;
			/* a shm session has no fd (-1: poll skips it); the timeout covers it */
			pf[np++] = (struct pollfd){ .fd = c->fd, .events = c->shm ? 0 : ev };
		}

		/* ppoll: a shm session's sleeps are finer than poll(2)'s milliseconds */
		int timeout = poll_timeout(l, now);
		int64_t tns = timeout < 0 ? -1 : (int64_t)timeout * 1000000;
		struct timespec ts, *tsp = NULL;
		if (l->nshm && tns != 0) {
			int64_t st = agent_shm_timeout_ns(l);
			if (st >= 0 && (tns < 0 || st < tns))
				tns = st;
		}
		if (tns >= 0) {
			ts.tv_sec = (time_t)(tns / 1000000000);
			ts.tv_nsec = (long)(tns % 1000000000);
			tsp = &ts;
		}
		/* doorbells last: their readiness is only "look at the regions again" */
		unsigned nb = l->nshm ? agent_shm_bell_fds(l, pf + np) : 0;
		int n = ppoll(pf, np + nb, tsp, NULL);
		if (nb)
			agent_shm_after_poll(l, pf + np);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = sevmon_from_errno(errno);
			break;
		}
		if (pf[0].revents) {
			while (read(l->stop_rd, drain, sizeof drain) > 0) {
			}
			break;
		}
		if (pf[1].revents)
			break;
		for (unsigned i = 0; i < nc; i++) {
			short re = pf[2 + nl + i].revents;
			if (pc[i]->shm) /* no readiness from poll: just try, it does not block */
				re = POLLOUT | POLLIN;
			if (re & POLLOUT)
				agent_conn_flush(pc[i]);
			if (re & (POLLIN | POLLHUP | POLLERR))
				agent_conn_on_readable(pc[i]);
		}
		/* After the connections' events: an accept may evict (free) one of pc[]. */
		for (unsigned i = 0; i < nl; i++)
			if (pf[2 + i].revents & POLLIN)
				accept_some(l, pf[2 + i].fd);
		/* Round-robin so that no connection is always served first. */
		for (unsigned k = 0; k < l->nconns; k++) {
			struct agent_conn *c = l->conns[(l->rr + k) % l->nconns];
			agent_conn_dispatch_some(c);
			agent_conn_flush(c);
			agent_conn_parse(c);
		}
		if (l->nconns)
			l->rr = (l->rr + 1) % l->nconns;
		sweep(l, ((uint64_t)clock_mono_ns()));
		if (l->nshm)
			agent_shm_step(l);
	}
	while (l->nconns)
		close_conn(l, l->nconns - 1, "agent stopping");
	free(pf);
	free(pc);
	return rc;
}

void agent_loop_free(struct agent_loop *l)
{
	if (!l)
		return;
	while (l->nconns)
		close_conn(l, l->nconns - 1, "agent stopping");
	agent_shm_free_all(l);
	close(l->stop_rd);
	close(l->stop_wr);
	if (l->spare_fd >= 0)
		close(l->spare_fd);
	free(l->conns);
	free(l->reply);
	free(l);
}

void agent_loop_get_stats(const struct agent_loop *l, struct agent_loop_stats *st)
{
	*st = l->st;
	st->conns = l->nconns;
}
