/*
 * frame.h — stream framing: u16 big-endian length || body.
 *
 * Promise: a frame body is 1..FRAME_MAX_BODY bytes (65535, the Noise message cap, so the
 * Noise layer slots in unchanged). A zero length is a protocol error: no layer above
 * ever sends an empty message. The reader holds at most one frame, so a peer can make
 * it buffer no more than FRAME_MAX_BODY + 2 bytes.
 */
#ifndef SEVMON_FRAME_H
#define SEVMON_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define FRAME_HDR_LEN 2
#define FRAME_MAX_BODY 65535u

struct frame_reader {
	size_t have;                 /* bytes of the current frame held, header included */
	uint8_t buf[FRAME_HDR_LEN + FRAME_MAX_BODY];
};

void frame_reader_init(struct frame_reader *fr);

/*
 * Consume bytes from in[0..n). Returns the number of bytes consumed (>= 0) or
 * SEVMON_EPROTO on a zero-length frame. When a frame completes, *body and *body_len
 * point at it (valid until the next call) and consumption stops right after it, so the
 * caller calls again with the rest. *body is NULL when no frame is complete yet.
 */
long frame_reader_feed(struct frame_reader *fr, const uint8_t *in, size_t n,
		       const uint8_t **body, size_t *body_len);

/* Bytes of a partial frame held (0 between frames): for "truncated frame" detection at EOF. */
static inline size_t frame_reader_pending(const struct frame_reader *fr) { return fr->have; }

/* Write the 2-byte header for a body of body_len bytes; SEVMON_ETOOBIG / EINVAL if out of range. */
int frame_header_write(uint8_t hdr[FRAME_HDR_LEN], size_t body_len);

#endif
