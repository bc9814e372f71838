/*
 * shm_ring.c — one single-producer/single-consumer ring of frame records in shared memory.
 *
 * Record: u16 BE length || body, packed, may wrap around the end of the data area. The
 * side that owns an index keeps it in r->pos and only ever stores it; the other side's
 * index is loaded once per call and validated before use, because the peer can write
 * anything at any time (see shm.h).
 */
#include "shm.h"

#include <string.h>

#include "err.h"
#include "frame.h"

_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "u32 atomics must be lock-free to be shared");
_Static_assert(sizeof(_Atomic uint32_t) == sizeof(uint32_t), "shared u32 atomics are plain words");

void shm_ring_init(struct shm_ring *r, uint8_t *data, uint32_t size, _Atomic uint32_t *head,
		   _Atomic uint32_t *tail, uint32_t pos)
{
	r->data = data;
	r->size = size;
	r->head = head;
	r->tail = tail;
	r->pos = pos;
}

/* Copy n bytes into the ring at free-running index at, wrapping at the end. */
static void ring_copy_in(const struct shm_ring *r, uint32_t at, const uint8_t *src, uint32_t n)
{
	uint32_t off = at & (r->size - 1);
	uint32_t first = r->size - off;
	if (first > n)
		first = n;
	memcpy(r->data + off, src, first);
	memcpy(r->data, src + first, n - first);
}

/* Copy n bytes out of the ring (each shared byte read once) into private dst. */
static void ring_copy_out(const struct shm_ring *r, uint32_t at, uint8_t *dst, uint32_t n)
{
	uint32_t off = at & (r->size - 1);
	uint32_t first = r->size - off;
	if (first > n)
		first = n;
	memcpy(dst, r->data + off, first);
	memcpy(dst + first, r->data, n - first);
}

/* Bytes the producer has published and the consumer not yet taken, or EPROTO when the
 * pair is impossible. The unsigned difference handles wrap of the free-running u32s. */
static int ring_used(uint32_t head, uint32_t tail, uint32_t size, uint32_t *used)
{
	uint32_t u = head - tail;
	if (u > size)
		return SEVMON_EPROTO;
	*used = u;
	return 0;
}

int shm_ring_writable(const struct shm_ring *r, size_t len)
{
	uint32_t tail = atomic_load_explicit(r->tail, memory_order_acquire);
	uint32_t used;
	if (ring_used(r->pos, tail, r->size, &used) < 0)
		return SEVMON_EPROTO;
	return (size_t)(r->size - used) >= FRAME_HDR_LEN + len;
}

int shm_ring_put(struct shm_ring *r, const void *body, size_t len)
{
	if (len == 0)
		return SEVMON_EINVAL;
	if (len > FRAME_MAX_BODY || FRAME_HDR_LEN + len > r->size)
		return SEVMON_ETOOBIG;
	/* acquire: the consumer finished copying bytes before it published this tail, so we
	 * may overwrite them */
	uint32_t tail = atomic_load_explicit(r->tail, memory_order_acquire);
	uint32_t used;
	if (ring_used(r->pos, tail, r->size, &used) < 0)
		return SEVMON_EPROTO;
	if ((size_t)(r->size - used) < FRAME_HDR_LEN + len)
		return 0;
	uint8_t hdr[FRAME_HDR_LEN];
	frame_header_write(hdr, len);
	ring_copy_in(r, r->pos, hdr, FRAME_HDR_LEN);
	ring_copy_in(r, r->pos + FRAME_HDR_LEN, body, (uint32_t)len);
	r->pos += FRAME_HDR_LEN + (uint32_t)len;
	atomic_store_explicit(r->head, r->pos, memory_order_release);
	return (int)len;
}

int shm_ring_readable(const struct shm_ring *r)
{
	uint32_t head = atomic_load_explicit(r->head, memory_order_acquire);
	uint32_t used;
	if (ring_used(head, r->pos, r->size, &used) < 0)
		return SEVMON_EPROTO;
	return used > 0;
}

int shm_ring_get(struct shm_ring *r, void *buf, size_t cap)
{
	if (cap < FRAME_MAX_BODY)
		return SEVMON_EINVAL;
	/* acquire: the record bytes were written before the producer published head */
	uint32_t head = atomic_load_explicit(r->head, memory_order_acquire);
	uint32_t used;
	if (ring_used(head, r->pos, r->size, &used) < 0)
		return SEVMON_EPROTO;
	if (used == 0)
		return 0;
	/* The producer publishes whole records only: a partial one is a violation. */
	if (used < FRAME_HDR_LEN + 1)
		return SEVMON_EPROTO;
	/* volatile: each length byte is loaded exactly once, so the compiler cannot re-read
	 * shared memory after the check below (no double fetch) */
	const volatile uint8_t *d = r->data;
	uint32_t h0 = d[r->pos & (r->size - 1)];
	uint32_t h1 = d[(r->pos + 1) & (r->size - 1)];
	uint32_t len = (h0 << 8) | h1;
	if (len == 0 || len > used - FRAME_HDR_LEN)
		return SEVMON_EPROTO;
	ring_copy_out(r, r->pos + FRAME_HDR_LEN, buf, len);
	r->pos += FRAME_HDR_LEN + len;
	/* release: our copy is complete before the producer may reuse the space */
	atomic_store_explicit(r->tail, r->pos, memory_order_release);
	return (int)len;
}
