#include "frame.h"

#include <string.h>

#include "err.h"
#include "rbuf.h"

void frame_reader_init(struct frame_reader *fr)
{
	fr->have = 0;
}

int frame_header_write(uint8_t hdr[FRAME_HDR_LEN], size_t body_len)
{
	if (body_len == 0)
		return SEVMON_EINVAL;
	if (body_len > FRAME_MAX_BODY)
		return SEVMON_ETOOBIG;
	store_be16(hdr, (uint16_t)body_len);
	return 0;
}

long frame_reader_feed(struct frame_reader *fr, const uint8_t *in, size_t n,
		       const uint8_t **body, size_t *body_len)
{
	size_t used = 0;

	*body = NULL;
	*body_len = 0;
	if (fr->have < FRAME_HDR_LEN) {
		size_t take = FRAME_HDR_LEN - fr->have;
		if (take > n)
			take = n;
		memcpy(fr->buf + fr->have, in, take);
		fr->have += take;
		used += take;
		if (fr->have < FRAME_HDR_LEN)
			return (long)used;
		if (load_be16(fr->buf) == 0)
			return SEVMON_EPROTO;
	}
	size_t want = FRAME_HDR_LEN + (size_t)load_be16(fr->buf);
	size_t take = want - fr->have;
	if (take > n - used)
		take = n - used;
	memcpy(fr->buf + fr->have, in + used, take);
	fr->have += take;
	used += take;
	if (fr->have == want) {
		*body = fr->buf + FRAME_HDR_LEN;
		*body_len = want - FRAME_HDR_LEN;
		fr->have = 0;
	}
	return (long)used;
}
