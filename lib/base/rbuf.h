/*
 * rbuf.h — the one bounded cursor for untrusted bytes (wire, guest memory, files).
 *
 * A reader never reads past its end: every getter checks the remaining length first
 * and returns SEVMON_ETRUNC without moving the cursor when the bytes are not there.
 * "peek" getters do not advance; "get" getters do; "_direct" getters hand back a
 * pointer into the underlying buffer, valid as long as that buffer is.
 *
 * A writer never writes past its capacity: a put that does not fit returns
 * SEVMON_ETOOBIG and leaves the writer unchanged.
 */
#ifndef SEVMON_RBUF_H
#define SEVMON_RBUF_H

#include <stddef.h>
#include <stdint.h>

struct rbuf {
	const uint8_t *p;
	size_t len; /* bytes left */
};

static inline struct rbuf rbuf_make(const void *p, size_t len)
{
	struct rbuf r = { (const uint8_t *)p, len };
	return r;
}
static inline size_t rbuf_left(const struct rbuf *r) { return r->len; }

int rbuf_get_u8(struct rbuf *r, uint8_t *v);
int rbuf_get_be16(struct rbuf *r, uint16_t *v);
int rbuf_get_be32(struct rbuf *r, uint32_t *v);
int rbuf_get_be64(struct rbuf *r, uint64_t *v);
int rbuf_get_le16(struct rbuf *r, uint16_t *v);
int rbuf_get_le32(struct rbuf *r, uint32_t *v);
int rbuf_get_le64(struct rbuf *r, uint64_t *v);
/* Copy n bytes out. */
int rbuf_get_bytes(struct rbuf *r, void *out, size_t n);
/* Point *out at the next n bytes and advance. */
int rbuf_get_bytes_direct(struct rbuf *r, const uint8_t **out, size_t n);
int rbuf_skip(struct rbuf *r, size_t n);
/* A sub-reader over the next n bytes; the parent advances past them. */
int rbuf_get_sub(struct rbuf *r, struct rbuf *sub, size_t n);
/* Reader over [off, off+n) of r without moving r (bounds checked, overflow safe). */
int rbuf_peek_at(const struct rbuf *r, size_t off, size_t n, struct rbuf *out);

struct wbuf {
	uint8_t *p;
	size_t cap;
	size_t len;
};

static inline struct wbuf wbuf_make(void *p, size_t cap)
{
	struct wbuf w = { (uint8_t *)p, cap, 0 };
	return w;
}

int wbuf_put_u8(struct wbuf *w, uint8_t v);
int wbuf_put_be16(struct wbuf *w, uint16_t v);
int wbuf_put_be32(struct wbuf *w, uint32_t v);
int wbuf_put_be64(struct wbuf *w, uint64_t v);
int wbuf_put_bytes(struct wbuf *w, const void *p, size_t n);

/* Plain loads from a buffer already known to be long enough. */
static inline uint16_t load_be16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static inline uint32_t load_be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline uint64_t load_be64(const uint8_t *p)
{
	return ((uint64_t)load_be32(p) << 32) | load_be32(p + 4);
}
static inline uint16_t load_le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t load_le32(const uint8_t *p)
{
	return ((uint32_t)p[3] << 24) | ((uint32_t)p[2] << 16) | ((uint32_t)p[1] << 8) | p[0];
}
static inline uint64_t load_le64(const uint8_t *p)
{
	return ((uint64_t)load_le32(p + 4) << 32) | load_le32(p);
}
static inline void store_be16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline void store_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}
static inline void store_be64(uint8_t *p, uint64_t v)
{
	store_be32(p, (uint32_t)(v >> 32));
	store_be32(p + 4, (uint32_t)v);
}
static inline void store_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static inline void store_le64(uint8_t *p, uint64_t v)
{
	store_le32(p, (uint32_t)v);
	store_le32(p + 4, (uint32_t)(v >> 32));
}

#endif
