/*
 * fuzz_shm.c — a shared-memory region as a hostile peer leaves it: the header checked
 * against the mapping (shm_region_check), then both rings driven from our side: the
 * consumer takes records until the ring is empty or found broken (shm_ring_get: head,
 * lengths and wrap as the peer wrote them), the producer queues into a ring whose tail the
 * peer set (shm_ring_put). Every call must end, in a bounded number of steps, in a record,
 * "empty" or EPROTO.
 * Input: [u32 head][u32 tail][ring bytes...] for the rings, the whole input as a region.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "shm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RING 4096u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* the region: the input is the mapping */
	uint8_t *region = malloc(size ? size : 1);
	if (!region)
		abort();
	memcpy(region, data, size);
	struct shm_region r = { .base = region, .len = size, .fd = -1 };
	struct shm_geom g;
	if (shm_region_check(&r, &g) == 0 &&
	    ((uint64_t)g.ab_off + g.ab_size > size || (uint64_t)g.ba_off + g.ba_size > size))
		abort(); /* a geometry it accepted must lie in the mapping */
	free(region);

	if (size < 8)
		return 0;
	static uint8_t ring[RING], buf[FRAME_MAX_BODY];
	memset(ring, 0, sizeof ring);
	memcpy(ring, data + 8, size - 8 < RING ? size - 8 : RING);
	_Atomic uint32_t head, tail;
	uint32_t h, t;
	memcpy(&h, data, 4);
	memcpy(&t, data + 4, 4);
	atomic_store(&head, h);
	atomic_store(&tail, t);
	struct shm_ring cons;
	shm_ring_init(&cons, ring, RING, &head, &tail, t);
	for (int i = 0; i < 4 * (int)RING; i++) { /* each record is >= 1 byte: bounded */
		(void)shm_ring_readable(&cons);
		int n = shm_ring_get(&cons, buf, sizeof buf);
		if (n <= 0)
			break;
		if (n > (int)FRAME_MAX_BODY)
			abort();
	}
	/* the producer, with the tail the peer wrote */
	atomic_store(&head, h);
	atomic_store(&tail, t);
	struct shm_ring prod;
	shm_ring_init(&prod, ring, RING, &head, &tail, h);
	for (int i = 0; i < 64; i++) {
		size_t len = size > 8 ? (size_t)(data[8 + (size_t)i % (size - 8)] % 200) + 1 : 1;
		(void)shm_ring_writable(&prod, len);
		if (shm_ring_put(&prod, buf, len) <= 0)
			break;
	}
	return 0;
}
