/*
 * cli_conn.h — the options every connecting subcommand shares, parsed in one place: our
 * key, the agent pin and the attestation policy, and the two deadlines (connect and
 * channel set-up; each request); and the one connect call they all use.
 *
 * Use: cli_conn_opts_init(), put CLI_CONN_LONGOPTS in the getopt_long table, hand every
 * option value getopt returns to cli_conn_opt() first, then call cli_connect(). The
 * connection it opens carries the request deadline (ids_conn.request_timeout_ms), so
 * every request made on it, introspection included, has the one the user gave.
 */
#ifndef SEVMON_CLI_CONN_H
#define SEVMON_CLI_CONN_H

#include <getopt.h>

#include "ids_conn.h"
#include "ids_session.h"

/* Extra trust anchor files: the sim ARK and a spare; AMD's own come from --trust-dir. */
#define CLI_MAX_TRUST 8u

enum {
	CLI_OPT_KEY = 0x1000,
	CLI_OPT_TRUST,
	CLI_OPT_TRUST_DIR,
	CLI_OPT_MEASUREMENT,
	CLI_OPT_PIN,
	CLI_OPT_ATTEST,
	CLI_OPT_CONNECT_TIMEOUT,
	CLI_OPT_TIMEOUT,
};

/* Deadlines when the user gives none: a connect and handshake to a healthy agent takes
 * milliseconds, 10 s covers a loaded host; a request may read tens of MiB (a kernel
 * profile's BTF, a big Gather) through a TCG guest, 30 s covers that. */
#define CLI_CONNECT_TIMEOUT_MS 10000u
#define CLI_REQUEST_TIMEOUT_MS 30000u

#define CLI_CONN_LONGOPTS                                                     \
	{ "key", required_argument, NULL, CLI_OPT_KEY },                      \
	{ "trust", required_argument, NULL, CLI_OPT_TRUST },                  \
	{ "trust-dir", required_argument, NULL, CLI_OPT_TRUST_DIR },          \
	{ "measurement", required_argument, NULL, CLI_OPT_MEASUREMENT },      \
	{ "pin", required_argument, NULL, CLI_OPT_PIN },                      \
	{ "attest", required_argument, NULL, CLI_OPT_ATTEST },                \
	{ "connect-timeout", required_argument, NULL, CLI_OPT_CONNECT_TIMEOUT }, \
	{ "timeout", required_argument, NULL, CLI_OPT_TIMEOUT }

extern const char cli_conn_usage[];

struct cli_conn_opts {
	const char *key; /* default: $SEVMON_KEY */
	const char *trust[CLI_MAX_TRUST];
	size_t ntrust;
	const char *trust_dir;
	const char *measurements[EVIDENCE_MAX_MEASUREMENTS];
	size_t nmeasurements;
	const char *pin;
	const char *attest;
	uint32_t connect_timeout_ms; /* --connect-timeout: connect + channel set-up */
	uint32_t request_timeout_ms; /* --timeout: each request on the connection */
	int quiet_any_measurement; /* the caller warns about "no --measurement" itself */
};

/* Empty options with the default deadlines. */
void cli_conn_opts_init(struct cli_conn_opts *o);
/* 1 if c was one of ours (stored), 0 if not ours, -1 on a usage error (printed). */
int cli_conn_opt(struct cli_conn_opts *o, int c, const char *arg);

/*
 * Build the policy from o (key, anchors, measurements, pin, own provider), connect to
 * uri and run the channel handshake within o->connect_timeout_ms; requests on the
 * connection then have o->request_timeout_ms each. Prints "sevmon CMD: ..." on failure.
 * Returns CLI_OK with conn and pol ready (close with ids_conn_close, then
 * ids_policy_free), or a CLI exit code with nothing left open.
 */
int cli_connect(const char *cmd, const char *uri, struct cli_conn_opts *o,
		struct ids_policy *pol, struct ids_conn *conn);

/*
 * The commands that read a guest's kernel take an agent URI (scheme://...) or, in its
 * place, a memory image read in-process: a path (LiME, ELF core or raw; plain or sealed),
 * or a memory-source spec as the agent's --memory takes it (image:PATH, ramfile:PATH,...).
 * Returns 0 for a URI, 1 for an image with *spec its mem_open spec (a sealed image opens
 * with --key or $SEVMON_KEY, this IDS's key; a plain one needs none), or CLI_EUSAGE
 * (printed) for a path mem_open cannot be given (one with ',').
 */
int cli_image_spec(const char *cmd, const char *arg, const struct cli_conn_opts *o, char *spec,
		   size_t cap);
/* Whether arg names a memory image (1) rather than an agent URI (0). */
int cli_is_image(const char *arg);

/*
 * Only the policy step of cli_connect: build pol from o (printing "sevmon CMD: ..." on
 * failure). CLI_OK with pol ready (ids_policy_free), or a CLI exit code. For callers
 * that connect many times under one policy (sevmon scan).
 */
int cli_conn_policy(const char *cmd, struct cli_conn_opts *o, struct ids_policy *pol);

int cmd_keygen(int argc, char **argv);

#endif
