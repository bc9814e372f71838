/* cmd_attest.c — `sevmon attest verify | sim-init | sim-report`. */
#include "cmd_attest.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "snp_report.h"
#include "snp_sim.h"
#include "snp_verify.h"

#ifndef SEVMON_TRUST_DIR
#define SEVMON_TRUST_DIR "/usr/share/sevmon/trust"
#endif

#define CLI_FILE_MAX 65536        /* report (hex ~2.4 KB), VCEK, chain: all far smaller */
#define CLI_MEASUREMENTS_MAX 64   /* an allow-list longer than this belongs in a config file */

static const char usage[] =
	"usage: sevmon attest verify REPORT --vcek DER --chain PEM [options]\n"
	"       sevmon attest sim-init DIR\n"
	"       sevmon attest sim-report DIR --out FILE [--report-data HEX] [--measurement HEX]\n"
	"                                    [--policy N] [--vmpl N]\n"
	"\n"
	"verify: check an SEV-SNP attestation report (1184 raw bytes or hex text) against\n"
	"its VCEK certificate (DER) and the ASK+ARK chain (PEM, ASK first).\n"
	"  --report-data HEX    expected REPORT_DATA (64 bytes = 128 hex digits)\n"
	"  --measurement HEX    allowed launch measurement (48 bytes); repeatable;\n"
	"                       none given = any measurement (reported)\n"
	"  --trust PEM          add a trust anchor (e.g. a sim DIR/ark.pem); repeatable\n"
	"  --trust-dir DIR      AMD roots amd-{milan,genoa,turin}.pem (default " SEVMON_TRUST_DIR ")\n"
	"  --no-amd             do not load the AMD roots\n"
	"  --allow-migration    accept a migration agent (policy bit 18)\n"
	"  --max-vmpl N         highest VMPL accepted (default 3)\n"
	"  --min-tcb BL:TEE:SNP:UC   minimum TCB per component\n"
	"sim-init: generate a test ARK/ASK/VCEK into DIR (refuses to overwrite).\n"
	"sim-report: write a report signed by DIR's test VCEK to FILE (raw bytes);\n"
	"  default policy 0x30000 (SMT, reserved bit), vmpl 0.\n";

static int read_all(const char *path, uint8_t **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "attest: cannot open %s\n", path);
		return -1;
	}
	uint8_t *b = malloc(CLI_FILE_MAX + 1);
	size_t n = b ? fread(b, 1, CLI_FILE_MAX + 1, f) : 0;
	int bad = !b || ferror(f) || n > CLI_FILE_MAX;
	fclose(f);
	if (bad) {
		fprintf(stderr, "attest: cannot read %s (or larger than %d bytes)\n", path, CLI_FILE_MAX);
		free(b);
		return -1;
	}
	*out = b;
	*len = n;
	return 0;
}

static int parse_hex(const char *s, uint8_t *out, size_t n)
{
	if (strlen(s) != 2 * n)
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		if (sscanf(s + 2 * i, "%2x", &v) != 1 || !strchr("0123456789abcdefABCDEF", s[2 * i]) ||
		    !strchr("0123456789abcdefABCDEF", s[2 * i + 1]))
			return -1;
		out[i] = (uint8_t)v;
	}
	return 0;
}

static int parse_u64(const char *s, uint64_t *v)
{
	char *end = NULL;
	errno = 0;
	unsigned long long x = strtoull(s, &end, 0);
	if (errno || !end || *end || end == s)
		return -1;
	*v = x;
	return 0;
}

enum { OPT_VCEK = 1, OPT_CHAIN, OPT_RD, OPT_MEAS, OPT_TRUST, OPT_TRUST_DIR, OPT_NO_AMD,
       OPT_MIGR, OPT_VMPL, OPT_MIN_TCB, OPT_OUT, OPT_POLICY, OPT_HELP };

static const struct option opts[] = {
	{ "vcek", required_argument, NULL, OPT_VCEK },
	{ "chain", required_argument, NULL, OPT_CHAIN },
	{ "report-data", required_argument, NULL, OPT_RD },
	{ "measurement", required_argument, NULL, OPT_MEAS },
	{ "trust", required_argument, NULL, OPT_TRUST },
	{ "trust-dir", required_argument, NULL, OPT_TRUST_DIR },
	{ "no-amd", no_argument, NULL, OPT_NO_AMD },
	{ "allow-migration", no_argument, NULL, OPT_MIGR },
	{ "max-vmpl", required_argument, NULL, OPT_VMPL },
	{ "min-tcb", required_argument, NULL, OPT_MIN_TCB },
	{ "out", required_argument, NULL, OPT_OUT },
	{ "policy", required_argument, NULL, OPT_POLICY },
	{ "vmpl", required_argument, NULL, OPT_VMPL },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

struct cli {
	const char *vcek, *chain, *trust_dir, *out;
	const char *trust[SNP_TRUST_MAX];
	size_t n_trust;
	bool no_amd, have_rd;
	uint8_t rd[SNP_REPORT_DATA_LEN];
	uint8_t (*meas)[SNP_MEASUREMENT_LEN];
	size_t n_meas;
	struct snp_policy pol;
	uint64_t sim_policy;
	uint32_t sim_vmpl;
};

static int parse_opts(int argc, char **argv, struct cli *c)
{
	int o;
	optind = 0; /* GNU: restart scanning, cmd_attest may run more than once */
	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		uint64_t u;
		unsigned bl, tee, snp, uc;
		switch (o) {
		case OPT_VCEK: c->vcek = optarg; break;
		case OPT_CHAIN: c->chain = optarg; break;
		case OPT_TRUST_DIR: c->trust_dir = optarg; break;
		case OPT_OUT: c->out = optarg; break;
		case OPT_NO_AMD: c->no_amd = true; break;
		case OPT_MIGR: c->pol.allow_migration_agent = true; break;
		case OPT_TRUST:
			if (c->n_trust == SNP_TRUST_MAX) {
				fprintf(stderr, "attest: at most %d --trust\n", SNP_TRUST_MAX);
				return -1;
			}
			c->trust[c->n_trust++] = optarg;
			break;
		case OPT_RD:
			if (parse_hex(optarg, c->rd, sizeof c->rd)) {
				fprintf(stderr, "attest: --report-data needs %d hex digits\n", 2 * SNP_REPORT_DATA_LEN);
				return -1;
			}
			c->have_rd = true;
			break;
		case OPT_MEAS:
			if (c->n_meas == CLI_MEASUREMENTS_MAX) {
				fprintf(stderr, "attest: at most %d --measurement\n", CLI_MEASUREMENTS_MAX);
				return -1;
			}
			if (parse_hex(optarg, c->meas[c->n_meas], SNP_MEASUREMENT_LEN)) {
				fprintf(stderr, "attest: --measurement needs %d hex digits\n", 2 * SNP_MEASUREMENT_LEN);
				return -1;
			}
			c->n_meas++;
			break;
		case OPT_VMPL:
			if (parse_u64(optarg, &u) || u > 3) {
				fprintf(stderr, "attest: VMPL is 0..3\n");
				return -1;
			}
			c->pol.max_vmpl = c->sim_vmpl = (uint32_t)u;
			break;
		case OPT_POLICY:
			if (parse_u64(optarg, &c->sim_policy)) {
				fprintf(stderr, "attest: bad --policy\n");
				return -1;
			}
			break;
		case OPT_MIN_TCB:
			if (sscanf(optarg, "%u:%u:%u:%u", &bl, &tee, &snp, &uc) != 4 || bl > 255 ||
			    tee > 255 || snp > 255 || uc > 255) {
				fprintf(stderr, "attest: --min-tcb BL:TEE:SNP:UC, each 0..255\n");
				return -1;
			}
			c->pol.min_tcb = (struct snp_tcb){ 0, (uint8_t)bl, (uint8_t)tee, (uint8_t)snp, (uint8_t)uc };
			break;
		case OPT_HELP:
		case 'h':
			fputs(usage, stdout);
			return 1;
		default:
			return -1;
		}
	}
	return 0;
}

static int do_verify(struct cli *c, const char *report_path)
{
	uint8_t *rep = NULL, *vcek = NULL, *chain = NULL;
	size_t rlen = 0, vlen = 0, clen = 0;
	uint8_t raw[SNP_REPORT_LEN];
	struct snp_trust *t = snp_trust_new();
	int status = 1;
	if (!t || !c->vcek || !c->chain) {
		fprintf(stderr, "attest: verify needs --vcek and --chain\n%s", usage);
		status = 2;
		goto out;
	}
	if (read_all(report_path, &rep, &rlen) || read_all(c->vcek, &vcek, &vlen) ||
	    read_all(c->chain, &chain, &clen))
		goto out;
	int err = snp_report_read(rep, rlen, raw);
	if (err) {
		printf("REJECTED: PARSE: %s is not a 1184-byte report, raw or hex (%s)\n", report_path,
		       sevmon_strerror(err));
		goto out;
	}
	if (!c->no_amd) {
		const char *dir = c->trust_dir ? c->trust_dir : SEVMON_TRUST_DIR;
		if (snp_trust_add_amd(t, dir) < 0)
			fprintf(stderr, "attest: could not load AMD roots from %s\n", dir);
	}
	for (size_t i = 0; i < c->n_trust; i++)
		if ((err = snp_trust_add_file(t, c->trust[i])) < 0) {
			fprintf(stderr, "attest: --trust %s: %s\n", c->trust[i], sevmon_strerror(err));
			goto out;
		}
	c->pol.report_data = c->have_rd ? c->rd : NULL;
	c->pol.measurements = (const uint8_t(*)[SNP_MEASUREMENT_LEN])c->meas;
	c->pol.n_measurements = c->n_meas;
	struct snp_verdict v;
	err = snp_verify(&c->pol, t, raw, sizeof raw, vcek, vlen, chain, clen, &v);
	if (err) {
		printf("REJECTED: %s: %s\n", snp_reason_name(v.reason), v.why);
		goto out;
	}
	printf("OK: %s\n", v.why);
	printf("measurement: ");
	for (size_t i = 0; i < SNP_MEASUREMENT_LEN; i++)
		printf("%02x", v.report.measurement[i]);
	printf("\npolicy: 0x%" PRIx64 " vmpl: %" PRIu32 "\n", v.report.policy, v.report.vmpl);
	status = 0;
out:
	snp_trust_free(t);
	free(rep);
	free(vcek);
	free(chain);
	return status;
}

static int do_sim_report(struct cli *c, const char *dir)
{
	if (!c->out) {
		fprintf(stderr, "attest: sim-report needs --out FILE\n");
		return 2;
	}
	struct snp_sim_params p = { .policy = c->sim_policy, .vmpl = c->sim_vmpl };
	if (c->have_rd)
		memcpy(p.report_data, c->rd, sizeof p.report_data);
	if (c->n_meas)
		memcpy(p.measurement, c->meas[0], sizeof p.measurement);
	uint8_t rep[SNP_REPORT_LEN];
	int err = snp_sim_report(dir, &p, rep);
	if (err) {
		fprintf(stderr, "attest: sim-report %s: %s\n", dir, sevmon_strerror(err));
		return 1;
	}
	FILE *f = fopen(c->out, "wbx");
	if (!f || fwrite(rep, 1, sizeof rep, f) != sizeof rep) {
		fprintf(stderr, "attest: cannot write %s (exists?)\n", c->out);
		if (f)
			fclose(f);
		return 1;
	}
	return fclose(f) == 0 ? 0 : 1;
}

int cmd_attest(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	const char *sub = argv[1];
	struct cli c = { .sim_policy = SNP_POLICY_RESERVED1 | SNP_POLICY_SMT };
	snp_policy_init(&c.pol);
	c.meas = calloc(CLI_MEASUREMENTS_MAX, SNP_MEASUREMENT_LEN);
	if (!c.meas)
		return 1;
	int status = 2;
	int r = parse_opts(argc - 1, argv + 1, &c);
	if (r != 0) {
		status = r > 0 ? 0 : 2;
		goto out;
	}
	int npos = argc - 1 - optind;
	const char *arg = npos == 1 ? argv[1 + optind] : NULL;
	if (!arg) {
		fprintf(stderr, "attest: %s takes one argument\n%s", sub, usage);
		goto out;
	}
	if (strcmp(sub, "verify") == 0) {
		status = do_verify(&c, arg);
	} else if (strcmp(sub, "sim-init") == 0) {
		int err = snp_sim_init(arg);
		if (err)
			fprintf(stderr, "attest: sim-init %s: %s\n", arg, sevmon_strerror(err));
		else
			printf("sim chain written to %s (trust it explicitly: --trust %s/ark.pem)\n", arg, arg);
		status = err ? 1 : 0;
	} else if (strcmp(sub, "sim-report") == 0) {
		status = do_sim_report(&c, arg);
	} else {
		fprintf(stderr, "attest: unknown subcommand %s\n%s", sub, usage);
	}
out:
	free(c.meas);
	return status;
}
