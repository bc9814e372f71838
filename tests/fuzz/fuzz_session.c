/*
 * fuzz_session.c — the channel's handshake as each side meets a hostile peer: frames fed
 * to session_feed in every state, for the agent (responder: msg1, then msg3 and the IDS's
 * evidence) and for the IDS (initiator: msg2 and the agent's evidence, after its own msg1),
 * then transport messages to session_open once (if ever) ready.
 * Input: [u8 role] then frames as [u16 BE length][body]...
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "session.h"
#include "snp_report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct noise_keypair self_key, peer_key;
static int ready;

static int fake_attest(void *ctx, const uint8_t report_data[SESSION_BINDING_LEN],
		       struct session_evidence *ev, char *why, size_t whycap)
{
	static uint8_t report[SNP_REPORT_LEN]; /* bytes, not a signed report */
	(void)ctx, (void)why, (void)whycap;
	memcpy(report + 0x50, report_data, SESSION_BINDING_LEN);
	*ev = (struct session_evidence){ .kind = 1, .report = report };
	return 0;
}

static int accept_verify(void *ctx, const struct session_evidence *ev,
			 const uint8_t report_data[SESSION_BINDING_LEN],
			 const uint8_t pk[NOISE_DH_LEN], char *why, size_t whycap)
{
	(void)ctx, (void)ev, (void)report_data, (void)pk, (void)why, (void)whycap;
	return 0; /* the verifier has a harness of its own: here every path past it is reached */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!ready) {
		/* fixed keys: reproducible runs */
		uint8_t a[NOISE_DH_LEN], b[NOISE_DH_LEN];
		for (int i = 0; i < NOISE_DH_LEN; i++) {
			a[i] = (uint8_t)(i + 1);
			b[i] = (uint8_t)(0x80 + i);
		}
		if (noise_keypair_from_private(&self_key, a) < 0 ||
		    noise_keypair_from_private(&peer_key, b) < 0)
			abort();
		ready = 1;
	}
	if (size < 1)
		return 0;
	static struct session s;
	struct session_config cfg = { .key = &self_key };
	const uint8_t(*allow)[NOISE_DH_LEN] = (const uint8_t(*)[NOISE_DH_LEN])peer_key.pub;
	if (data[0] & 1) {
		cfg.role = SESSION_AGENT;
		cfg.allow = allow;
		cfg.nallow = 1;
		cfg.attest = fake_attest;
		if (data[0] & 2)
			cfg.verify = accept_verify;
	} else {
		cfg.role = SESSION_IDS;
		cfg.verify = accept_verify;
		if (data[0] & 2)
			cfg.attest = fake_attest;
	}
	if (session_init(&s, &cfg) < 0)
		return 0;
	const uint8_t *body;
	size_t len;
	while (session_pop_out(&s, &body, &len)) {
	}
	static uint8_t out[65536];
	size_t off = 1;
	while (off + 2 <= size) {
		size_t n = (size_t)data[off] << 8 | data[off + 1];
		off += 2;
		if (n > size - off)
			n = size - off;
		if (n == 0)
			break;
		if (!session_ready(&s)) {
			if (session_feed(&s, data + off, n) < 0)
				break;
			while (session_pop_out(&s, &body, &len)) {
			}
		} else {
			(void)session_open(&s, data + off, n, out, sizeof out);
		}
		off += n;
	}
	session_wipe(&s);
	return 0;
}
