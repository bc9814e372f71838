/*
 * agent_channel.c — per-connection sevmon channel for the agent's poll loop.
 */
#include "agent_channel.h"

#include <stdio.h>
#include <stdlib.h>

#include "err.h"
#include "frame.h"

struct chan {
	struct session s;
	struct agent_channel_cfg *cfg;
	struct agent_conn *conn;
	bool counted; /* counts against in_handshake */
};

static void chan_log(struct agent_channel_cfg *cfg, enum agent_log_level lvl, struct agent_conn *c,
		 const char *what)
{
	if (!cfg->log)
		return;
	char line[SESSION_WHY_MAX + 128];
	snprintf(line, sizeof line, "conn %llu (%s): %s", (unsigned long long)agent_conn_id(c),
		 agent_conn_peer(c), what);
	cfg->log(cfg->log_ctx, lvl, line);
}

static void uncount(struct chan *ch)
{
	if (ch->counted) {
		ch->counted = false;
		ch->cfg->in_handshake--;
	}
}

static long chan_open(void *ctx, const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
	struct chan *ch = ctx;
	if (session_ready(&ch->s))
		return session_open(&ch->s, in, n, out, cap);
	int rc = session_feed(&ch->s, in, n);
	if (rc < 0) {
		ch->cfg->failed++;
		chan_log(ch->cfg, AGENT_LOG_WARN, ch->conn, session_why(&ch->s));
		uncount(ch);
		return rc;
	}
	const uint8_t *body;
	size_t len;
	while (session_pop_out(&ch->s, &body, &len)) {
		rc = agent_conn_send_raw(ch->conn, body, len);
		if (rc < 0)
			return rc;
	}
	if (session_ready(&ch->s)) {
		uncount(ch);
		ch->cfg->established++;
		agent_conn_set_authenticated(ch->conn);
		agent_conn_set_timeout(ch->conn, 0);
		char hex[2 * NOISE_DH_LEN + 1], line[160];
		session_hex_encode(session_peer_key(&ch->s), NOISE_DH_LEN, hex);
		snprintf(line, sizeof line, "channel established with IDS key %.16s...", hex);
		chan_log(ch->cfg, AGENT_LOG_INFO, ch->conn, line);
	}
	return 0;
}

static long chan_seal(void *ctx, const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
	struct chan *ch = ctx;
	return session_seal(&ch->s, in, n, out, cap);
}

static int hook_open(void *ctx, struct agent_conn *c, void **session, struct agent_channel *chp)
{
	struct agent_channel_cfg *cfg = ctx;
	struct chan *ch = malloc(sizeof *ch);
	if (!ch)
		return SEVMON_ENOMEM;
	struct session_config sc = {
		.role = SESSION_AGENT,
		.key = &cfg->key,
		.allow = (const uint8_t(*)[NOISE_DH_LEN])cfg->allow,
		.nallow = cfg->nallow,
		.attest = cfg->attest,
		.attest_ctx = cfg->attest_ctx,
		.verify = cfg->verify,
		.verify_ctx = cfg->verify_ctx,
	};
	int rc = session_init(&ch->s, &sc);
	if (rc < 0) {
		free(ch);
		return rc;
	}
	ch->cfg = cfg;
	ch->conn = c;
	ch->counted = true;
	cfg->in_handshake++;
	*session = ch;
	*chp = (struct agent_channel){
		.open = chan_open, .seal = chan_seal, .ctx = ch,
		.max_msg = FRAME_MAX_BODY - NOISE_TAG_LEN,
	};
	agent_conn_set_timeout(c, cfg->handshake_timeout_ms ? cfg->handshake_timeout_ms
							    : AGENT_HANDSHAKE_TIMEOUT_MS);
	return 0;
}

static void hook_close(void *ctx, struct agent_conn *c, void *session)
{
	(void)ctx;
	(void)c;
	struct chan *ch = session;
	if (!ch)
		return;
	uncount(ch);
	session_wipe(&ch->s);
	free(ch);
}

struct agent_conn_hooks agent_channel_hooks(struct agent_channel_cfg *cfg)
{
	return (struct agent_conn_hooks){ .open = hook_open, .close = hook_close, .ctx = cfg };
}
