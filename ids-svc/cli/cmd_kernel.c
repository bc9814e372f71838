/*
 * sevmon banner | ps | modules | profile URI — a running Linux kernel through an agent.
 * Offsets come from the kernel's BTF, symbols from its kallsyms, the slide from VMCOREINFO
 * (ids_kernel.h); nothing here knows a struct layout.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_conn.h"
#include "err.h"
#include "ids_kernel.h"

/* Most processes / modules one command lists: GMEM_WALK_MAX_NODES bounds the walk anyway. */
#define KLIST_MAX GMEM_WALK_MAX_NODES

enum kcmd { KCMD_BANNER, KCMD_PS, KCMD_MODULES, KCMD_PROFILE };

static const char *const kcmd_usage[] = {
	[KCMD_BANNER] = "usage: sevmon banner URI [--stats] [--probe-kaslr] [--timeout MS]\n"
			"Print the kernel's linux_banner (what /proc/version shows).\n",
	[KCMD_PS] = "usage: sevmon ps URI [--json] [--stats] [--probe-kaslr] [--timeout MS]\n"
		    "List processes by walking init_task's task list: pid, tgid, ppid, uid, name;\n"
		    "kernel threads are marked. 'partial' means the list was torn or looped.\n",
	[KCMD_MODULES] = "usage: sevmon modules URI [--json] [--stats] [--probe-kaslr] [--timeout MS]\n"
			 "List loaded kernel modules (the kernel's modules list).\n",
	[KCMD_PROFILE] = "usage: sevmon profile URI [--probe-kaslr] [--timeout MS]\n"
			 "Show the kernel profile: release, slide, symbol count, the offsets in use.\n"
			 "\n"
			 "Common options of banner/ps/modules/profile:\n"
			 "  --stats        requests and bytes the check cost (stderr)\n"
			 "  --probe-kaslr  ignore VMCOREINFO: find the KASLR slide by probing all 512\n"
			 "                 candidates in one Gather with a cached profile of the same\n"
			 "                 build (for a guest whose VMCOREINFO is missing or not trusted;\n"
			 "                 needs an agent that reads kernel-virtual memory)\n",
};

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20 || ch >= 0x7f)
			printf("\\u%04x", ch);
		else
			putchar(ch);
	}
	putchar('"');
}

static void print_stats(struct ids_conn *c, const struct ids_kernel *kk, uint64_t req0,
			uint64_t bytes0)
{
	struct rpc_client_stats st;
	rpc_client_get_stats(c->rpc, &st);
	fprintf(stderr, "# %" PRIu64 " requests, %" PRIu64 " bytes on the wire (check only; %s; %s)\n",
		st.requests - req0, st.bytes_sent + st.bytes_received - bytes0,
		kk->from_cache ? "profile from cache" : "profile built",
		kk->translated ? "kernel addresses translated by the IDS (physical-only agent)"
		: kk->agent_pt ? "agent walks the guest's page tables (physical-only source)"
			       : "agent reads kernel-virtual memory");
}

static int run_ps(struct ids_kernel *kk, int json)
{
	struct kproc *procs = calloc(KLIST_MAX, sizeof *procs);
	int partial = 0;
	if (!procs)
		return SEVMON_ENOMEM;
	int n = kcheck_ps(&kk->k, procs, KLIST_MAX, &partial);
	if (n < 0) {
		free(procs);
		return n;
	}
	if (json) {
		printf("{\"processes\":[");
		for (int i = 0; i < n; i++) {
			const struct kproc *p = &procs[i];
			printf("%s{\"pid\":%" PRId32 ",\"tgid\":%" PRId32 ",\"ppid\":", i ? "," : "",
			       p->pid, p->tgid);
			if (p->ppid == KPROC_PPID_UNKNOWN)
				printf("null");
			else
				printf("%" PRId32, p->ppid);
			if (p->uid == KPROC_UID_UNKNOWN)
				printf(",\"uid\":null,\"comm\":");
			else
				printf(",\"uid\":%" PRIu32 ",\"comm\":", p->uid);
			json_str(p->comm);
			printf(",\"kthread\":%s,\"exiting\":%s}", p->kthread ? "true" : "false",
			       p->exiting ? "true" : "false");
		}
		printf("],\"partial\":%s}\n", partial ? "true" : "false");
	} else {
		printf("%7s %7s %7s %6s  %s\n", "PID", "TGID", "PPID", "UID", "COMMAND");
		for (int i = 0; i < n; i++) {
			const struct kproc *p = &procs[i];
			char ppid[16] = "?", uid[16] = "?"; /* unknown: a pointer could not be followed */
			if (p->ppid != KPROC_PPID_UNKNOWN)
				snprintf(ppid, sizeof ppid, "%" PRId32, p->ppid);
			if (p->uid != KPROC_UID_UNKNOWN)
				snprintf(uid, sizeof uid, "%" PRIu32, p->uid);
			printf("%7" PRId32 " %7" PRId32 " %7s %6s  %s%s%s%s\n", p->pid, p->tgid, ppid,
			       uid, p->kthread ? "[" : "", p->comm, p->kthread ? "]" : "",
			       p->exiting ? " <exiting>" : "");
		}
		if (partial)
			printf("(partial: the task list did not come back to its head, or a ppid/uid"
			       " is unknown: '?')\n");
	}
	free(procs);
	return partial ? SEVMON_EPARTIAL : 0;
}

static int run_modules(struct ids_kernel *kk, int json)
{
	struct kmod *mods = calloc(KLIST_MAX, sizeof *mods);
	int partial = 0;
	if (!mods)
		return SEVMON_ENOMEM;
	int n = kcheck_modules(&kk->k, mods, KLIST_MAX, &partial);
	if (n < 0) {
		free(mods);
		return n;
	}
	for (int i = 0; i < n; i++) {
		const char *state = kk->k.btf ? ktypes_enum_name(kk->k.btf, "module_state", mods[i].state) : NULL;
		static const char *const fallback[] = { "MODULE_STATE_LIVE", "MODULE_STATE_COMING",
							"MODULE_STATE_GOING", "MODULE_STATE_UNFORMED" };
		if (!state)
			state = mods[i].state >= 0 && mods[i].state < 4 ? fallback[mods[i].state] : "?";
		if (!strncmp(state, "MODULE_STATE_", 13))
			state += 13;
		if (json) {
			printf("%s{\"name\":", i ? "," : "{\"modules\":[");
			json_str(mods[i].name);
			printf(",\"state\":\"%s\",\"addr\":\"0x%" PRIx64 "\"}", state, mods[i].addr);
		} else {
			printf("%-24s %-10s 0x%016" PRIx64 "\n", mods[i].name, state, mods[i].addr);
		}
	}
	if (json)
		printf("%s],\"partial\":%s}\n", n ? "" : "{\"modules\":[", partial ? "true" : "false");
	free(mods);
	return partial ? SEVMON_EPARTIAL : 0;
}

static int cmd_kernel(enum kcmd which, const char *name, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "stats", no_argument, NULL, 's' },
		{ "probe-kaslr", no_argument, NULL, 'P' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		CLI_CONN_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	int json = 0, stats = 0, probe = 0, c;
	uint64_t timeout = CLI_DEFAULT_TIMEOUT_MS;
	struct cli_conn_opts copts = { 0 };
	while ((c = getopt_long(argc, argv, "jsPt:h", opts, NULL)) != -1) {
		int r = cli_conn_opt(&copts, c, optarg);
		if (r < 0)
			return CLI_EUSAGE;
		if (r > 0)
			continue;
		switch (c) {
		case 'j':
			json = 1;
			break;
		case 's':
			stats = 1;
			break;
		case 'P':
			probe = 1;
			break;
		case 't':
			if (cli_parse_u64(optarg, UINT32_MAX, &timeout) == 0)
				break;
			/* fall through */
		default:
			fprintf(stderr, "%s", kcmd_usage[which]);
			return CLI_EUSAGE;
		case 'h':
			printf("%s%s", kcmd_usage[which], cli_conn_usage);
			return CLI_OK;
		}
	}
	if (argc - optind != 1) {
		fprintf(stderr, "%s", kcmd_usage[which]);
		return CLI_EUSAGE;
	}
	const char *uri = argv[optind];
	struct ids_conn conn;
	struct ids_policy pol;
	int rc = cli_connect(name, uri, (int)timeout, &copts, &pol, &conn);
	if (rc != CLI_OK)
		return rc;
	struct ids_kernel kk;
	char err[256];
	rc = probe ? ids_kernel_open_probing(&kk, &conn, err, sizeof err)
		   : ids_kernel_open(&kk, &conn, err, sizeof err);
	if (rc < 0) {
		ids_conn_close(&conn);
		ids_policy_free(&pol);
		cli_error(name, "kernel", rc, err);
		return cli_exit_for_request(rc);
	}
	struct rpc_client_stats st0;
	rpc_client_get_stats(conn.rpc, &st0);
	switch (which) {
	case KCMD_BANNER: {
		char banner[KPROFILE_MAX_BANNER];
		rc = kcheck_banner(&kk.k, banner, sizeof banner);
		if (rc == 0)
			printf("%s%s", banner, strchr(banner, '\n') ? "" : "\n");
		break;
	}
	case KCMD_PS:
		rc = run_ps(&kk, json);
		break;
	case KCMD_MODULES:
		rc = run_modules(&kk, json);
		break;
	case KCMD_PROFILE:
		kprofile_print(&kk.k.p, stdout);
		printf("vmcoreinfo at 0x%" PRIx64 "; %s; %s\n", kk.vmci_phys,
		       kk.from_cache ? "profile from cache" : "profile built from guest memory",
		       kk.translated ? "IDS walks the guest page tables"
		       : kk.agent_pt ? "agent walks the guest page tables from the root the IDS gave"
				     : "agent reads kernel-virtual memory");
		break;
	}
	if (stats)
		print_stats(&conn, &kk, st0.requests, st0.bytes_sent + st0.bytes_received);
	ids_kernel_close(&kk);
	ids_conn_close(&conn);
	ids_policy_free(&pol);
	if (rc == SEVMON_EPARTIAL)
		return CLI_EREMOTE;
	if (rc < 0) {
		cli_error(name, "check", rc, NULL);
		return cli_exit_for_request(rc);
	}
	fflush(stdout);
	return ferror(stdout) ? CLI_ELOCAL : CLI_OK;
}

int cmd_banner(int argc, char **argv)
{
	return cmd_kernel(KCMD_BANNER, "banner", argc, argv);
}

int cmd_ps(int argc, char **argv)
{
	return cmd_kernel(KCMD_PS, "ps", argc, argv);
}

int cmd_modules(int argc, char **argv)
{
	return cmd_kernel(KCMD_MODULES, "modules", argc, argv);
}

int cmd_profile(int argc, char **argv)
{
	return cmd_kernel(KCMD_PROFILE, "profile", argc, argv);
}
