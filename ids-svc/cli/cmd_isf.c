/*
 * sevmon isf URI|IMAGE --out FILE.json.xz — a Volatility 3 symbol table of the guest's
 * kernel from its own BTF and kallsyms (forensics/isf.h), so that `vol -s DIR -f IMAGE
 * linux.pslist` works on a kernel without a debug package.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cli_conn.h"
#include "cli_kernel.h"
#include "clock.h"
#include "err.h"
#include "isf.h"
#include "xzfile.h"

#ifndef SEVMON_VERSION
#define SEVMON_VERSION "0"
#endif

/* XZ preset: 2 compresses a 6.1 table (~60 MB of JSON) about as well as 6 does for
 * symbol tables, in a fraction of the time (docs/benchmarks.md). */
#define ISF_XZ_PRESET 2

static const char isf_usage[] =
	"usage: sevmon isf URI|IMAGE --out FILE.json.xz [--key FILE] [channel options]\n"
	"Write a Volatility 3 symbol table (ISF 6.2.0) of the guest's kernel, made from the\n"
	"kernel's own BTF (types) and kallsyms (symbols), with the banner Volatility matches\n"
	"images on: `vol -s DIR -f IMAGE linux.pslist` with FILE in DIR/linux/. FILE ending in\n"
	".xz is XZ-compressed, anything else is plain JSON. IMAGE is a memory image (LiME,\n"
	"ELF core or raw; sealed ones open with --key or $SEVMON_KEY).\n";

int cmd_isf(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		CLI_CONN_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	struct cli_conn_opts copts;
	cli_conn_opts_init(&copts);
	const char *out = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		int r = cli_conn_opt(&copts, c, optarg);
		if (r < 0)
			return CLI_EUSAGE;
		if (r > 0)
			continue;
		if (c == 'o') {
			out = optarg;
		} else if (c == 'h') {
			printf("%s%s", isf_usage, cli_conn_usage);
			return CLI_OK;
		} else {
			fprintf(stderr, "%s", isf_usage);
			return CLI_EUSAGE;
		}
	}
	if (argc - optind != 1 || !out) {
		fprintf(stderr, "%s", isf_usage);
		return CLI_EUSAGE;
	}
	size_t ol = strlen(out);
	int xz = ol > 3 && !strcmp(out + ol - 3, ".xz");
	struct cli_kernel t;
	int64_t t0 = clock_mono_ms();
	int ex = cli_kernel_open("isf", argv[optind], &copts, 1, 0, &t);
	if (ex != CLI_OK)
		return ex;
	char err[256] = "";
	struct xzfile *f = NULL;
	struct isf_stats st;
	uint64_t bytes = 0;
	int rc = kintro_load_tables(&t.kk->k);
	if (rc < 0)
		snprintf(err, sizeof err, "reading the kernel's kallsyms and BTF: %s", sevmon_strerror(rc));
	if (rc == 0 && (rc = xzfile_open(out, xz ? ISF_XZ_PRESET : 0, &f)) < 0) {
		cli_error("isf", out, rc, rc == SEVMON_EEXIST ? "exists" : NULL);
		cli_kernel_close(&t);
		return rc == SEVMON_EEXIST ? CLI_EUSAGE : CLI_ELOCAL;
	}
	if (rc == 0) {
		struct isf_opts io = { .producer_version = SEVMON_VERSION, .now_ms = clock_real_ms() };
		rc = isf_write(&t.kk->k, &io, xzfile_write, f, &st, err, sizeof err);
	}
	if (rc == 0 && t.kk->offline && t.kk->dump.altered) {
		snprintf(err, sizeof err, "the sealed image was altered: %llu reads did not authenticate",
			 (unsigned long long)t.kk->dump.altered);
		rc = SEVMON_EDECODE;
	}
	if (rc == 0) {
		rc = xzfile_close(f, &bytes);
		f = NULL;
		if (rc < 0)
			snprintf(err, sizeof err, "writing %s: %s", out, sevmon_strerror(rc));
	}
	xzfile_abort(f);
	if (rc < 0) {
		cli_error("isf", argv[optind], rc, err);
		ex = rc == SEVMON_EIO ? CLI_ELOCAL : cli_kernel_exit(&t, rc);
		cli_kernel_close(&t);
		return ex;
	}
	fprintf(stderr, "sevmon isf: %s: Linux %s: %zu base types, %zu structs and unions, %zu enums, "
			"%zu symbols (%zu typed); %" PRIu64 " bytes of JSON, %" PRIu64 " on disk, "
			"%.1f s\n", out, t.kk->k.p.release, st.base_types, st.user_types, st.enums,
		st.symbols, st.typed_symbols, st.json_bytes, bytes,
		(double)(clock_mono_ms() - t0) / 1000.0);
	if (st.truncated)
		fprintf(stderr, "sevmon isf: %zu type chains were deeper than %d or looped: written as "
				"void\n", st.truncated, ISF_MAX_DEPTH);
	cli_kernel_close(&t);
	return CLI_OK;
}
