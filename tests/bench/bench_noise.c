/*
 * bench_noise.c — figures for the Noise layer on this machine (not a test):
 * complete Noise_XX_25519_ChaChaPoly_SHA512 handshakes per second (both sides, in one
 * process), and transport seal/open throughput on 64 KiB messages.
 * Usage: bench_noise [seconds per figure, default 2]
 */
#include "noise.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int handshake(const struct noise_keypair *is, const struct noise_keypair *rs,
		     struct noise_session *si, struct noise_session *sr)
{
	static struct noise_handshake a, b;
	static uint8_t m[NOISE_MAX_MSG], p[NOISE_MAX_MSG];
	struct noise_handshake_config c = {
		.protocol_name = NOISE_PROTOCOL_SEVMON,
		.role = NOISE_INITIATOR,
		.prologue = (const uint8_t *)NOISE_PROLOGUE_SEVMON,
		.prologue_len = strlen(NOISE_PROLOGUE_SEVMON),
		.s = is,
	};
	size_t n, pn;
	int rc;

	if ((rc = noise_handshake_init(&a, &c)) != 0)
		return rc;
	c.role = NOISE_RESPONDER;
	c.s = rs;
	if ((rc = noise_handshake_init(&b, &c)) != 0)
		return rc;
	while (a.state == NOISE_HS_RUNNING) {
		struct noise_handshake *w = noise_handshake_my_turn(&a) ? &a : &b;
		struct noise_handshake *r = w == &a ? &b : &a;
		if ((rc = noise_handshake_write_message(w, NULL, 0, m, sizeof m, &n)) != 0 ||
		    (rc = noise_handshake_read_message(r, m, n, p, sizeof p, &pn)) != 0)
			return rc;
	}
	if ((rc = noise_handshake_split(&a, si, 0)) != 0 || (rc = noise_handshake_split(&b, sr, 0)) != 0)
		return rc;
	return 0;
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 2.0;
	struct noise_keypair is, rs;
	struct noise_session si, sr;
	static uint8_t msg[64 * 1024], ct[64 * 1024 + NOISE_TAG_LEN], pt[64 * 1024];
	/* 64 KiB payloads do not fit one Noise message (65535 bytes): the transport
	 * splits them; measure with the largest payload one message can carry too. */
	const size_t chunk = NOISE_MAX_PAYLOAD;
	size_t n, pn;
	long count = 0;
	double t0, t;

	if (secs <= 0 || noise_keypair_generate(&is) != 0 || noise_keypair_generate(&rs) != 0)
		return 1;
	t0 = now();
	do {
		if (handshake(&is, &rs, &si, &sr) != 0) {
			fprintf(stderr, "handshake failed\n");
			return 1;
		}
		count++;
	} while ((t = now()) - t0 < secs);
	printf("Noise_XX_25519_ChaChaPoly_SHA512: %.0f handshakes/s (initiator+responder, 3 messages)\n",
	       (double)count / (t - t0));

	memset(msg, 0xa5, sizeof msg);
	count = 0;
	t0 = now();
	do {
		/* 64 KiB = one full message plus the remainder. */
		for (size_t off = 0; off < sizeof msg; off += chunk) {
			size_t len = sizeof msg - off < chunk ? sizeof msg - off : chunk;
			if (noise_session_seal(&si, msg + off, len, ct, sizeof ct, &n) != 0 ||
			    noise_session_open(&sr, ct, n, pt, sizeof pt, &pn) != 0) {
				fprintf(stderr, "transport failed\n");
				return 1;
			}
		}
		count++;
	} while ((t = now()) - t0 < secs);
	printf("ChaChaPoly transport, 64 KiB messages: %.1f MB/s through seal then open\n",
	       (double)count * sizeof msg / (t - t0) / 1e6);
	count = 0;
	t0 = now();
	do {
		for (size_t off = 0; off < sizeof msg; off += chunk) {
			size_t len = sizeof msg - off < chunk ? sizeof msg - off : chunk;
			if (noise_session_seal(&si, msg + off, len, ct, sizeof ct, &n) != 0)
				return 1;
		}
		count++;
	} while ((t = now()) - t0 < secs);
	printf("ChaChaPoly transport, 64 KiB messages: %.1f MB/s seal only\n",
	       (double)count * sizeof msg / (t - t0) / 1e6);
	noise_session_wipe(&si);
	noise_session_wipe(&sr);
	return 0;
}
