/*
 * sevmon check URI [NAME...] — checks of the check registry (ids-svc/checks/check.h) on
 * one agent; and the single-check commands built on it: banner, ps, modules (one row
 * each, printed as its table or, with --json, as its payload), and profile.
 * Offsets come from the kernel's BTF, symbols from its kallsyms, the slide from
 * VMCOREINFO (ids_kernel.h); nothing here knows a struct layout or a check by name.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cli.h"
#include "cli_conn.h"
#include "cli_kernel.h"
#include "cli_result.h"
#include "clock.h"
#include "err.h"
#include "ids_kernel.h"

enum kcmd { KCMD_CHECK, KCMD_ONE, KCMD_PROFILE };

static const char check_usage[] =
	"usage: sevmon check URI|IMAGE [NAME...] [--json] [--stats] [--probe-kaslr] [--baseline FILE]\n"
	"       [channel options]\n"
	"Run checks on one agent, or on a memory image read here (offline: LiME, ELF core or\n"
	"raw, plain or sealed to --key): the named ones, or the default sweep. Each prints its\n"
	"table (or, with --json, one JSON line: {\"check\",\"ok\",\"result\",\"findings\",\"ms\",\n"
	"\"requests\",\"bytes\"}) and the findings it raised. Checks:\n";
static const char check_usage_tail[] =
	"--baseline FILE: the text check's baseline (default: the profile cache's, by BUILD-ID;\n"
	"the first scan of a build records it there).\n"
	"Exit status: 0 every check ran and none raised a high finding; 1 a check failed,\n"
	"was partial or raised a high finding; 2 usage; 3 cannot connect; 4 timeout;\n"
	"5 connection lost; 6 local failure.\n";
static const char common_usage[] =
	"Options of check/banner/ps/modules/profile:\n"
	"  --json         the result as JSON (the payload the store and the REST API keep)\n"
	"  --stats        requests and bytes the checks cost (stderr)\n"
	"  --probe-kaslr  ignore VMCOREINFO: find the KASLR slide by probing all 512\n"
	"                 candidates in one Gather with a cached profile of the same\n"
	"                 build (for a guest whose VMCOREINFO is missing or not trusted;\n"
	"                 needs an agent that reads kernel-virtual memory)\n"
	"IMAGE: an argument without :// is a memory image (a path, or image:PATH,\n"
	"ramfile:PATH); a sealed one opens with --key or $SEVMON_KEY; attest needs a channel.\n";

static void usage(FILE *f, enum kcmd which, const struct check_def *one, int full)
{
	switch (which) {
	case KCMD_CHECK:
		fputs(check_usage, f);
		check_print_help(f, 2);
		if (full)
			fputs(check_usage_tail, f);
		break;
	case KCMD_ONE:
		fprintf(f, "usage: sevmon %s URI|IMAGE [--json] [--stats] [--probe-kaslr] [channel options]\n"
			   "Print %s (IMAGE: a memory image read here, offline).\n", one->name,
			one->summary);
		if (full)
			fprintf(f, "Exit status 1 when the result is partial (the list was torn or "
				   "looped).\n");
		break;
	case KCMD_PROFILE:
		fprintf(f, "usage: sevmon profile URI|IMAGE [--probe-kaslr] [channel options]\n"
			   "Show the kernel profile: release, slide, symbol count, the offsets in use.\n");
		break;
	}
	if (full)
		fprintf(f, "%s%s", common_usage, cli_conn_usage);
}

struct kopts {
	int json, stats, probe;
	const char *baseline;
	int named; /* check names were given */
	struct cli_conn_opts conn;
	const char *uri;
	check_set set;
};

/* The command line: URI first (after options), then check names (check only). */
static int parse(enum kcmd which, const struct check_def *one, int argc, char **argv,
		 struct kopts *o)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "stats", no_argument, NULL, 's' },
		{ "probe-kaslr", no_argument, NULL, 'P' },
		{ "baseline", required_argument, NULL, 'B' },
		{ "help", no_argument, NULL, 'h' },
		CLI_CONN_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	int c;
	memset(o, 0, sizeof *o);
	cli_conn_opts_init(&o->conn);
	while ((c = getopt_long(argc, argv, "jsPB:h", opts, NULL)) != -1) {
		int r = cli_conn_opt(&o->conn, c, optarg);
		if (r < 0)
			return CLI_EUSAGE;
		if (r > 0)
			continue;
		switch (c) {
		case 'j':
			o->json = 1;
			break;
		case 's':
			o->stats = 1;
			break;
		case 'P':
			o->probe = 1;
			break;
		case 'B':
			o->baseline = optarg;
			break;
		case 'h':
			usage(stdout, which, one, 1);
			return -1;
		default:
			usage(stderr, which, one, 0);
			return CLI_EUSAGE;
		}
	}
	int nargs = argc - optind;
	if (nargs < 1 || (which != KCMD_CHECK && nargs != 1)) {
		usage(stderr, which, one, 0);
		return CLI_EUSAGE;
	}
	o->uri = argv[optind];
	if (which == KCMD_ONE) {
		o->set = 1ull << check_index(one->name);
	} else if (which == KCMD_CHECK && nargs == 1) {
		o->set = check_default_set();
	} else if (which == KCMD_CHECK) {
		o->named = 1;
		for (int i = optind + 1; i < argc; i++) {
			int k = check_index(argv[i]);
			if (k < 0) {
				fprintf(stderr, "sevmon check: unknown check '%s'; the checks are:\n",
					argv[i]);
				check_print_help(stderr, 2);
				return CLI_EUSAGE;
			}
			o->set |= 1ull << k;
		}
	}
	return CLI_OK;
}

/* Requests and bytes so far: on the wire to an agent; offline, the calls into the image
 * and the bytes they asked for. */
static void wire(struct ids_conn *c, const struct ids_kernel *kk, uint64_t *req, uint64_t *bytes)
{
	struct rpc_client_stats st;
	if (!c) {
		*req = kk ? kk->mem->trips : 0;
		*bytes = kk ? kk->mem->bytes : 0;
		return;
	}
	rpc_client_get_stats(c->rpc, &st);
	*req = st.requests;
	*bytes = st.bytes_sent + st.bytes_received;
}

static const char *how(const struct ids_kernel *kk)
{
	return kk->offline      ? "read in-process from the memory image, addresses translated by the IDS"
	       : kk->translated ? "kernel addresses translated by the IDS (physical-only agent)"
	       : kk->agent_pt ? "agent walks the guest's page tables (physical-only source)"
			      : "agent reads kernel-virtual memory";
}

/* Print the findings of one check, most severe first as raised. */
static void print_findings(const struct check_findings *f, FILE *out)
{
	for (size_t i = 0; i < f->n; i++)
		fprintf(out, "  %-6s %s %s\n", store_severity_name(f->v[i].severity), f->v[i].kind,
			f->v[i].subject);
	if (f->dropped)
		fprintf(out, "  (%zu more findings not shown)\n", f->dropped);
}

/* Run one check on the open kernel; print it the way the command wants. Returns 0, 1
 * (ran, but partial or a high finding), or a negative SEVMON_E* (did not run). */
static int run_one(enum kcmd which, const struct kopts *o, const struct check_def *c,
		   struct ids_conn *conn, struct ids_kernel *kk, struct ids_policy *pol,
		   struct kview *kv)
{
	struct check_env env = { .k = kk ? &kk->k : NULL, .evidence = pol ? &pol->peer.last : NULL,
				 .kv = kv };
	uint64_t r0, b0, r1, b1;
	char err[256] = "";
	wire(conn, kk, &r0, &b0);
	int64_t t0 = clock_mono_ns();
	void *res = calloc(1, c->result_size);
	struct check_findings f = { 0 };
	int rc = res ? 0 : SEVMON_ENOMEM;
	if (rc == 0 && (c->needs & CHECK_NEEDS_EVIDENCE) && !env.evidence) {
		snprintf(err, sizeof err, "%s: needs the evidence of a live agent's channel; a memory "
			 "image has none (its manifest keeps what the agent attested)", c->name);
		rc = SEVMON_ENOTSUP;
	}
	if (rc == 0 && (c->needs & CHECK_NEEDS_KERNEL))
		rc = check_ready(c, &kk->k.p, err, sizeof err);
	if (rc == 0 && (rc = check_run(c, &env, res)) < 0)
		snprintf(err, sizeof err, "%s: %s", c->name, sevmon_strerror(rc));
	if (rc == 0 && kk && kk->offline && kk->dump.altered) {
		snprintf(err, sizeof err, "%s: the sealed image was altered: %llu reads did not "
			 "authenticate", c->name, (unsigned long long)kk->dump.altered);
		rc = SEVMON_EDECODE;
	}
	if (rc == 0 && c->findings && (rc = c->findings(res, &f)) < 0)
		snprintf(err, sizeof err, "%s: findings: %s", c->name, sevmon_strerror(rc));
	double ms = (double)(clock_mono_ns() - t0) / 1e6;
	wire(conn, kk, &r1, &b1);
	char *payload = NULL;
	if (rc == 0 && (o->json || which == KCMD_CHECK)) {
		struct jw w;
		jw_init(&w, CHECK_PAYLOAD_MAX);
		c->encode(res, &w);
		if ((rc = jw_finish(&w, &payload, NULL)) < 0)
			snprintf(err, sizeof err, "%s: encoding: %s", c->name, sevmon_strerror(rc));
	}
	int partial = rc == 0 && ((const struct check_result *)res)->partial;
	int high = 0;
	for (size_t i = 0; i < f.n; i++)
		high |= f.v[i].severity == STORE_SEV_HIGH;
	if (which == KCMD_ONE) {
		if (rc == 0 && o->json)
			printf("%s\n", payload);
		else if (rc == 0)
			c->print(res, stdout);
	} else if (o->json) {
		struct cli_result line = { .check = c->name, .ok = rc == 0, .error = err,
					   .payload = payload, .findings = &f, .ms = ms,
					   .requests = r1 - r0, .bytes = b1 - b0 };
		char *text = cli_result_json(&line);
		if (text)
			fputs(text, stdout);
		else
			rc = SEVMON_ENOMEM;
		free(text);
	} else {
		printf("== %s (%.1f ms, %" PRIu64 " requests, %" PRIu64 " bytes)\n", c->name, ms,
		       r1 - r0, b1 - b0);
		if (rc == 0) {
			c->print(res, stdout);
			if (f.n || f.dropped) {
				printf("findings:\n");
				print_findings(&f, stdout);
			} else {
				printf("findings: none\n");
			}
		} else {
			printf("error: %s\n", err);
		}
	}
	if (o->stats)
		fprintf(stderr, "# %" PRIu64 " %s, %" PRIu64 " bytes %s (check %s only; %s; %s)\n",
			r1 - r0, conn ? "requests" : "reads", b1 - b0,
			conn ? "on the wire" : "from the image", c->name,
			kk ? (kk->from_cache ? "profile from cache" : "profile built") : "no profile",
			kk ? how(kk) : "evidence of the handshake");
	if (rc < 0 && which == KCMD_ONE)
		cli_error(c->name, "check", rc, err);
	check_findings_free(&f);
	free(payload);
	if (res && c->release)
		c->release(res);
	free(res);
	if (rc < 0)
		return rc;
	return partial || high;
}

static int cmd_kernel(enum kcmd which, const struct check_def *one, const char *name, int argc,
		      char **argv)
{
	struct kopts o;
	int ex = parse(which, one, argc, argv, &o);
	if (ex != CLI_OK)
		return ex < 0 ? CLI_OK : ex;
	int image = cli_is_image(o.uri);
	if (image && which == KCMD_CHECK && o.named == 0)
		o.set &= ~check_set_with(CHECK_NEEDS_EVIDENCE); /* the sweep of what an image holds */
	int need_kernel = which == KCMD_PROFILE || check_set_needs(o.set, CHECK_NEEDS_KERNEL);
	struct cli_kernel t;
	if ((ex = cli_kernel_open(name, o.uri, &o.conn, need_kernel, o.probe, &t)) != CLI_OK)
		return ex;
	struct ids_conn *conn = t.conn;
	struct ids_kernel *kk = t.kk;
	int rc;
	int worst = 0; /* 1: a check failed, was partial or raised a high finding */
	int fatal = 0; /* the first error that says the connection is unusable */
	if (which == KCMD_PROFILE) {
		kprofile_print(&kk->k.p, stdout);
		printf("vmcoreinfo at 0x%" PRIx64 "; %s; %s\n", kk->vmci_phys,
		       kk->from_cache ? "profile from cache" : "profile built from guest memory",
		       kk->offline      ? "memory image read in-process, IDS walks its page tables"
		       : kk->translated ? "IDS walks the guest page tables"
		       : kk->agent_pt ? "agent walks the guest page tables from the root the IDS gave"
				      : "agent reads kernel-virtual memory");
	}
	/* one sweep: the checks that compare kernel views read them together */
	struct check_env sweep = { .k = kk ? &kk->k : NULL, .baseline = o.baseline };
	uint64_t r0 = 0, b0 = 0, r1, b1, rt0 = kk ? kk->mem->rounds : 0;
	int64_t t0 = clock_mono_ns();
	wire(conn, kk, &r0, &b0);
	if (which != KCMD_PROFILE && check_sweep_begin(&sweep, o.set) < 0) {
		cli_kernel_close(&t);
		cli_error(name, "check", SEVMON_ENOMEM, NULL);
		return CLI_ELOCAL;
	}
	for (size_t i = 0; which != KCMD_PROFILE && i < check_count() && !fatal; i++) {
		if (!(o.set & (1ull << i)))
			continue;
		rc = run_one(which, &o, check_at(i), conn, kk, t.pol, sweep.kv);
		if (rc > 0)
			worst = 1;
		if (rc < 0) {
			worst = 1;
			/* a dead connection fails every check after it: stop with its code */
			if ((conn && conn->lost) || which == KCMD_ONE)
				fatal = conn && conn->lost ? conn->lost : rc;
		}
	}
	wire(conn, kk, &r1, &b1);
	if (o.stats && which == KCMD_CHECK)
		fprintf(stderr, "# sweep: %" PRIu64 " round trips, %" PRIu64 " %s, %" PRIu64 " bytes, "
			"%.1f ms\n", kk ? kk->mem->rounds - rt0 : 0, r1 - r0, conn ? "requests" : "reads",
			b1 - b0, (double)(clock_mono_ns() - t0) / 1e6);
	check_sweep_end(&sweep);
	int lost = conn ? conn->lost : 0;
	int exf = fatal ? cli_kernel_exit(&t, fatal) : 0;
	cli_kernel_close(&t);
	if (fatal) {
		if (which != KCMD_ONE)
			cli_error(name, "check", fatal, lost ? "connection lost" : NULL);
		return exf;
	}
	if (fflush(stdout) != 0 || ferror(stdout))
		return CLI_ELOCAL;
	return worst ? CLI_EREMOTE : CLI_OK;
}

int cmd_check(int argc, char **argv)
{
	return cmd_kernel(KCMD_CHECK, NULL, "check", argc, argv);
}

int cmd_banner(int argc, char **argv)
{
	return cmd_kernel(KCMD_ONE, check_find("banner"), "banner", argc, argv);
}

int cmd_ps(int argc, char **argv)
{
	return cmd_kernel(KCMD_ONE, check_find("ps"), "ps", argc, argv);
}

int cmd_modules(int argc, char **argv)
{
	return cmd_kernel(KCMD_ONE, check_find("modules"), "modules", argc, argv);
}

int cmd_bpf(int argc, char **argv)
{
	return cmd_kernel(KCMD_ONE, check_find("bpf"), "bpf", argc, argv);
}

int cmd_profile(int argc, char **argv)
{
	return cmd_kernel(KCMD_PROFILE, NULL, "profile", argc, argv);
}
