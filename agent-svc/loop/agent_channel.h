/*
 * agent_channel.h — the agent side of the sevmon channel (lib/channel/session.h) on the poll
 * loop's seam (agent_conn_hooks + agent_channel).
 *
 * Per connection: a struct session (heap, ~24 KiB) as the session pointer. Until the
 * session is READY, every frame goes to session_feed (the channel's open returns 0) and
 * its answers go out with agent_conn_send_raw; the connection's idle timeout is the
 * short handshake window. Once READY, open/seal are the Noise transport and the
 * timeout returns to the loop's.
 *
 * Half-open bound: the connection counts as unauthenticated in the loop
 * (agent_loop_config.max_unauth and max_unauth_per_source) until the handshake completes;
 * then agent_conn_set_authenticated. A flood of half-open connections evicts its own
 * oldest, never an established session, nor a handshake that is making progress while
 * one with less progress is there to evict.
 */
#ifndef SEVMON_AGENT_CHANNEL_H
#define SEVMON_AGENT_CHANNEL_H

#include "agent_loop.h"
#include "session.h"

/* A handshake is three messages and one report: a second on real hardware (the PSP
 * signs the report). 10 s covers a slow host; a stalled peer is cut after it. */
#define AGENT_HANDSHAKE_TIMEOUT_MS 10000u
struct agent_channel_cfg {
	struct noise_keypair key;
	uint8_t allow[SESSION_MAX_ALLOW][NOISE_DH_LEN];
	size_t nallow;
	session_attest_fn attest;
	void *attest_ctx;
	/* NULL: IDS evidence, if sent, is not checked. Set: the IDS must send evidence and it
	 * must verify (e.g. evidence_verify). */
	session_verify_fn verify;
	void *verify_ctx;
	uint32_t handshake_timeout_ms; /* 0 = AGENT_HANDSHAKE_TIMEOUT_MS */
	agent_log_fn log;
	void *log_ctx;
	/* state */
	unsigned in_handshake;
	uint64_t established, failed;
};

/* The hooks for agent_loop_config.hooks; ctx = the agent_channel_cfg (outlives the loop). */
struct agent_conn_hooks agent_channel_hooks(struct agent_channel_cfg *cfg);

#endif
