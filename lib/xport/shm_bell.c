/*
 * shm_bell.c — doorbells (lib/xport/shm_bell.h): the common part and the ivshmem-peer kind.
 * The guest's vfio kind lives with the agent (agent-svc/loop/agent_shm_vfio.c).
 */
#include "shm_bell.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "err.h"
#include "ivshmem.h"

int shm_bell_drain(struct shm_bell *b)
{
	uint64_t n;
	if (read(b->wait_fd, &n, sizeof n) != (ssize_t)sizeof n || n == 0)
		return 0;
	b->wakeups++;
	return 1;
}

int shm_bell_ring(struct shm_bell *b, uint32_t peer_id)
{
	b->rings++;
	return b->ring(b, peer_id);
}

int shm_bell_wait(struct shm_bell *b, int64_t deadline_ns)
{
	for (;;) {
		int64_t left = deadline_ns - clock_mono_ns();
		if (left <= 0)
			return 0;
		struct timespec ts = { (time_t)(left / 1000000000), (long)(left % 1000000000) };
		struct pollfd pf = { b->wait_fd, POLLIN, 0 };
		int r = ppoll(&pf, 1, &ts, NULL);
		if (r < 0 && errno != EINTR)
			return SEVMON_ESYS;
		if (r > 0) {
			(void)shm_bell_drain(b);
			return 1;
		}
	}
}

void shm_bell_free(struct shm_bell *b)
{
	if (!b)
		return;
	if (b->close)
		b->close(b);
	free(b);
}

static int ivs_ring(struct shm_bell *b, uint32_t peer_id)
{
	struct ivshmem_peer *p = b->ctx;
	if (peer_id == b->my_id)
		return SEVMON_EINVAL; /* a peer naming us would make us wake ourselves */
	return ivshmem_peer_ring(p, peer_id, 0);
}

static void ivs_close(struct shm_bell *b)
{
	ivshmem_peer_close(b->ctx);
	free(b->ctx);
}

struct shm_bell *shm_bell_ivshmem(struct ivshmem_peer *p)
{
	struct shm_bell *b = calloc(1, sizeof *b);
	if (!b)
		return NULL;
	b->wait_fd = p->own[0];
	b->my_id = (uint32_t)p->id;
	b->ring = ivs_ring;
	b->close = ivs_close;
	b->ctx = p;
	return b;
}
