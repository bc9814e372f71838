/*
 * ivshmem_server.c — the server side of QEMU's ivshmem protocol (lib/xport/ivshmem.h):
 * hands every peer the shared-memory fd, its id and eventfds, and tells the others.
 *
 * Every send is non-blocking: a peer whose socket cannot take a message is not reading,
 * and is dropped rather than allowed to stall the others. A peer that sends anything is
 * dropped too (the protocol is one-way). Dropping tells the remaining peers (step 6,
 * the id without an fd).
 */
#include "ivshmem.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "err.h"
#include "xport.h"

struct srv_peer {
	int sock;
	uint16_t id;
	int efd[IVSHMEM_MAX_VECTORS];
};

struct ivshmem_server {
	struct ivshmem_server_cfg cfg;
	char path[XPORT_PATH_MAX];
	int lfd;
	uint32_t next_id;
	unsigned npeers;
	struct srv_peer peers[IVSHMEM_MAX_PEERS];
	struct ivshmem_server_stats st;
};

/* One message: v (8 bytes, little-endian) with fd (-1: none). 0 or -1 (could not send
 * whole: the peer is to be dropped). */
static int send_msg(int sock, int64_t v, int fd)
{
	uint8_t b[8];
	uint64_t u = (uint64_t)v;
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(u >> (8 * i));
	union {
		struct cmsghdr h;
		char c[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct iovec iov = { b, sizeof b };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (fd >= 0) {
		memset(&ctl, 0, sizeof ctl);
		m.msg_control = ctl.c;
		m.msg_controllen = sizeof ctl.c;
		struct cmsghdr *c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof fd);
	}
	ssize_t n;
	do
		n = sendmsg(sock, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)sizeof b ? 0 : -1;
}

int ivshmem_server_new(const struct ivshmem_server_cfg *cfg, struct ivshmem_server **out)
{
	struct xport_addr a;
	struct ivshmem_server *s;
	int rc;

	*out = NULL;
	if (!cfg || !cfg->socket_path || cfg->shm_fd < 0 || cfg->vectors < 1 ||
	    cfg->vectors > IVSHMEM_MAX_VECTORS || cfg->max_peers < 1 ||
	    cfg->max_peers > IVSHMEM_MAX_PEERS)
		return SEVMON_EINVAL;
	memset(&a, 0, sizeof a);
	a.kind = XPORT_UNIX;
	if (strlen(cfg->socket_path) >= sizeof a.path || cfg->socket_path[0] != '/')
		return SEVMON_EINVAL;
	memcpy(a.path, cfg->socket_path, strlen(cfg->socket_path) + 1);
	if (!(s = calloc(1, sizeof *s)))
		return SEVMON_ENOMEM;
	s->cfg = *cfg;
	memcpy(s->path, a.path, sizeof s->path);
	s->cfg.socket_path = s->path;
	if ((rc = xport_listen(&a, (int)cfg->max_peers, &s->lfd)) < 0) {
		free(s);
		return rc;
	}
	*out = s;
	return 0;
}

static void peer_free(struct srv_peer *p, unsigned vectors)
{
	close(p->sock);
	for (unsigned v = 0; v < vectors; v++)
		if (p->efd[v] >= 0)
			close(p->efd[v]);
}

/* Drop peer i (and, in turn, any peer that cannot take the news). */
static void drop(struct ivshmem_server *s, unsigned i, int misbehaved)
{
	uint16_t id = s->peers[i].id;

	peer_free(&s->peers[i], s->cfg.vectors);
	s->peers[i] = s->peers[--s->npeers];
	if (misbehaved)
		s->st.dropped++;
	for (unsigned k = 0; k < s->npeers;) {
		if (send_msg(s->peers[k].sock, id, -1) < 0) {
			drop(s, k, 1);
			k = 0; /* the table changed under us: start over (it only shrinks) */
			continue;
		}
		k++;
	}
}

static int id_in_use(const struct ivshmem_server *s, uint32_t id)
{
	for (unsigned i = 0; i < s->npeers; i++)
		if (s->peers[i].id == id)
			return 1;
	return 0;
}

static void accept_one(struct ivshmem_server *s)
{
	int fd;
	if (xport_accept(s->lfd, &fd, NULL, 0) != 1)
		return;
	if (s->npeers >= s->cfg.max_peers) {
		close(fd);
		s->st.refused++;
		return;
	}
	struct srv_peer *p = &s->peers[s->npeers];
	memset(p, 0, sizeof *p);
	p->sock = fd;
	for (unsigned v = 0; v < IVSHMEM_MAX_VECTORS; v++)
		p->efd[v] = -1;
	while (id_in_use(s, s->next_id))
		s->next_id = (s->next_id + 1) & IVSHMEM_ID_MAX;
	p->id = (uint16_t)s->next_id;
	s->next_id = (s->next_id + 1) & IVSHMEM_ID_MAX;
	for (unsigned v = 0; v < s->cfg.vectors; v++)
		if ((p->efd[v] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
			peer_free(p, s->cfg.vectors);
			s->st.refused++;
			return;
		}
	/* 1-3: version, id, shm */
	int bad = send_msg(fd, IVSHMEM_PROTO_VERSION, -1) < 0 || send_msg(fd, p->id, -1) < 0 ||
		  send_msg(fd, -1, s->cfg.shm_fd) < 0;
	/* 4: every other peer's eventfds */
	for (unsigned i = 0; i < s->npeers && !bad; i++)
		for (unsigned v = 0; v < s->cfg.vectors && !bad; v++)
			bad = send_msg(fd, s->peers[i].id, s->peers[i].efd[v]) < 0;
	/* 5: its own */
	for (unsigned v = 0; v < s->cfg.vectors && !bad; v++)
		bad = send_msg(fd, p->id, p->efd[v]) < 0;
	if (bad) {
		peer_free(p, s->cfg.vectors);
		s->st.dropped++;
		return;
	}
	/* 6: tell the others; those that cannot take it are dropped once the table holds the
	 * new peer (it was told of them in step 4, so it must hear that they left) */
	int lost[IVSHMEM_MAX_PEERS];
	unsigned nlost = 0;
	for (unsigned i = 0; i < s->npeers; i++) {
		int l = 0;
		for (unsigned v = 0; v < s->cfg.vectors && !l; v++)
			l = send_msg(s->peers[i].sock, p->id, p->efd[v]) < 0;
		if (l)
			lost[nlost++] = s->peers[i].sock;
	}
	s->npeers++;
	s->st.accepted++;
	for (unsigned k = 0; k < nlost; k++)
		for (unsigned i = 0; i < s->npeers; i++)
			if (s->peers[i].sock == lost[k]) {
				drop(s, i, 1);
				break;
			}
}

int ivshmem_server_step(struct ivshmem_server *s, int stop_fd, int timeout_ms)
{
	struct pollfd pf[2 + IVSHMEM_MAX_PEERS];
	unsigned n = 0;

	pf[n++] = (struct pollfd){ stop_fd, POLLIN, 0 };
	pf[n++] = (struct pollfd){ s->lfd, POLLIN, 0 };
	for (unsigned i = 0; i < s->npeers; i++)
		pf[n++] = (struct pollfd){ s->peers[i].sock, POLLIN, 0 };
	int r = poll(pf, n, timeout_ms);
	if (r < 0)
		return errno == EINTR ? 0 : SEVMON_ESYS;
	if (pf[0].revents)
		return 1;
	/* peers first, by socket (dropping moves the last peer into the hole) */
	for (unsigned k = n; k-- > 2;) {
		if (!pf[k].revents)
			continue;
		int sock = pf[k].fd;
		unsigned i;
		for (i = 0; i < s->npeers && s->peers[i].sock != sock; i++)
			;
		if (i == s->npeers)
			continue; /* already dropped */
		char junk[64];
		ssize_t got = recv(sock, junk, sizeof junk, MSG_DONTWAIT);
		if (got < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		drop(s, i, got > 0); /* 0: it left; > 0: it spoke, which peers never do */
	}
	if (pf[1].revents & POLLIN)
		accept_one(s);
	return 0;
}

int ivshmem_server_run(struct ivshmem_server *s, int stop_fd)
{
	int rc;
	while ((rc = ivshmem_server_step(s, stop_fd, -1)) == 0)
		;
	return rc < 0 ? rc : 0;
}

void ivshmem_server_get_stats(const struct ivshmem_server *s, struct ivshmem_server_stats *st)
{
	*st = s->st;
	st->peers = s->npeers;
}

void ivshmem_server_free(struct ivshmem_server *s)
{
	if (!s)
		return;
	for (unsigned i = 0; i < s->npeers; i++)
		peer_free(&s->peers[i], s->cfg.vectors);
	close(s->lfd);
	unlink(s->path);
	free(s);
}
