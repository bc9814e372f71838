#include "rbuf.h"

#include <string.h>

#include "err.h"

int rbuf_get_bytes_direct(struct rbuf *r, const uint8_t **out, size_t n)
{
	if (r->len < n)
		return SEVMON_ETRUNC;
	*out = r->p;
	r->p += n;
	r->len -= n;
	return 0;
}

int rbuf_get_bytes(struct rbuf *r, void *out, size_t n)
{
	const uint8_t *p;
	int rc = rbuf_get_bytes_direct(r, &p, n);
	if (rc == 0 && n)
		memcpy(out, p, n);
	return rc;
}

int rbuf_skip(struct rbuf *r, size_t n)
{
	const uint8_t *p;
	return rbuf_get_bytes_direct(r, &p, n);
}

int rbuf_get_sub(struct rbuf *r, struct rbuf *sub, size_t n)
{
	const uint8_t *p;
	int rc = rbuf_get_bytes_direct(r, &p, n);
	if (rc == 0)
		*sub = rbuf_make(p, n);
	return rc;
}

int rbuf_peek_at(const struct rbuf *r, size_t off, size_t n, struct rbuf *out)
{
	if (off > r->len || r->len - off < n)
		return SEVMON_ETRUNC;
	*out = rbuf_make(r->p + off, n);
	return 0;
}

int rbuf_get_u8(struct rbuf *r, uint8_t *v)
{
	const uint8_t *p;
	int rc = rbuf_get_bytes_direct(r, &p, 1);
	if (rc == 0)
		*v = p[0];
	return rc;
}

#define RBUF_GETTER(name, type, n, load)                          \
	int name(struct rbuf *r, type *v)                         \
	{                                                         \
		const uint8_t *p;                                 \
		int rc = rbuf_get_bytes_direct(r, &p, n);         \
		if (rc == 0)                                      \
			*v = (type)(load);                        \
		return rc;                                        \
	}

RBUF_GETTER(rbuf_get_be16, uint16_t, 2, load_be16(p))
RBUF_GETTER(rbuf_get_be32, uint32_t, 4, load_be32(p))
RBUF_GETTER(rbuf_get_be64, uint64_t, 8, load_be64(p))
RBUF_GETTER(rbuf_get_le16, uint16_t, 2, p[0] | (p[1] << 8))
RBUF_GETTER(rbuf_get_le32, uint32_t, 4, load_le32(p))
RBUF_GETTER(rbuf_get_le64, uint64_t, 8, load_le64(p))

int wbuf_put_bytes(struct wbuf *w, const void *p, size_t n)
{
	if (w->cap - w->len < n)
		return SEVMON_ETOOBIG;
	if (n)
		memcpy(w->p + w->len, p, n);
	w->len += n;
	return 0;
}

int wbuf_put_u8(struct wbuf *w, uint8_t v)
{
	return wbuf_put_bytes(w, &v, 1);
}

int wbuf_put_be16(struct wbuf *w, uint16_t v)
{
	uint8_t b[2];
	store_be16(b, v);
	return wbuf_put_bytes(w, b, sizeof b);
}

int wbuf_put_be32(struct wbuf *w, uint32_t v)
{
	uint8_t b[4];
	store_be32(b, v);
	return wbuf_put_bytes(w, b, sizeof b);
}

int wbuf_put_be64(struct wbuf *w, uint64_t v)
{
	uint8_t b[8];
	store_be64(b, v);
	return wbuf_put_bytes(w, b, sizeof b);
}
