/*
 * agent_serve.c — one request into the method table: find the method (an id not in the
 * generated table is refused), dispatch it to its handler with the agent's context. The
 * table points at the handlers; the handlers know the table only through the agent
 * (agent_init fills the method list GetInfo reports).
 */
#include "agent.h"
#include "agent_dispatch.h"
#include "err.h"
#include "sevmon.sevrpc-agent.h"

static uint32_t method_ids[AGENT_MAX_METHODS];

int agent_init(struct agent *a, struct mem_source *mem)
{
	int rc = agent_state_init(a, mem);
	if (rc < 0)
		return rc;
	size_t n = 0;
	for (; n < sevmon_agent_methods_count && n < AGENT_MAX_METHODS; n++)
		method_ids[n] = sevmon_agent_methods[n].id;
	a->method_ids = method_ids;
	a->nmethods = n;
	return 0;
}

int agent_serve_request(void *ctx, const struct agent_request *req, struct wbuf *out,
			char *errmsg, size_t errcap)
{
	struct agent *a = ctx;
	const struct sevrpc_agent_method *m = sevmon_agent_method_find(req->method);
	if (!m)
		return SEVMON_EUNMETHOD;
	struct agent_call call = { .agent = a, .req = req, .errmsg = errmsg, .errcap = errcap };
	a->arena_used = 0;
	return agent_dispatch(m, &call, req->payload, req->len, out);
}
