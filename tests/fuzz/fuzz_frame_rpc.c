/*
 * fuzz_frame_rpc.c — the agent's inbound path below the channel: the byte stream cut into
 * frames (frame_reader, fed in pieces whose sizes the input chooses), each body parsed as
 * an RPC envelope and reassembled (rpc_reasm, bounded) into requests.
 * Input: [u8 piece-size seed] then the stream.
 */
#include <stdint.h>
#include <stdlib.h>

#include "frame.h"
#include "rpc_wire.h"

#define MAX_TOTAL (256u * 1024u)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct frame_reader fr; /* 64 KiB: not on the stack */
	struct rpc_reasm ra[4] = { { 0 } };
	if (size < 1)
		return 0;
	size_t piece = (size_t)data[0] % 64 + 1;
	data++, size--;
	frame_reader_init(&fr);
	size_t off = 0;
	while (off < size) {
		size_t n = size - off < piece ? size - off : piece;
		const uint8_t *body;
		size_t blen;
		long used = frame_reader_feed(&fr, data + off, n, &body, &blen);
		if (used < 0)
			break;
		off += (size_t)used;
		if (!body) {
			if (used == 0)
				break; /* no progress: would loop */
			continue;
		}
		struct rpc_hdr h;
		const uint8_t *frag;
		size_t flen;
		if (rpc_hdr_parse(body, blen, &h, &frag, &flen) < 0)
			continue;
		struct rpc_reasm *r = &ra[h.id % 4];
		int rc = rpc_reasm_add(r, &h, frag, flen, MAX_TOTAL);
		if (rc == 1) {
			if (r->len > MAX_TOTAL)
				abort(); /* the bound it promises */
			free(r->buf);
			r->buf = NULL;
			rpc_reasm_reset(r);
		} else if (rc < 0) {
			rpc_reasm_reset(r);
		}
	}
	for (int i = 0; i < 4; i++)
		rpc_reasm_reset(&ra[i]);
	return 0;
}
