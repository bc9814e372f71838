/*
 * fuzz_ivshmem.c — a host peer reading what an ivshmem server sends (lib/xport/ivshmem.h):
 * the input is a script of messages, each [u8 flags][8 bytes], flags bit 0: an eventfd
 * comes with it (SCM_RIGHTS), bit 1: a second one (a violation the peer must survive);
 * bits 2-4: cut the message into that many writes. The script is played into a
 * socketpair, the peer reads it all (ivshmem_peer_update), rings every peer it ended up
 * with, and everything it holds is closed: no fd may stay open (checked), nothing may be
 * read out of bounds (ASan).
 */
#include <dirent.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ivshmem.h"

/* Messages per input: enough for a full set-up and a few dozen peers. */
#define MAX_MSGS 200

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int count_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static void send_one(int s, const uint8_t *msg, size_t len, unsigned nfd, unsigned pieces)
{
	int fds[2] = { -1, -1 };
	for (unsigned i = 0; i < nfd; i++)
		fds[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	size_t off = 0, step = pieces ? (len + pieces - 1) / pieces : len;
	while (off < len) {
		size_t n = len - off < step ? len - off : step;
		union {
			struct cmsghdr h;
			char c[CMSG_SPACE(2 * sizeof(int))];
		} ctl;
		struct iovec iov = { (void *)(msg + off), n };
		struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
		if (off == 0 && nfd) {
			memset(&ctl, 0, sizeof ctl);
			m.msg_control = ctl.c;
			m.msg_controllen = CMSG_SPACE(nfd * sizeof(int));
			struct cmsghdr *c = CMSG_FIRSTHDR(&m);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(nfd * sizeof(int));
			memcpy(CMSG_DATA(c), fds, nfd * sizeof(int));
		}
		if (sendmsg(s, &m, MSG_DONTWAIT) < 0)
			break;
		off += n;
	}
	for (unsigned i = 0; i < nfd; i++)
		close(fds[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int sv[2];
	int before = count_fds();
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return 0;
	struct ivshmem_peer *p = malloc(sizeof *p);
	if (!p) {
		close(sv[0]);
		close(sv[1]);
		return 0;
	}
	ivshmem_peer_init(p, sv[0]);
	size_t off = 0;
	for (unsigned k = 0; k < MAX_MSGS && size - off >= 9; k++, off += 9) {
		uint8_t f = data[off];
		send_one(sv[1], data + off + 1, 8, (f & 1) + ((f >> 1) & 1), (f >> 2) & 7);
		/* read as it comes, so the socket never fills */
		(void)ivshmem_peer_update(p);
	}
	if (size - off > 0 && size - off < 9) /* a message cut short, then the server leaves */
		send_one(sv[1], data + off, size - off, 0, 1);
	close(sv[1]);
	(void)ivshmem_peer_update(p);
	for (unsigned i = 0; i < p->npeers; i++)
		(void)ivshmem_peer_ring(p, p->peers[i].id, 0);
	(void)ivshmem_peer_drain(p, 0);
	ivshmem_peer_close(p);
	free(p);
	if (before >= 0 && count_fds() != before)
		abort(); /* a received fd leaked */
	return 0;
}
