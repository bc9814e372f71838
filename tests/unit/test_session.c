/*
 * test_session.c — the channel state machine (lib/channel/session.h) with the real providers
 * and verifier: a simulated SNP chain made once, both sides in-process (frames handed
 * across directly) or over a socketpair with the blocking IDS driver (ids_session.h).
 */
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "frame.h"
#include "harness.h"
#include "ids_session.h"
#include "session.h"
#include "snp_provider.h"
#include "snp_sim.h"

#define SIM_FIXTURE_PREFIX "/tmp/sevmon-session-XXXXXX"
#include "sim_fixture.h"

#define MEAS_HEX "abababababababababababababababababababababababababababababababababababababababababababababababab"

/* Both ends, with their keys, provider and policy. */
struct pair {
	struct noise_keypair ids_key, agent_key, other_key;
	struct snp_provider *prov;
	struct ids_policy pol;
	struct session ids, agent;
};

static struct snp_provider *open_provider(const char *opts)
{
	char spec[256], why[256] = "";
	snprintf(spec, sizeof spec, "sim:%s%s", sim_dir, opts);
	struct snp_provider *p = NULL;
	int rc = snp_provider_open(spec, &p, why, sizeof why);
	if (rc < 0)
		FAIL_AT("provider %s: %s", spec, why);
	return p;
}

static void pair_setup(struct pair *p, const char *prov_opts)
{
	ASSERT_EQ(fixture_err, 0);
	memset(p, 0, sizeof *p);
	ASSERT_EQ(noise_keypair_generate(&p->ids_key), 0);
	ASSERT_EQ(noise_keypair_generate(&p->agent_key), 0);
	ASSERT_EQ(noise_keypair_generate(&p->other_key), 0);
	p->prov = open_provider(prov_opts);
	p->pol.key = p->ids_key;
	p->pol.peer.trust = snp_trust_new();
	ASSERT(p->pol.peer.trust);
	char ark[160];
	snprintf(ark, sizeof ark, "%s/ark.pem", sim_dir);
	ASSERT(snp_trust_add_file(p->pol.peer.trust, ark) >= 1);
	ASSERT_EQ(session_hex_decode(MEAS_HEX, p->pol.peer.measurements[0], SNP_MEASUREMENT_LEN), 0);
	p->pol.peer.n_measurements = 1;
	p->pol.peer.trust_dir = "/nonexistent";
}

static int ids_init(struct pair *p, const uint8_t *pin)
{
	struct session_config c = {
		.role = SESSION_IDS, .key = &p->pol.key, .pin = pin,
		.attest = p->pol.own ? snp_provider_attest : NULL, .attest_ctx = p->pol.own,
		.verify = evidence_verify, .verify_ctx = &p->pol.peer,
	};
	return session_init(&p->ids, &c);
}

static int agent_init_with(struct pair *p, const uint8_t (*allow)[NOISE_DH_LEN], size_t n,
			   session_attest_fn attest, void *actx)
{
	struct session_config c = {
		.role = SESSION_AGENT, .key = &p->agent_key, .allow = allow, .nallow = n,
		.attest = attest, .attest_ctx = actx,
	};
	return session_init(&p->agent, &c);
}

static int agent_init(struct pair *p)
{
	return agent_init_with(p, (const uint8_t(*)[NOISE_DH_LEN])p->ids_key.pub, 1,
			       snp_provider_attest, p->prov);
}

/* Deliver every queued frame of from to to; a copy of each can be kept. Returns the first
 * error of to, or 0. */
static int deliver(struct session *from, struct session *to, uint8_t (*keep)[FRAME_MAX_BODY],
		   size_t *keep_len, size_t *nkeep)
{
	const uint8_t *b;
	size_t len;
	uint8_t copy[SESSION_MAX_OUT][SESSION_MAX_EVIDENCE + 64];
	size_t lens[SESSION_MAX_OUT], n = 0;
	while (session_pop_out(from, &b, &len)) {
		memcpy(copy[n], b, len);
		lens[n++] = len;
	}
	for (size_t i = 0; i < n; i++) {
		if (keep) {
			memcpy(keep[*nkeep], copy[i], lens[i]);
			keep_len[(*nkeep)++] = lens[i];
		}
		int rc = session_feed(to, copy[i], lens[i]);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Run the whole exchange; returns the first error and which side had it (1 IDS, 2 agent). */
static int run(struct pair *p, int *side)
{
	int rc;
	*side = 2;
	if ((rc = deliver(&p->ids, &p->agent, NULL, NULL, NULL)) < 0) /* msg1 */
		return rc;
	*side = 1;
	if ((rc = deliver(&p->agent, &p->ids, NULL, NULL, NULL)) < 0) /* msg2 */
		return rc;
	*side = 2;
	if ((rc = deliver(&p->ids, &p->agent, NULL, NULL, NULL)) < 0) /* msg3 (+ IDS evidence) */
		return rc;
	*side = 1;
	if ((rc = deliver(&p->agent, &p->ids, NULL, NULL, NULL)) < 0) /* agent evidence */
		return rc;
	*side = 0;
	return 0;
}

static void pair_free(struct pair *p)
{
	session_wipe(&p->ids);
	session_wipe(&p->agent);
	snp_provider_free(p->prov);
	ids_policy_free(&p->pol);
}

TEST(session_feed_sim_evidence_ready_both_ways)
{
	struct pair p;
	pair_setup(&p, ",measurement=" MEAS_HEX);
	ASSERT_EQ(ids_init(&p, p.agent_key.pub), 0);
	ASSERT_EQ(agent_init(&p), 0);
	int side;
	int rc = run(&p, &side);
	if (rc < 0)
		FAIL_AT("side %d: %s / %s", side, session_why(&p.ids), session_why(&p.agent));
	ASSERT(session_ready(&p.ids));
	ASSERT(session_ready(&p.agent));
	ASSERT_MEMEQ(session_handshake_hash(&p.ids), session_handshake_hash(&p.agent), 64);
	ASSERT_MEMEQ(session_peer_key(&p.ids), p.agent_key.pub, NOISE_DH_LEN);
	ASSERT_MEMEQ(session_peer_key(&p.agent), p.ids_key.pub, NOISE_DH_LEN);
	/* The verified report carries the binding of this session. */
	uint8_t rd[64];
	session_binding(SESSION_LABEL_AGENT, session_handshake_hash(&p.ids), 64, rd);
	ASSERT_MEMEQ(p.pol.peer.last.report.report_data, rd, 64);
	/* Transport both ways; a replayed transport message is refused. */
	uint8_t ct[128], pt[128];
	long n = session_seal(&p.ids, (const uint8_t *)"ping", 4, ct, sizeof ct);
	ASSERT_EQ(n, 4 + NOISE_TAG_LEN);
	ASSERT_EQ(session_open(&p.agent, ct, (size_t)n, pt, sizeof pt), 4);
	ASSERT_MEMEQ(pt, "ping", 4);
	ASSERT_EQ(session_open(&p.agent, ct, (size_t)n, pt, sizeof pt), SEVMON_EAUTH);
	n = session_seal(&p.agent, (const uint8_t *)"pong", 4, ct, sizeof ct);
	ASSERT_EQ(session_open(&p.ids, ct, (size_t)n, pt, sizeof pt), 4);
	pair_free(&p);
}

TEST(session_feed_unknown_ids_key_denied_after_msg3)
{
	struct pair p;
	pair_setup(&p, ",measurement=" MEAS_HEX);
	ASSERT_EQ(ids_init(&p, NULL), 0);
	ASSERT_EQ(agent_init_with(&p, (const uint8_t(*)[NOISE_DH_LEN])p.other_key.pub, 1,
				  snp_provider_attest, p.prov), 0);
	int side;
	ASSERT_EQ(run(&p, &side), SEVMON_EDENIED);
	ASSERT_EQ(side, 2);
	ASSERT(strstr(session_why(&p.agent), "allow-list"));
	ASSERT_EQ(p.agent.state, SESSION_FAILED);
	const uint8_t *b;
	size_t len;
	ASSERT_EQ(session_pop_out(&p.agent, &b, &len), 0); /* no evidence leaves */
	pair_free(&p);
}

TEST(session_feed_agent_key_not_pinned_denied_after_msg2)
{
	struct pair p;
	pair_setup(&p, ",measurement=" MEAS_HEX);
	ASSERT_EQ(ids_init(&p, p.other_key.pub), 0);
	ASSERT_EQ(agent_init(&p), 0);
	int side;
	ASSERT_EQ(run(&p, &side), SEVMON_EDENIED);
	ASSERT_EQ(side, 1);
	ASSERT(strstr(session_why(&p.ids), "pinned"));
	pair_free(&p);
}

TEST(session_feed_measurement_not_allowed_rejected)
{
	struct pair p;
	pair_setup(&p, ""); /* all-zero measurement */
	ASSERT_EQ(ids_init(&p, NULL), 0);
	ASSERT_EQ(agent_init(&p), 0);
	int side;
	ASSERT_EQ(run(&p, &side), SEVMON_EATTEST);
	ASSERT_EQ(side, 1);
	ASSERT(strstr(session_why(&p.ids), "MEASUREMENT"));
	pair_free(&p);
}

TEST(session_feed_debug_policy_rejected)
{
	struct pair p;
	pair_setup(&p, ",measurement=" MEAS_HEX ",policy=0xb0000");
	ASSERT_EQ(ids_init(&p, NULL), 0);
	ASSERT_EQ(agent_init(&p), 0);
	int side;
	ASSERT_EQ(run(&p, &side), SEVMON_EATTEST);
	ASSERT(strstr(session_why(&p.ids), "DEBUG"));
	pair_free(&p);
}

TEST(session_feed_untrusted_sim_root_rejected)
{
	struct pair p;
	pair_setup(&p, ",measurement=" MEAS_HEX);
	snp_trust_free(p.pol.peer.trust);
	p.pol.peer.trust = snp_trust_new(); /* no anchors: the sim ARK is not trusted by default */
	ASSERT_EQ(ids_init(&p, NULL), 0);
	ASSERT_EQ(agent_init(&p), 0);
	int side;
	ASSERT_EQ(run(&p, &side), SEVMON_EATTEST);
	ASSERT(strstr(session_why(&p.ids), "UNTRUSTED_ROOT"));
	pair_free(&p);
}

/* A provider that ignores the binding: the report names some other REPORT_DATA. */
struct fixed_ev {
	struct snp_provider *prov;
	uint8_t rd[64];
	uint8_t buf[SESSION_MAX_EVIDENCE];
	size_t len;
	bool have;
};

static int unbound_attest(void *ctx, const uint8_t report_data[64], struct session_evidence *ev,
			  char *why, size_t whycap)
{
	struct fixed_ev *f = ctx;
	(void)report_data;
	return snp_provider_attest(f->prov, f->rd, ev, why, whycap);
}

TEST(session_feed_report_not_binding_this_session_rejected)
{
	struct pair p;
	pair_setup(&p, ",measurement=" MEAS_HEX);
	struct fixed_ev f = { .prov = p.prov };
	memset(f.rd, 0x42, sizeof f.rd);
	ASSERT_EQ(ids_init(&p, NULL), 0);
	ASSERT_EQ(agent_init_with(&p, (const uint8_t(*)[NOISE_DH_LEN])p.ids_key.pub, 1,
				  unbound_attest, &f), 0);
	int side;
	ASSERT_EQ(run(&p, &side), SEVMON_EATTEST);
	ASSERT_EQ(side, 1);
	ASSERT(strstr(session_why(&p.ids), "REPORT_DATA"));
	ASSERT_EQ(p.pol.peer.last.reason, SNP_REASON_REPORT_DATA);
	pair_free(&p);
}

/* A fake agent that replays the evidence captured from an earlier, valid session. */
static int replay_attest(void *ctx, const uint8_t report_data[64], struct session_evidence *ev,
			 char *why, size_t whycap)
{
	struct fixed_ev *f = ctx;
	(void)report_data;
	(void)why;
	(void)whycap;
	return session_evidence_decode(f->buf, f->len, ev);
}

static int capture_attest(void *ctx, const uint8_t report_data[64], struct session_evidence *ev,
			  char *why, size_t whycap)
{
	struct fixed_ev *f = ctx;
	int rc = snp_provider_attest(f->prov, report_data, ev, why, whycap);
	if (rc == 0) {
		long n = session_evidence_encode(ev, f->buf, sizeof f->buf);
		if (n < 0)
			return (int)n;
		f->len = (size_t)n;
		f->have = true;
	}
	return rc;
}

TEST(session_feed_evidence_replayed_from_another_session_rejected)
{
	struct pair p;
	pair_setup(&p, ",measurement=" MEAS_HEX);
	struct fixed_ev f = { .prov = p.prov };
	ASSERT_EQ(ids_init(&p, NULL), 0);
	ASSERT_EQ(agent_init_with(&p, (const uint8_t(*)[NOISE_DH_LEN])p.ids_key.pub, 1,
				  capture_attest, &f), 0);
	int side;
	ASSERT_EQ(run(&p, &side), 0); /* session 1: genuine, evidence captured */
	ASSERT(f.have);
	session_wipe(&p.ids);
	session_wipe(&p.agent);
	/* Session 2: same keys, the agent sends session 1's (valid, signed) evidence. */
	ASSERT_EQ(ids_init(&p, NULL), 0);
	ASSERT_EQ(agent_init_with(&p, (const uint8_t(*)[NOISE_DH_LEN])p.ids_key.pub, 1,
				  replay_attest, &f), 0);
	ASSERT_EQ(run(&p, &side), SEVMON_EATTEST);
	ASSERT_EQ(side, 1);
	ASSERT_EQ(p.pol.peer.last.reason, SNP_REASON_REPORT_DATA);
	ASSERT(p.pol.peer.last.signature_ok); /* it was genuine evidence, only not ours */
	pair_free(&p);
}

TEST(session_feed_replayed_msg1_msg3_fail_on_new_connection)
{
	struct pair p;
	pair_setup(&p, ",measurement=" MEAS_HEX);
	ASSERT_EQ(ids_init(&p, NULL), 0);
	ASSERT_EQ(agent_init(&p), 0);
	static uint8_t rec[4][FRAME_MAX_BODY];
	size_t rec_len[4], nrec = 0;
	ASSERT_EQ(deliver(&p.ids, &p.agent, rec, rec_len, &nrec), 0);
	ASSERT_EQ(deliver(&p.agent, &p.ids, NULL, NULL, NULL), 0);
	ASSERT_EQ(deliver(&p.ids, &p.agent, rec, rec_len, &nrec), 0);
	ASSERT_EQ(nrec, 2);
	ASSERT(session_ready(&p.agent) || p.agent.state == SESSION_WAIT_EVIDENCE);
	/* A new agent session gets the recorded msg1 and msg3: msg3 was made for another
	 * msg2 (other agent ephemeral), so it fails authentication, before any evidence. */
	session_wipe(&p.agent);
	ASSERT_EQ(agent_init(&p), 0);
	ASSERT_EQ(session_feed(&p.agent, rec[0], rec_len[0]), 0);
	const uint8_t *b;
	size_t len;
	ASSERT_EQ(session_pop_out(&p.agent, &b, &len), 1);
	ASSERT_EQ(session_pop_out(&p.agent, &b, &len), 0);
	ASSERT_EQ(session_feed(&p.agent, rec[1], rec_len[1]), SEVMON_EAUTH);
	ASSERT(strstr(session_why(&p.agent), "msg3"));
	ASSERT_EQ(session_pop_out(&p.agent, &b, &len), 0);
	pair_free(&p);
}

TEST(session_feed_garbage_and_truncated_frames_rejected)
{
	struct pair p;
	pair_setup(&p, ",measurement=" MEAS_HEX);
	uint8_t junk[200];
	memset(junk, 0x5a, sizeof junk);
	/* agent: msg1 too short, too long */
	ASSERT_EQ(agent_init(&p), 0);
	ASSERT_EQ(session_feed(&p.agent, junk, SESSION_MSG1_LEN - 1), SEVMON_ETRUNC);
	ASSERT_EQ(p.agent.state, SESSION_FAILED);
	ASSERT_EQ(agent_init(&p), 0);
	ASSERT_EQ(session_feed(&p.agent, junk, SESSION_MSG1_LEN + 1), SEVMON_EPROTO);
	/* agent: a good msg1, then msg3 truncated, or garbage of the right length */
	ASSERT_EQ(agent_init(&p), 0);
	ASSERT_EQ(ids_init(&p, NULL), 0);
	ASSERT_EQ(deliver(&p.ids, &p.agent, NULL, NULL, NULL), 0);
	ASSERT_EQ(session_feed(&p.agent, junk, 10), SEVMON_ETRUNC);
	ASSERT_EQ(agent_init(&p), 0);
	ASSERT_EQ(ids_init(&p, NULL), 0);
	ASSERT_EQ(deliver(&p.ids, &p.agent, NULL, NULL, NULL), 0);
	ASSERT_EQ(session_feed(&p.agent, junk, SESSION_MSG3_LEN), SEVMON_EAUTH);
	/* IDS: msg2 garbage of the right length, and truncated */
	ASSERT_EQ(ids_init(&p, NULL), 0);
	const uint8_t *b;
	size_t len;
	ASSERT_EQ(session_pop_out(&p.ids, &b, &len), 1);
	ASSERT_EQ(session_feed(&p.ids, junk, SESSION_MSG2_LEN), SEVMON_EAUTH);
	ASSERT_EQ(ids_init(&p, NULL), 0);
	ASSERT_EQ(session_pop_out(&p.ids, &b, &len), 1);
	ASSERT_EQ(session_feed(&p.ids, junk, 40), SEVMON_ETRUNC);
	/* after a failure nothing more is accepted */
	ASSERT_EQ(session_feed(&p.ids, junk, SESSION_MSG2_LEN), SEVMON_EINVAL);
	pair_free(&p);
}

TEST(session_feed_ids_evidence_sent_and_checked)
{
	struct pair p;
	pair_setup(&p, ",measurement=" MEAS_HEX);
	p.pol.own = open_provider(",measurement=" MEAS_HEX);
	ASSERT_EQ(ids_init(&p, NULL), 0);
	/* The agent verifies the IDS's evidence with the same verifier. */
	struct evidence_policy apol = { 0 };
	apol.trust = snp_trust_new();
	char ark[160];
	snprintf(ark, sizeof ark, "%s/ark.pem", sim_dir);
	ASSERT(snp_trust_add_file(apol.trust, ark) >= 1);
	apol.trust_dir = "/nonexistent";
	struct session_config c = {
		.role = SESSION_AGENT, .key = &p.agent_key,
		.allow = (const uint8_t(*)[NOISE_DH_LEN])p.ids_key.pub, .nallow = 1,
		.attest = snp_provider_attest, .attest_ctx = p.prov,
		.verify = evidence_verify, .verify_ctx = &apol,
	};
	ASSERT_EQ(session_init(&p.agent, &c), 0);
	int side;
	int rc = run(&p, &side);
	if (rc < 0)
		FAIL_AT("side %d: %s / %s", side, session_why(&p.ids), session_why(&p.agent));
	ASSERT(session_ready(&p.agent));
	ASSERT(session_ready(&p.ids));
	uint8_t rd[64];
	session_binding(SESSION_LABEL_IDS, session_handshake_hash(&p.agent), 64, rd);
	ASSERT_MEMEQ(apol.last.report.report_data, rd, 64);
	/* An IDS without evidence is refused by an agent that requires it. */
	snp_provider_free(p.pol.own);
	p.pol.own = NULL;
	ASSERT_EQ(ids_init(&p, NULL), 0);
	ASSERT_EQ(session_init(&p.agent, &c), 0);
	ASSERT_EQ(run(&p, &side), SEVMON_EATTEST);
	ASSERT_EQ(side, 2);
	evidence_policy_free(&apol);
	pair_free(&p);
}

TEST(session_evidence_decode_bounds)
{
	uint8_t report[SNP_REPORT_LEN] = { 0 }, vcek[10] = { 1 }, chain[5] = { 2 };
	struct session_evidence ev = { .kind = SESSION_EVIDENCE_SNP, .report = report,
				       .vcek = vcek, .vcek_len = sizeof vcek,
				       .chain = chain, .chain_len = sizeof chain };
	static uint8_t buf[SESSION_MAX_EVIDENCE + 8];
	long n = session_evidence_encode(&ev, buf, sizeof buf);
	ASSERT_EQ(n, SESSION_EVIDENCE_HDR + SNP_REPORT_LEN + 15);
	struct session_evidence d;
	ASSERT_EQ(session_evidence_decode(buf, (size_t)n, &d), 0);
	ASSERT_EQ(d.vcek_len, 10);
	ASSERT_EQ(d.chain_len, 5);
	ASSERT_EQ(d.chain[0], 2);
	for (long cut = 0; cut < n; cut += 97)
		ASSERT_EQ(session_evidence_decode(buf, (size_t)cut, &d), SEVMON_ETRUNC);
	ASSERT_EQ(session_evidence_decode(buf, (size_t)n + 1, &d), SEVMON_EDECODE);
	buf[0] = 2;
	ASSERT_EQ(session_evidence_decode(buf, (size_t)n, &d), SEVMON_EDECODE);
	buf[0] = 1;
	buf[2] = 0xff; /* report length */
	ASSERT_EQ(session_evidence_decode(buf, (size_t)n, &d), SEVMON_EDECODE);
	buf[2] = SNP_REPORT_LEN >> 8;
	buf[4] = 0xff; /* vcek length over the cap */
	ASSERT_EQ(session_evidence_decode(buf, (size_t)n, &d), SEVMON_EDECODE);
	ev.chain_len = SESSION_MAX_CHAIN + 1;
	ASSERT_EQ(session_evidence_encode(&ev, buf, sizeof buf), SEVMON_ETOOBIG);
	ev.chain_len = 5;
	ASSERT_EQ(session_evidence_encode(&ev, buf, 100), SEVMON_ETOOBIG);
}

TEST(session_key_generate_mode_0600_refuses_overwrite)
{
	char path[160];
	snprintf(path, sizeof path, "%s/k%d", tmp_root, (int)getpid());
	struct noise_keypair kp, loaded;
	ASSERT_EQ(session_key_generate(path, "test key", &kp), 0);
	struct stat st;
	ASSERT_EQ(stat(path, &st), 0);
	ASSERT_EQ(st.st_mode & 0777, 0600);
	ASSERT_EQ(session_key_generate(path, NULL, NULL), SEVMON_EEXIST);
	ASSERT_EQ(session_key_load(path, &loaded), 0);
	ASSERT_MEMEQ(loaded.pub, kp.pub, 32);
	ASSERT_MEMEQ(loaded.priv, kp.priv, 32);
	uint8_t pub[32];
	char pubpath[200];
	snprintf(pubpath, sizeof pubpath, "%s.pub", path);
	ASSERT_EQ(session_pub_load(pubpath, pub), 0);
	ASSERT_MEMEQ(pub, kp.pub, 32);
	/* a private key is not a public key file, and a readable private key is refused */
	ASSERT_EQ(session_pub_load(path, pub), SEVMON_EDECODE);
	ASSERT_EQ(chmod(path, 0644), 0);
	ASSERT_EQ(session_key_load(path, &loaded), SEVMON_EDENIED);
	ASSERT_EQ(session_key_load(pubpath, &loaded), SEVMON_EDENIED);
}

TEST(snp_provider_open_without_sev_clear_error)
{
	struct stat st;
	if (stat(SNP_CONFIGFS_TSM, &st) == 0 || stat(SNP_DEV_SEV_GUEST, &st) == 0) {
		printf("# this machine has an SEV-SNP guest interface: nothing to check\n");
		return;
	}
	struct snp_provider *p = NULL;
	char why[256] = "";
	ASSERT_EQ(snp_provider_open("snp", &p, why, sizeof why), SEVMON_ENOENT);
	ASSERT(p == NULL);
	ASSERT(strstr(why, SNP_CONFIGFS_TSM) && strstr(why, SNP_DEV_SEV_GUEST));
	ASSERT(snp_provider_open("tpm", &p, why, sizeof why) == SEVMON_EINVAL);
	ASSERT(strstr(why, "unknown attestation provider"));
	ASSERT(snp_provider_open("sim:/nonexistent", &p, why, sizeof why) < 0);
	ASSERT(strstr(why, "sim-init"));
	char spec[200];
	snprintf(spec, sizeof spec, "sim:%s,measurement=12", sim_dir);
	ASSERT_EQ(snp_provider_open(spec, &p, why, sizeof why), SEVMON_EINVAL);
	snprintf(spec, sizeof spec, "sim:%s,color=blue", sim_dir);
	ASSERT_EQ(snp_provider_open(spec, &p, why, sizeof why), SEVMON_EINVAL);
}

/* --- over a socketpair: the blocking IDS driver against a forked agent session --- */

static int write_frame(int fd, const uint8_t *b, size_t len)
{
	uint8_t h[2] = { (uint8_t)(len >> 8), (uint8_t)len };
	return write(fd, h, 2) == 2 && write(fd, b, len) == (ssize_t)len ? 0 : -1;
}

static int read_frame(int fd, uint8_t *b, size_t *len)
{
	uint8_t h[2];
	if (recv(fd, h, 2, MSG_WAITALL) != 2)
		return -1;
	*len = (size_t)h[0] << 8 | h[1];
	return recv(fd, b, *len, MSG_WAITALL) == (ssize_t)*len ? 0 : -1;
}

/* Child: the agent side; stall_after = frames to answer before going silent. */
static void agent_child(struct pair *p, int fd, int stall_after)
{
	static uint8_t b[FRAME_MAX_BODY];
	size_t len;
	if (agent_init(p) < 0)
		_exit(2);
	for (int i = 0; !session_ready(&p->agent); i++) {
		if (i == stall_after) {
			pause();
			_exit(0);
		}
		if (read_frame(fd, b, &len) < 0 || session_feed(&p->agent, b, len) < 0)
			_exit(3);
		const uint8_t *o;
		size_t ol;
		while (session_pop_out(&p->agent, &o, &ol))
			if (write_frame(fd, o, ol) < 0)
				_exit(4);
	}
	/* Echo one transport message to show the stream is intact after the driver. */
	if (read_frame(fd, b, &len) < 0)
		_exit(5);
	static uint8_t pt[FRAME_MAX_BODY];
	long n = session_open(&p->agent, b, len, pt, sizeof pt);
	if (n < 0)
		_exit(6);
	n = session_seal(&p->agent, pt, (size_t)n, b, sizeof b);
	if (n < 0 || write_frame(fd, b, (size_t)n) < 0)
		_exit(7);
	_exit(0);
}

TEST(ids_session_handshake_socketpair_no_read_ahead)
{
	struct pair p;
	pair_setup(&p, ",measurement=" MEAS_HEX);
	int sv[2];
	ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	pid_t pid = fork();
	if (pid == 0) {
		close(sv[0]);
		agent_child(&p, sv[1], -1);
	}
	close(sv[1]);
	char why[256] = "";
	int rc = ids_session_handshake(sv[0], &p.ids, &p.pol, 5000, why, sizeof why);
	if (rc < 0)
		FAIL_AT("handshake: %s", why);
	uint8_t ct[64], pt[64];
	size_t len;
	long n = session_seal(&p.ids, (const uint8_t *)"hello", 5, ct, sizeof ct);
	ASSERT_EQ(write_frame(sv[0], ct, (size_t)n), 0);
	ASSERT_EQ(read_frame(sv[0], ct, &len), 0);
	ASSERT_EQ(session_open(&p.ids, ct, len, pt, sizeof pt), 5);
	ASSERT_MEMEQ(pt, "hello", 5);
	int st;
	ASSERT_EQ(waitpid(pid, &st, 0), pid);
	ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	close(sv[0]);
	pair_free(&p);
}

TEST(ids_session_handshake_stalled_agent_times_out)
{
	struct pair p;
	pair_setup(&p, ",measurement=" MEAS_HEX);
	int sv[2];
	ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	pid_t pid = fork();
	if (pid == 0) {
		close(sv[0]);
		agent_child(&p, sv[1], 1); /* answers msg1, then silence */
	}
	close(sv[1]);
	char why[256] = "";
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int rc = ids_session_handshake(sv[0], &p.ids, &p.pol, 300, why, sizeof why);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ASSERT_EQ(rc, SEVMON_ETIMEDOUT);
	ASSERT(strstr(why, "evidence") || strstr(why, "handshake"));
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	ASSERT(ms >= 290 && ms < 3000);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(sv[0]);
	pair_free(&p);
}

TEST_MAIN()
