/*
 * cli_conn.c — shared connection options of the sevmon subcommands, and `sevmon keygen`.
 */
#include "cli_conn.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "err.h"

#ifndef SEVMON_TRUST_DIR
#define SEVMON_TRUST_DIR "/usr/share/sevmon/trust"
#endif

const char cli_conn_usage[] =
	"Channel (every connection is a Noise session bound to SEV-SNP evidence):\n"
	"  --key FILE          this IDS's private key (default $SEVMON_KEY; `sevmon keygen`)\n"
	"  --pin PUBFILE       accept only the agent with this public key\n"
	"  --trust PEM         extra trust anchor (ARK); the sim ARK must be given this way\n"
	"  --trust-dir DIR     AMD roots amd-{milan,genoa,turin}.pem (default " SEVMON_TRUST_DIR ")\n"
	"  --measurement HEX   accepted launch measurement (96 hex digits); repeatable;\n"
	"                      none = any measurement (a warning is printed)\n"
	"  --attest PROVIDER   send this IDS's own evidence: snp, or sim:DIR[,measurement=HEX]\n"
	"Debug-enabled guests and migration agents are always rejected.\n"
	"Deadlines:\n"
	"  --connect-timeout MS  connect and channel set-up (default 10000)\n"
	"  --timeout MS        each request to the agent (default 30000)\n";

void cli_conn_opts_init(struct cli_conn_opts *o)
{
	memset(o, 0, sizeof *o);
	o->connect_timeout_ms = CLI_CONNECT_TIMEOUT_MS;
	o->request_timeout_ms = CLI_REQUEST_TIMEOUT_MS;
}

/* Milliseconds, 1 .. INT32_MAX (a connect deadline is an int in ids_conn_open). */
static int parse_ms(const char *opt, const char *arg, uint32_t *out)
{
	uint64_t v;
	if (cli_parse_u64(arg, INT32_MAX, &v) < 0 || v == 0) {
		fprintf(stderr, "sevmon: %s: milliseconds, 1..%d\n", opt, INT32_MAX);
		return -1;
	}
	*out = (uint32_t)v;
	return 1;
}

int cli_conn_opt(struct cli_conn_opts *o, int c, const char *arg)
{
	switch (c) {
	case CLI_OPT_CONNECT_TIMEOUT:
		return parse_ms("--connect-timeout", arg, &o->connect_timeout_ms);
	case CLI_OPT_TIMEOUT:
		return parse_ms("--timeout", arg, &o->request_timeout_ms);
	case CLI_OPT_KEY:
		o->key = arg;
		return 1;
	case CLI_OPT_TRUST:
		if (o->ntrust == CLI_MAX_TRUST) {
			fprintf(stderr, "sevmon: at most %u --trust\n", CLI_MAX_TRUST);
			return -1;
		}
		o->trust[o->ntrust++] = arg;
		return 1;
	case CLI_OPT_TRUST_DIR:
		o->trust_dir = arg;
		return 1;
	case CLI_OPT_MEASUREMENT:
		if (o->nmeasurements == EVIDENCE_MAX_MEASUREMENTS) {
			fprintf(stderr, "sevmon: at most %u --measurement\n", EVIDENCE_MAX_MEASUREMENTS);
			return -1;
		}
		o->measurements[o->nmeasurements++] = arg;
		return 1;
	case CLI_OPT_PIN:
		o->pin = arg;
		return 1;
	case CLI_OPT_ATTEST:
		o->attest = arg;
		return 1;
	default:
		return 0;
	}
}

static int build_policy(const char *cmd, struct cli_conn_opts *o, struct ids_policy *p)
{
	int rc;
	memset(p, 0, sizeof *p);
	const char *key = o->key ? o->key : getenv("SEVMON_KEY");
	if (!key || !*key) {
		fprintf(stderr, "sevmon %s: no key: give --key FILE or set SEVMON_KEY "
				"(make one with `sevmon keygen --out FILE`)\n", cmd);
		return CLI_EUSAGE;
	}
	if ((rc = session_key_load(key, &p->key)) < 0) {
		cli_error(cmd, key, rc, rc == SEVMON_EDENIED ? "key file readable by others (chmod 600)"
							     : "cannot load the private key");
		return CLI_EUSAGE;
	}
	if (o->pin) {
		if ((rc = session_pub_load(o->pin, p->pin)) < 0) {
			cli_error(cmd, o->pin, rc, "cannot load the pinned public key");
			goto fail;
		}
		p->has_pin = true;
	}
	for (size_t i = 0; i < o->nmeasurements; i++) {
		if (session_hex_decode(o->measurements[i], p->peer.measurements[i], SNP_MEASUREMENT_LEN) < 0) {
			fprintf(stderr, "sevmon %s: --measurement needs %d hex digits\n", cmd,
				2 * SNP_MEASUREMENT_LEN);
			goto fail;
		}
	}
	p->peer.n_measurements = o->nmeasurements;
	p->peer.trust = snp_trust_new();
	if (!p->peer.trust) {
		ids_policy_free(p);
		return CLI_ELOCAL;
	}
	p->peer.trust_dir = o->trust_dir ? o->trust_dir : SEVMON_TRUST_DIR;
	(void)snp_trust_add_amd(p->peer.trust, p->peer.trust_dir); /* absent roots: only --trust counts */
	for (size_t i = 0; i < o->ntrust; i++) {
		if ((rc = snp_trust_add_file(p->peer.trust, o->trust[i])) < 0) {
			cli_error(cmd, o->trust[i], rc, "cannot load the trust anchor");
			goto fail;
		}
	}
	if (o->attest) {
		char why[256] = "";
		if ((rc = snp_provider_open(o->attest, &p->own, why, sizeof why)) < 0) {
			fprintf(stderr, "sevmon %s: --attest %s: %s\n", cmd, o->attest, why);
			goto fail;
		}
	}
	if (o->nmeasurements == 0 && !o->quiet_any_measurement)
		fprintf(stderr, "sevmon %s: warning: no --measurement: any launch measurement is "
				"accepted\n", cmd);
	return CLI_OK;
fail:
	ids_policy_free(p);
	return CLI_EUSAGE;
}

int cli_conn_policy(const char *cmd, struct cli_conn_opts *o, struct ids_policy *pol)
{
	return build_policy(cmd, o, pol);
}

int cli_connect(const char *cmd, const char *uri, struct cli_conn_opts *o,
		struct ids_policy *pol, struct ids_conn *conn)
{
	int ex = build_policy(cmd, o, pol);
	if (ex != CLI_OK)
		return ex;
	int rc = ids_conn_open(conn, uri, (int)o->connect_timeout_ms, pol);
	if (rc < 0) {
		fprintf(stderr, "sevmon %s: %s: %s\n", cmd, uri, conn->why[0] ? conn->why
									 : sevmon_strerror(rc));
		ids_policy_free(pol);
		switch (rc) {
		case SEVMON_EATTEST:
		case SEVMON_EDENIED:
		case SEVMON_EAUTH:
		case SEVMON_EDECODE:
		case SEVMON_ETRUNC:
			return CLI_ELOST;
		default:
			return cli_exit_for_connect(rc);
		}
	}
	conn->request_timeout_ms = o->request_timeout_ms;
	return CLI_OK;
}

static const char keygen_usage[] =
	"usage: sevmon keygen --out FILE [--comment TEXT]\n"
	"Write a new static X25519 key pair: FILE (private, mode 0600) and FILE.pub (one\n"
	"line, to give to agents' --allow or to the IDS's --pin). Never overwrites.\n";

int cmd_keygen(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "comment", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *out = NULL, *comment = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "o:c:h", opts, NULL)) != -1) {
		if (c == 'h') {
			printf("%s", keygen_usage);
			return CLI_OK;
		}
		if (c == 'o')
			out = optarg;
		else if (c == 'c')
			comment = optarg;
		else {
			fprintf(stderr, "%s", keygen_usage);
			return CLI_EUSAGE;
		}
	}
	if (!out || optind != argc) {
		fprintf(stderr, "%s", keygen_usage);
		return CLI_EUSAGE;
	}
	struct noise_keypair kp;
	int rc = session_key_generate(out, comment, &kp);
	if (rc < 0) {
		cli_error("keygen", out, rc, rc == SEVMON_EEXIST ? "refusing to overwrite" : NULL);
		return CLI_ELOCAL;
	}
	char hex[2 * NOISE_DH_LEN + 1];
	session_hex_encode(kp.pub, NOISE_DH_LEN, hex);
	printf("private key: %s\npublic key:  %s.pub\n  %s\n", out, out, hex);
	sodium_memzero(&kp, sizeof kp);
	return CLI_OK;
}

int cli_is_image(const char *arg)
{
	return strstr(arg, "://") == NULL;
}

int cli_image_spec(const char *cmd, const char *arg, const struct cli_conn_opts *o, char *spec,
		   size_t cap)
{
	if (!cli_is_image(arg))
		return 0;
	const char *key = o->key ? o->key : getenv("SEVMON_KEY");
	int is_spec = !strncmp(arg, "image:", 6) || !strncmp(arg, "ramfile:", 8) ||
		      !strncmp(arg, "kcore:", 6) || !strcmp(arg, "kcore");
	if (!is_spec && strchr(arg, ',')) {
		fprintf(stderr, "sevmon %s: %s: a memory image's path cannot contain ','\n", cmd, arg);
		return CLI_EUSAGE;
	}
	/* the key is only read when the image turns out to be sealed */
	int with_key = key && *key && !strchr(key, ',') &&
		       (!is_spec || (!strncmp(arg, "image:", 6) && !strstr(arg, ",key=")));
	int n = snprintf(spec, cap, "%s%s%s%s", is_spec ? "" : "image:", arg, with_key ? ",key=" : "",
			 with_key ? key : "");
	if (n < 0 || (size_t)n >= cap) {
		fprintf(stderr, "sevmon %s: %s: path too long\n", cmd, arg);
		return CLI_EUSAGE;
	}
	return 1;
}
