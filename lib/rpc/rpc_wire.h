/*
 * rpc_wire.h — the RPC envelope carried in each frame (or Noise transport message).
 *
 *   off size field
 *   0   4    request id   (BE; chosen by the requester, unique among its requests in flight)
 *   4   2    method id    (BE; stable ids from idl/sevmon.proto's (sevmon.v1.method_id) option)
 *   6   1    flags        RPC_F_*
 *   7   1    reserved     (must be 0)
 *   8   4    status       (BE; 0 = OK, else a SEVMON_E* number, positive on the wire)
 *   12  4    deadline ms  (BE; requester's remaining budget, 0 = none; replies carry 0)
 *   16  4    total length (BE; payload bytes of the whole message; same in every fragment)
 *   20  ..   payload fragment
 *
 * A message whose payload does not fit one frame is split into fragments: the first has
 * RPC_F_CONT clear, the others set it, and the last sets RPC_F_END. A message in one
 * frame has RPC_F_END and not RPC_F_CONT. With RPC_F_ERROR the payload is a UTF-8 error
 * text (at most RPC_MAX_ERRMSG bytes) and status is non-zero. RPC_F_CANCEL (requester
 * to responder, empty payload) asks the responder to drop the request; it gets no reply.
 */
#ifndef SEVMON_RPC_WIRE_H
#define SEVMON_RPC_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define RPC_HDR_LEN 20u

#define RPC_F_END 0x01u
#define RPC_F_ERROR 0x02u
#define RPC_F_CANCEL 0x04u
#define RPC_F_CONT 0x08u
#define RPC_F_KNOWN (RPC_F_END | RPC_F_ERROR | RPC_F_CANCEL | RPC_F_CONT)

/* An error text longer than this is cut: it is for people, not for parsing. */
#define RPC_MAX_ERRMSG 1024u

struct rpc_hdr {
	uint32_t id;
	uint16_t method;
	uint8_t flags;
	uint32_t status;
	uint32_t deadline_ms;
	uint32_t total_len;
};

/* Parse a header from msg[0..len); *frag / *frag_len get the payload fragment.
 * SEVMON_ETRUNC if short, SEVMON_EPROTO on unknown flags, nonzero reserved byte,
 * a fragment longer than total_len, or CANCEL combined with anything but END. */
int rpc_hdr_parse(const uint8_t *msg, size_t len, struct rpc_hdr *h,
		  const uint8_t **frag, size_t *frag_len);

void rpc_hdr_write(uint8_t out[RPC_HDR_LEN], const struct rpc_hdr *h);

/*
 * Reassembly of one message from its fragments, bounded by max_total.
 * rpc_reasm_add returns 1 when the message is complete (buf/len hold it; the caller
 * takes ownership of buf and must free it), 0 when more fragments are needed,
 * or a negative error (ETOOBIG over limit, EPROTO on an inconsistent fragment).
 */
struct rpc_reasm {
	uint8_t *buf;
	size_t len;
	size_t total;
	int started;
};

int rpc_reasm_add(struct rpc_reasm *ra, const struct rpc_hdr *h, const uint8_t *frag,
		  size_t frag_len, size_t max_total);
void rpc_reasm_reset(struct rpc_reasm *ra); /* frees what it holds */

/*
 * Fragmenter: walk a payload in pieces that fit max_msg bytes each (header included).
 * rpc_frag_next fills out[0..RPC_HDR_LEN+piece) for the next fragment and returns its
 * length, or 0 when done. h is the template (id, method, status, deadline); flags
 * RPC_F_END/RPC_F_CONT are set by the fragmenter, others are kept.
 */
struct rpc_frag {
	struct rpc_hdr h;
	const uint8_t *payload;
	size_t len;
	size_t off;
	size_t max_msg;
	int done;
};

void rpc_frag_init(struct rpc_frag *f, const struct rpc_hdr *h, const uint8_t *payload,
		   size_t len, size_t max_msg);
size_t rpc_frag_next(struct rpc_frag *f, uint8_t *out);

#endif
