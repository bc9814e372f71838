/*
 * bench_session.c — figures for the channel on this machine (not a test), one core:
 *  1. complete channel set-ups per second: Noise_XX + sim evidence (agent signs a report)
 *     + IDS verification (chain, signature, policy, binding), both sides in one thread;
 *     and the IDS's verification alone;
 *  2. bulk transfer over a unix socketpair to a forked reader, 65519-byte messages:
 *     raw frames next to channel frames (seal before write, open after read), GB/s;
 *  3. the AEAD alone (seal of 65519-byte messages in memory), GB/s.
 * Usage: bench_session SIMDIR [seconds per figure, default 2]   (SIMDIR from sim-init)
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "frame.h"
#include "ids_session.h"
#include "session.h"
#include "snp_provider.h"

#define MSG (FRAME_MAX_BODY - NOISE_TAG_LEN)

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct session ids, agent;

static int pump(struct session *from, struct session *to)
{
	const uint8_t *b;
	size_t len;
	static uint8_t copy[2][SESSION_MAX_EVIDENCE + 64];
	size_t lens[2], n = 0;
	while (session_pop_out(from, &b, &len)) {
		memcpy(copy[n], b, len);
		lens[n++] = len;
	}
	for (size_t i = 0; i < n; i++)
		if (session_feed(to, copy[i], lens[i]) < 0)
			return -1;
	return 0;
}

static void die(const char *what)
{
	fprintf(stderr, "bench_session: %s: %s / %s\n", what, session_why(&ids), session_why(&agent));
	exit(1);
}

/* Socketpair transfer of total bytes in MSG-sized frames; sealed if s != NULL. */
static double transfer(struct session *tx, struct session *rx, size_t total)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return 0;
	int bufsz = 1 << 20;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof bufsz);
	setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof bufsz);
	double t0 = now();
	pid_t pid = fork();
	if (pid == 0) {
		close(sv[0]);
		static uint8_t b[FRAME_MAX_BODY + 2], pt[FRAME_MAX_BODY];
		size_t got = 0;
		while (got < total) {
			uint8_t h[2];
			if (recv(sv[1], h, 2, MSG_WAITALL) != 2)
				_exit(1);
			size_t len = (size_t)h[0] << 8 | h[1];
			if (recv(sv[1], b, len, MSG_WAITALL) != (ssize_t)len)
				_exit(1);
			if (rx) {
				long n = session_open(rx, b, len, pt, sizeof pt);
				if (n < 0)
					_exit(2);
				len = (size_t)n;
			}
			got += len;
		}
		char ack = 1;
		if (write(sv[1], &ack, 1) != 1)
			_exit(3);
		_exit(0);
	}
	close(sv[1]);
	static uint8_t pt[MSG], frame[FRAME_MAX_BODY + 2];
	memset(pt, 0x5a, sizeof pt);
	for (size_t sent = 0; sent < total; sent += MSG) {
		size_t len = MSG;
		if (tx) {
			long n = session_seal(tx, pt, MSG, frame + 2, FRAME_MAX_BODY);
			if (n < 0)
				return 0;
			len = (size_t)n;
		} else {
			memcpy(frame + 2, pt, MSG); /* the copy a framing layer makes anyway */
		}
		frame[0] = (uint8_t)(len >> 8);
		frame[1] = (uint8_t)len;
		if (send(sv[0], frame, len + 2, 0) != (ssize_t)(len + 2))
			return 0;
	}
	char ack;
	if (read(sv[0], &ack, 1) != 1)
		return 0;
	double dt = now() - t0;
	int st;
	waitpid(pid, &st, 0);
	close(sv[0]);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? (double)total / dt / 1e9 : 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: bench_session SIMDIR [seconds]\n");
		return 2;
	}
	double secs = argc > 2 ? atof(argv[2]) : 2.0;
	struct noise_keypair ik, ak;
	if (noise_keypair_generate(&ik) < 0 || noise_keypair_generate(&ak) < 0)
		return 1;
	char spec[600], why[256] = "", ark[600];
	snprintf(spec, sizeof spec, "sim:%s", argv[1]);
	snprintf(ark, sizeof ark, "%s/ark.pem", argv[1]);
	struct snp_provider *prov;
	if (snp_provider_open(spec, &prov, why, sizeof why) < 0) {
		fprintf(stderr, "bench_session: %s\n", why);
		return 1;
	}
	static struct ids_policy pol;
	pol.key = ik;
	pol.peer.trust = snp_trust_new();
	pol.peer.trust_dir = "/nonexistent";
	if (!pol.peer.trust || snp_trust_add_file(pol.peer.trust, ark) < 1)
		return 1;
	struct session_config ic = { .role = SESSION_IDS, .key = &ik,
				     .verify = evidence_verify, .verify_ctx = &pol.peer };
	struct session_config ac = { .role = SESSION_AGENT, .key = &ak,
				     .allow = (const uint8_t(*)[NOISE_DH_LEN])ik.pub, .nallow = 1,
				     .attest = snp_provider_attest, .attest_ctx = prov };

	/* 1. set-ups per second */
	unsigned n = 0;
	double t0 = now(), t;
	double verify_time = 0;
	do {
		if (session_init(&ids, &ic) < 0 || session_init(&agent, &ac) < 0)
			die("init");
		if (pump(&ids, &agent) < 0 || pump(&agent, &ids) < 0 || pump(&ids, &agent) < 0)
			die("handshake");
		double v0 = now();
		if (pump(&agent, &ids) < 0 || !session_ready(&ids))
			die("evidence");
		verify_time += now() - v0;
		n++;
		t = now();
	} while (t - t0 < secs);
	printf("channel set-up (Noise_XX + sim report signed + verified): %.0f /s (%.2f ms each)\n",
	       n / (t - t0), (t - t0) / n * 1e3);
	printf("  of which IDS evidence decrypt + verification:           %.2f ms each (%.0f /s)\n",
	       verify_time / n * 1e3, n / verify_time);

	/* 2. bulk: raw next to channel; 3. AEAD alone */
	size_t total = (size_t)512 << 20;
	double raw = transfer(NULL, NULL, total);
	double chan = transfer(&ids, &agent, total);
	printf("bulk over a unix socketpair, %zu MiB in %u-byte messages:\n", total >> 20, MSG);
	printf("  raw frames:     %.2f GB/s\n", raw);
	printf("  channel frames: %.2f GB/s (seal + open on the two cores)\n", chan);
	static uint8_t pt[MSG], ct[FRAME_MAX_BODY];
	n = 0;
	t0 = now();
	do {
		for (int i = 0; i < 64; i++)
			if (session_seal(&ids, pt, MSG, ct, sizeof ct) < 0)
				return 1;
		n += 64;
		t = now();
	} while (t - t0 < secs);
	printf("AEAD (ChaCha20-Poly1305 seal, %u-byte messages): %.2f GB/s\n", MSG,
	       (double)n * MSG / (t - t0) / 1e9);
	session_wipe(&ids);
	session_wipe(&agent);
	snp_provider_free(prov);
	ids_policy_free(&pol);
	return 0;
}
