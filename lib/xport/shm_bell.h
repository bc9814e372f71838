/*
 * shm_bell.h — the doorbell of a shared-memory region: "sleep until the peer rings" and
 * "ring the peer", whatever carries the interrupt.
 *
 * A bell has one file descriptor to wait on (readable once rung; reading 8 bytes clears
 * it, as an eventfd) and a ring operation addressed by the peer's ivshmem id. Two kinds:
 *   - ivshmem peer (host process, lib/xport/ivshmem.h): wait on our own eventfd from the
 *     server, ring by writing the peer's eventfd (QEMU turns that into the guest's MSI-X);
 *   - ivshmem-doorbell device in a guest (the agent, through vfio-pci): wait on the eventfd
 *     vfio signals for MSI-X vector 0, ring by writing (peer id << 16 | 0) to BAR0's
 *     doorbell register (QEMU writes the peer's eventfd).
 * Either way the waiter sleeps in poll(2) / libuv on the fd with no timeout of its own
 * (only the caller's deadline), and nobody polls the region.
 *
 * Who rings whom is decided in the region (lib/xport/shm.h): each side publishes its bell
 * id in its doorbell block and sets its waiting flag before it sleeps; a side that has
 * published an index rings the peer only while that flag is up (Dekker: the waiter sets
 * the flag, fences, re-checks; the notifier publishes, fences, reads the flag). A peer's id
 * read from the region is not trusted: a bell rings only ids its transport knows (the
 * server's peer table; in a guest the device ignores unknown ids), so a lying peer can at
 * worst ring someone needlessly or never ring us, which costs it its own session (every
 * wait has a deadline).
 */
#ifndef SEVMON_SHM_BELL_H
#define SEVMON_SHM_BELL_H

#include <stdint.h>

struct ivshmem_peer;

struct shm_bell {
	int wait_fd;     /* readable once rung */
	uint32_t my_id;  /* this side's ivshmem id (0..65535) */
	/* Ring the peer with ivshmem id peer_id. Returns 0 or a negative SEVMON_E*. */
	int (*ring)(struct shm_bell *b, uint32_t peer_id);
	/* Release what the bell holds (called by shm_bell_free). */
	void (*close)(struct shm_bell *b);
	void *ctx;
	uint64_t rings;   /* rings sent */
	uint64_t wakeups; /* times the fd was found rung */
};

/* A bell over an ivshmem server connection; takes p (closed with the bell). NULL on ENOMEM. */
struct shm_bell *shm_bell_ivshmem(struct ivshmem_peer *p);
/* Clear the fd after a wake-up: 1 if it had been rung, 0 if not. Never blocks. */
int shm_bell_drain(struct shm_bell *b);
/* Ring the peer (counted). */
int shm_bell_ring(struct shm_bell *b, uint32_t peer_id);
/* Wait until rung or deadline_ns (monotonic ns): 1 rung, 0 deadline, negative error. */
int shm_bell_wait(struct shm_bell *b, int64_t deadline_ns);
/* Close and free; NULL is a no-op. */
void shm_bell_free(struct shm_bell *b);

#endif
