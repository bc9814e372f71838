/*
 * agent_dispatch.h — run one agent method: decode the request, call the handler,
 * encode the reply.
 *
 * The method entry comes from the generated table (sevmon.sevrpc-agent.h), found by
 * sevmon_agent_method_find(); an id not in the table never reaches this call.
 * Requests decode into static storage sized for the largest request of the service
 * (nanopb, fixed-size fields only, no allocation), so the dispatcher is not
 * reentrant: the agent is single-threaded and runs one method at a time.
 *
 * How replies carry bulk bytes (idl/sevmon.options): every large reply field is a
 * nanopb callback (pb_callback_t) that the handler points at its own bounded arena;
 * pb_encode calls it while agent_dispatch runs:
 *   ReadResponse.data        bytes:   pb_encode_tag_for_field + pb_encode_string
 *   GatherResponse.results   repeated RangeResult: per result, pb_encode_tag_for_field +
 *                            pb_encode_submessage(RangeResult_fields, &rr), where
 *                            rr.data is again a bytes callback; rr.status, rr.error[128]
 *   WalkListResponse.nodes   repeated WalkNode: likewise; WalkNode.fields is a bytes
 *                            callback; WalkNode.addr plain
 * Small fields are fixed arrays: GetInfoResponse.agent_version[64], memory_source[16],
 * phys_regions[64] (+_count), methods[32]; WalkListResponse.error[128]. Requests are
 * fully static: GatherRequest.ranges[1024], WalkListRequest.fields[16].
 * nanopb calls an encode callback of a submessage field twice (once to size it, once
 * to write), so callbacks must be pure: same bytes every call, no consumed state.
 */
#ifndef SEVMON_AGENT_DISPATCH_H
#define SEVMON_AGENT_DISPATCH_H

#include <stddef.h>
#include <stdint.h>

#include "rbuf.h"
#include "sevmon.sevrpc-agent.h"

/*
 * Decode req (len bytes) as m's request type, call m's handler with call, and append
 * the encoded reply to out.
 * Returns 0 (out->len grew by the reply's size), or a negative SEVMON_E*:
 *   SEVMON_EINVAL    m or out is NULL, or m's types do not fit the service's storage
 *   SEVMON_EDECODE   req is not a valid encoding of the request type, or exceeds a
 *                    limit of sevmon.options (e.g. more than 1024 Gather ranges)
 *   SEVMON_ETOOBIG   the reply does not fit in out's remaining capacity
 *   SEVMON_EENCODE   the reply could not be encoded (an encode callback failed)
 *   anything the handler returned (negative SEVMON_E*); a positive handler return
 *   is a handler bug and becomes SEVMON_EINTERNAL.
 * On error out->len is unchanged (bytes past it may have been written).
 * Pointers the handler stored in the reply (callback args) are used only before
 * this returns.
 */
int agent_dispatch(const struct sevrpc_agent_method *m, struct agent_call *call,
		   const uint8_t *req, size_t len, struct wbuf *out);

#endif
