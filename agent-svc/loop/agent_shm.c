/*
 * agent_shm.c — shared-memory regions served by the agent loop (side B of lib/xport/shm.h).
 *
 * A region is a "listener" that yields one connection at a time: attach, serve the
 * session as an agent_conn whose I/O moves whole frame bodies through the rings, and when
 * the session ends (peer closed/restarted, violation, idle), attach again. Above the I/O
 * vtable the connection is exactly a stream connection: same channel seam, same limits,
 * same backpressure (the loop stops taking bodies off the ring while its queues are full,
 * so a fast peer fills the ring, not our memory).
 */
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_loop_int.h"
#include "clock.h"
#include "err.h"
#include "rbuf.h"

#define NS_PER_MS 1000000ull
#define SHM_PCI_AUTO "shm+pci://auto"
/* First sleep of a quiet session after the spin window (then doubling to the region's
 * loop cap): about a cross-VM round trip, well under a millisecond poll(2) step. */
#define AGENT_SHM_SLEEP_MIN_NS 20000u
/* Spin this long without yielding: a peer on another CPU answers a small request in a
 * microsecond or two; past that, each spin turn yields, so a peer the scheduler put on our
 * CPU gets to run (spinning there would only keep it from answering). */
#define AGENT_SHM_YIELD_AFTER_NS 2000u

static void shm_read(struct agent_conn *c)
{
	struct agent_loop *l = c->loop;
	size_t budget = l->cfg.read_budget;

	while (budget && agent_conn_wants_read(c)) {
		int n = shm_conn_recv_nb(&c->shm->sc, l->shm_in, sizeof l->shm_in);
		if (n == 0)
			return;
		if (n == SEVMON_ECONNRESET) {
			/* The peer closed (its last frames were delivered first) or restarted:
			 * like EOF on a stream, answer nothing more — the session is gone. */
			agent_conn_fail(c, 0, "shm session ended by the peer");
			return;
		}
		if (n < 0) {
			agent_conn_fail(c, 1, "protocol error: shm ring: %s", sevmon_errname(n));
			return;
		}
		budget -= (size_t)n < budget ? (size_t)n : budget;
		c->shm->frames++;
		c->shm->sc.spin_last_ns = 0; /* serving is work, not a spin turn */
		if (c->shm->region.bell) {
			uint32_t spin = shm_conn_spin_budget(&c->shm->sc);
			/* caught while spinning, or one wait fewer of a back-off */
			if (spin == 0 || c->shm_sleep_ns == 0)
				shm_conn_spin_outcome(&c->shm->sc, spin != 0);
			c->shm_sleep_ns = 0;
		}
		c->last_activity_ns = c->shm_active_ns = ((uint64_t)clock_mono_ns());
		agent_conn_on_frame(c, l->shm_in, (size_t)n);
	}
}

/* The write queue holds frames as we built them (u16 BE length || body): hand each whole
 * body to the ring; stop at the first that does not fit. */
static long shm_write(struct agent_conn *c, const uint8_t *p, size_t n)
{
	size_t off = 0;

	while (n - off >= FRAME_HDR_LEN) {
		size_t blen = load_be16(p + off);
		if (blen == 0 || n - off - FRAME_HDR_LEN < blen) {
			agent_conn_fail(c, 0, "internal: partial frame in the write queue");
			return SEVMON_EINTERNAL;
		}
		int rc = shm_conn_send_nb(&c->shm->sc, p + off + FRAME_HDR_LEN, blen);
		if (rc == 0)
			break;
		if (rc < 0) {
			if (rc == SEVMON_ECONNRESET)
				agent_conn_fail(c, 0, "shm session ended by the peer");
			else
				agent_conn_fail(c, 1, "protocol error: shm ring: %s", sevmon_errname(rc));
			return rc;
		}
		off += FRAME_HDR_LEN + blen;
		c->shm->frames++;
	}
	if (off) {
		c->shm_active_ns = ((uint64_t)clock_mono_ns());
		c->shm->sc.spin_last_ns = 0;
	}
	return (long)off;
}

static void shm_release(struct agent_conn *c)
{
	struct agent_shm_lis *s = c->shm;

	if (s->region.bell)
		agent_logf(c->loop, AGENT_LOG_INFO,
			   "%s: session ended: %llu frames, %llu wake-ups, %llu rings", s->label,
			   (unsigned long long)s->frames,
			   (unsigned long long)(s->region.bell->wakeups - s->wakeups0),
			   (unsigned long long)(s->region.bell->rings - s->rings0));
	shm_conn_close(&s->sc); /* the peer sees ECONNRESET; a new attach follows */
	s->conn = NULL;
	s->attaching = 0;
	s->wait_ms = 0;
	s->next_try_ns = 0;
	c->shm = NULL;
}

const struct agent_conn_io agent_conn_io_shm = {
	.read = shm_read, .write = shm_write, .release = shm_release,
};

static int attach_start(struct agent_loop *l, struct agent_shm_lis *s)
{
	struct shm_opts o;
	int rc;

	/* keep the URI's wake mode (the attach uses the defaults for it) */
	shm_opts_default(&o, s->sc.opt.wake);
	if (s->spin_us)
		o.spin_ns = s->spin_us * 1000u;
	if ((rc = shm_conn_attach_start(&s->sc, &s->region, SHM_SIDE_B, &o)) < 0) {
		agent_logf(l, AGENT_LOG_WARN, "%s: attach failed: %s", s->label, sevmon_errname(rc));
		return rc;
	}
	s->attaching = 1;
	return 0;
}

int agent_loop_listen_shm(struct agent_loop *l, const char *uri)
{
	struct shm_uri u;
	struct agent_shm_lis *s;
	int rc;

	char resolved[SHM_PATH_MAX + 64];

	if (l->nshm >= AGENT_MAX_SHM)
		return SEVMON_EBUSY;
	if (strncmp(uri, SHM_PCI_AUTO, strlen(SHM_PCI_AUTO)) == 0 &&
	    (uri[strlen(SHM_PCI_AUTO)] == '\0' || uri[strlen(SHM_PCI_AUTO)] == '?')) {
		char bdf[64];
		const char *rest = uri + strlen(SHM_PCI_AUTO);
		if ((rc = agent_shm_find_ivshmem(bdf, sizeof bdf)) < 0)
			return rc;
		if ((size_t)snprintf(resolved, sizeof resolved, "shm+pci://%s%s", bdf, rest) >=
		    sizeof resolved)
			return SEVMON_EURI;
		uri = resolved;
	}
	if ((rc = shm_uri_parse(uri, &u)) < 0)
		return rc;
	if (!(s = calloc(1, sizeof *s)))
		return SEVMON_ENOMEM;
	/* the label for logs: the URI, cut to fit (the path is what tells regions apart) */
	size_t ul = strlen(uri);
	if (ul >= sizeof s->label)
		ul = sizeof s->label - 1;
	memcpy(s->label, uri, ul);
	s->label[ul] = '\0';
	if (u.wake == SHM_WAKE_BELL && !u.ivshmem) {
		/* shm+pci://BDF?wake=doorbell: ivshmem-doorbell through vfio-pci */
		char bdf[16];
		const char *p = u.path + strlen("/sys/bus/pci/devices/");
		snprintf(bdf, sizeof bdf, "%.12s", p);
		rc = agent_shm_vfio_open(l, bdf, &s->region);
	} else {
		rc = shm_region_map_uri(&s->region, &u, SHM_SIDE_B);
	}
	if (rc < 0) {
		free(s);
		return rc;
	}
	s->sc.opt.wake = u.wake;
	s->spin_us = u.spin_us;
	if ((rc = attach_start(l, s)) < 0) {
		shm_region_unmap(&s->region);
		free(s);
		return rc;
	}
	l->shm[l->nshm++] = s;
	agent_logf(l, AGENT_LOG_INFO, "serving %s (%zu bytes)", uri, s->region.len);
	return 0;
}

static void adopt(struct agent_loop *l, struct agent_shm_lis *s)
{
	struct agent_conn *c;

	if (l->nconns >= l->cfg.max_conns || !(c = agent_conn_new(l, -1, s->label))) {
		/* leave the session to be dropped; retried after the peer notices */
		agent_logf(l, AGENT_LOG_WARN, "conn refused peer=%s: no room", s->label);
		shm_conn_close(&s->sc);
		s->attaching = 0;
		s->next_try_ns = ((uint64_t)clock_mono_ns()) + AGENT_SHM_ATTACH_POLL_MS * NS_PER_MS;
		l->st.refused++;
		return;
	}
	c->io = &agent_conn_io_shm;
	c->shm = s;
	c->shm_active_ns = ((uint64_t)clock_mono_ns());
	s->conn = c;
	s->attaching = 0;
	s->frames = 0;
	if (s->region.bell) {
		s->rings0 = s->region.bell->rings;
		s->wakeups0 = s->region.bell->wakeups;
	}
	/* on refusal (hooks.open) c is freed, which ends the session and re-arms the region */
	(void)agent_conn_admit(l, c);
}

void agent_shm_step(struct agent_loop *l)
{
	uint64_t now = ((uint64_t)clock_mono_ns());

	for (unsigned i = 0; i < l->nshm; i++) {
		struct agent_shm_lis *s = l->shm[i];
		int rc;

		if (s->conn)
			continue;
		if (!s->attaching) {
			if (now < s->next_try_ns || attach_start(l, s) < 0) {
				s->next_try_ns = now + AGENT_SHM_ATTACH_POLL_MS * NS_PER_MS;
				continue;
			}
			s->wait_ms = 0;
		}
		if (now < s->next_try_ns)
			continue;
		rc = shm_conn_attach_step(&s->sc);
		if (rc == 1) {
			s->wait_ms = 0;
			adopt(l, s);
		} else if (rc < 0) {
			/* A hostile or broken peer state: start over after a pause. */
			agent_logf(l, AGENT_LOG_WARN, "%s: attach: %s", s->label, sevmon_errname(rc));
			s->attaching = 0;
			s->next_try_ns = now + AGENT_SHM_ATTACH_POLL_MS * NS_PER_MS;
		} else if (s->region.bell) {
			s->next_try_ns = 0; /* the bell wakes us; agent_shm_timeout_ns arms it */
		} else {
			s->wait_ms = s->wait_ms ? s->wait_ms * 2 : 1;
			if (s->wait_ms > AGENT_SHM_ATTACH_POLL_MS)
				s->wait_ms = AGENT_SHM_ATTACH_POLL_MS;
			s->next_try_ns = now + (uint64_t)s->wait_ms * NS_PER_MS;
		}
	}
}

int64_t agent_shm_timeout_ns(struct agent_loop *l)
{
	uint64_t now = ((uint64_t)clock_mono_ns());
	int64_t best = -1;

	for (unsigned i = 0; i < l->nshm; i++) {
		struct agent_shm_lis *s = l->shm[i];
		struct agent_conn *c = s->conn;
		int64_t t;

		if (c) {
			size_t want = agent_conn_wq(c) ? load_be16(c->out.p + c->out.off) : 0;
			unsigned ev = (agent_conn_wants_read(c) ? SHM_READABLE : 0) |
				      (want ? SHM_WRITABLE : 0);
			uint64_t cap = (uint64_t)s->sc.opt.loop_max_ms * NS_PER_MS;
			if (s->region.bell && !c->closing &&
			    now - c->shm_active_ns >= shm_conn_spin_budget(&s->sc)) {
				/* doorbell: sleep on its fd, no timeout, unless something is
				 * ready already (arm re-checks after raising our flag) */
				t = ev && shm_conn_arm(&s->sc, ev, want) != 0 ? 0 : -1;
				if (t < 0 && c->shm_sleep_ns == 0 && shm_conn_spin_budget(&s->sc))
					shm_conn_spin_outcome(&s->sc, 0); /* spun for nothing */
				/* 1: asleep on the bell (the next frame is not "caught") */
				c->shm_sleep_ns = t < 0 ? 1 : 0;
			} else if (c->closing || now - c->shm_active_ns < s->sc.opt.spin_ns ||
			    (ev && shm_conn_ready(&s->sc, ev, want) != 0)) {
				/* spin: the next request of a scan is usually microseconds away */
				t = 0;
				if (s->region.bell) {
					shm_conn_spin_tick(&s->sc, (int64_t)now);
					/* a peer on this CPU can only answer if we let it run */
					if (!c->closing && now - c->shm_active_ns >= AGENT_SHM_YIELD_AFTER_NS &&
					    !(ev && shm_conn_ready(&s->sc, ev, want) != 0))
						sched_yield();
				}
				c->shm_sleep_ns = 0;
			} else {
				/* sleep about as long as the session has been quiet: a request
				 * that comes soon after the last is seen soon, an idle session
				 * costs a few hundred wake-ups a second at the cap */
				c->shm_sleep_ns = c->shm_sleep_ns ? c->shm_sleep_ns * 2
								  : AGENT_SHM_SLEEP_MIN_NS;
				if (c->shm_sleep_ns > cap)
					c->shm_sleep_ns = cap;
				t = (int64_t)c->shm_sleep_ns;
			}
		} else if (s->region.bell && s->attaching && now >= s->next_try_ns) {
			/* waiting for a peer: the IDS rings us when it attaches */
			t = shm_conn_arm(&s->sc, 0, 0) != 0 ? 0 : -1;
		} else {
			uint64_t due = s->next_try_ns;
			t = due > now ? (int64_t)(due - now) : 0;
		}
		if (t >= 0 && (best < 0 || t < best))
			best = t;
	}
	return best;
}

unsigned agent_shm_bell_fds(struct agent_loop *l, struct pollfd *pf)
{
	unsigned n = 0;
	for (unsigned i = 0; i < l->nshm; i++)
		if (l->shm[i]->region.bell)
			pf[n++] = (struct pollfd){ .fd = l->shm[i]->region.bell->wait_fd, .events = POLLIN };
	return n;
}

void agent_shm_after_poll(struct agent_loop *l, const struct pollfd *pf)
{
	for (unsigned i = 0, k = 0; i < l->nshm; i++) {
		struct agent_shm_lis *s = l->shm[i];
		if (!s->region.bell)
			continue;
		if (s->sc.base)
			shm_conn_disarm(&s->sc);
		if (pf[k++].revents)
			(void)shm_bell_drain(s->region.bell);
	}
}

void agent_shm_free_all(struct agent_loop *l)
{
	for (unsigned i = 0; i < l->nshm; i++) {
		struct agent_shm_lis *s = l->shm[i];
		if (s->attaching || s->sc.up)
			shm_conn_close(&s->sc);
		shm_region_unmap(&s->region);
		free(s);
		l->shm[i] = NULL;
	}
	l->nshm = 0;
}
