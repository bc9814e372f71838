/*
 * agent_dispatch.c — decode, handle, encode for one agent method (see agent_dispatch.h).
 */
#include <string.h>

#include <pb_decode.h>
#include <pb_encode.h>

#include "agent_dispatch.h"
#include "err.h"

/* Debian's libprotobuf-nanopb.a is built without PB_FIELD_32BIT: pb_size_t (in every
 * struct the library walks) is 16 bits. Compiling against a different width would
 * silently disagree with the library. */
_Static_assert(sizeof(pb_size_t) == 2, "libprotobuf-nanopb.a uses 16-bit pb_size_t");

/* One request and one reply at a time (single-threaded agent); static, because a
 * Gather request of AGENT_MAX_RANGES ranges is ~24 KiB, too big for a small stack. */
static union sevmon_agent_req_storage req_store;
static union sevmon_agent_resp_storage resp_store;

struct out_state {
	struct wbuf w;
	int full;
};

static bool out_write(pb_ostream_t *s, const pb_byte_t *buf, size_t n)
{
	struct out_state *st = s->state;
	if (wbuf_put_bytes(&st->w, buf, n) != 0) {
		st->full = 1;
		return false;
	}
	return true;
}

int agent_dispatch(const struct sevrpc_agent_method *m, struct agent_call *call,
		   const uint8_t *req, size_t len, struct wbuf *out)
{
	if (m == NULL || out == NULL || (req == NULL && len != 0) || out->len > out->cap)
		return SEVMON_EINVAL;
	if (m->req_size > sizeof(req_store) || m->resp_size > sizeof(resp_store))
		return SEVMON_EINVAL;

	memset(&req_store, 0, m->req_size);
	memset(&resp_store, 0, m->resp_size);
	pb_istream_t in = pb_istream_from_buffer(req ? req : (const pb_byte_t *)"", len);
	if (!pb_decode(&in, m->req_fields, &req_store))
		return SEVMON_EDECODE;

	int rc = m->handler(call, &req_store, &resp_store);
	if (rc > 0)
		rc = SEVMON_EINTERNAL;
	if (rc != 0)
		return rc;

	struct out_state st = { wbuf_make(out->p + out->len, out->cap - out->len), 0 };
	pb_ostream_t os = { .callback = out_write, .state = &st, .max_size = SIZE_MAX };
	if (!pb_encode(&os, m->resp_fields, &resp_store))
		return st.full ? SEVMON_ETOOBIG : SEVMON_EENCODE;
	out->len += st.w.len;
	return 0;
}
