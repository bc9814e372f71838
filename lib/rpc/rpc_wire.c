#include "rpc_wire.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "rbuf.h"

int rpc_hdr_parse(const uint8_t *msg, size_t len, struct rpc_hdr *h,
		  const uint8_t **frag, size_t *frag_len)
{
	struct rbuf r = rbuf_make(msg, len);
	uint8_t reserved;
	int rc;

	memset(h, 0, sizeof *h);
	if ((rc = rbuf_get_be32(&r, &h->id)) || (rc = rbuf_get_be16(&r, &h->method)) ||
	    (rc = rbuf_get_u8(&r, &h->flags)) || (rc = rbuf_get_u8(&r, &reserved)) ||
	    (rc = rbuf_get_be32(&r, &h->status)) || (rc = rbuf_get_be32(&r, &h->deadline_ms)) ||
	    (rc = rbuf_get_be32(&r, &h->total_len)))
		return rc;
	if (reserved != 0 || (h->flags & ~RPC_F_KNOWN))
		return SEVMON_EPROTO;
	if ((h->flags & RPC_F_CANCEL) && (h->flags & ~(RPC_F_CANCEL | RPC_F_END)))
		return SEVMON_EPROTO;
	if (rbuf_left(&r) > h->total_len)
		return SEVMON_EPROTO;
	if ((h->flags & RPC_F_ERROR) && h->status == 0)
		return SEVMON_EPROTO;
	*frag = r.p;
	*frag_len = rbuf_left(&r);
	return 0;
}

void rpc_hdr_write(uint8_t out[RPC_HDR_LEN], const struct rpc_hdr *h)
{
	store_be32(out, h->id);
	store_be16(out + 4, h->method);
	out[6] = h->flags;
	out[7] = 0;
	store_be32(out + 8, h->status);
	store_be32(out + 12, h->deadline_ms);
	store_be32(out + 16, h->total_len);
}

void rpc_reasm_reset(struct rpc_reasm *ra)
{
	free(ra->buf);
	memset(ra, 0, sizeof *ra);
}

int rpc_reasm_add(struct rpc_reasm *ra, const struct rpc_hdr *h, const uint8_t *frag,
		  size_t frag_len, size_t max_total)
{
	int first = !(h->flags & RPC_F_CONT);

	if (first != !ra->started)
		return SEVMON_EPROTO; /* a continuation without a start, or a restart midway */
	if (first) {
		if (h->total_len > max_total)
			return SEVMON_ETOOBIG;
		ra->total = h->total_len;
		ra->len = 0;
		/* +1 so that an empty message still gets a distinct, freeable buffer */
		ra->buf = malloc(ra->total + 1);
		if (!ra->buf)
			return SEVMON_ENOMEM;
		ra->started = 1;
	} else if (h->total_len != ra->total) {
		return SEVMON_EPROTO;
	}
	if (ra->total - ra->len < frag_len)
		return SEVMON_EPROTO;
	if (frag_len)
		memcpy(ra->buf + ra->len, frag, frag_len);
	ra->len += frag_len;
	if (h->flags & RPC_F_END) {
		if (ra->len != ra->total)
			return SEVMON_EPROTO;
		ra->started = 0;
		return 1;
	}
	if (ra->len == ra->total)
		return SEVMON_EPROTO; /* all bytes arrived but the sender did not end: inconsistent */
	return 0;
}

void rpc_frag_init(struct rpc_frag *f, const struct rpc_hdr *h, const uint8_t *payload,
		   size_t len, size_t max_msg)
{
	f->h = *h;
	f->h.flags &= (uint8_t)~(RPC_F_END | RPC_F_CONT);
	f->h.total_len = (uint32_t)len;
	f->payload = payload;
	f->len = len;
	f->off = 0;
	f->max_msg = max_msg;
	f->done = 0;
}

size_t rpc_frag_next(struct rpc_frag *f, uint8_t *out)
{
	if (f->done || f->max_msg <= RPC_HDR_LEN)
		return 0;
	size_t room = f->max_msg - RPC_HDR_LEN;
	size_t piece = f->len - f->off;
	struct rpc_hdr h = f->h;

	if (piece > room)
		piece = room;
	if (f->off > 0)
		h.flags |= RPC_F_CONT;
	if (f->off + piece == f->len) {
		h.flags |= RPC_F_END;
		f->done = 1;
	}
	rpc_hdr_write(out, &h);
	if (piece)
		memcpy(out + RPC_HDR_LEN, f->payload + f->off, piece);
	f->off += piece;
	return RPC_HDR_LEN + piece;
}
