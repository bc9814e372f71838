/*
 * sevmon — the IDS command line. This file is only the table of subcommands.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cli_conn.h"
#include "cmd_attest.h"

#ifndef SEVMON_VERSION
#define SEVMON_VERSION "0"
#endif

struct subcommand {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

static const struct subcommand subcommands[] = {
	{ "info", cmd_info, "what an agent serves: memory source, regions, limits, methods" },
	{ "read", cmd_read, "bytes of guest memory (--phys / --virt ADDR LEN) to stdout" },
	{ "check", cmd_check, "checks on one agent (the default sweep, or NAME...); --help lists them" },
	{ "banner", cmd_banner, "the guest kernel's version banner (linux_banner)" },
	{ "ps", cmd_ps, "the guest's processes, from the kernel's task list (--json)" },
	{ "modules", cmd_modules, "the guest's loaded kernel modules (--json)" },
	{ "bpf", cmd_bpf, "the guest's loaded eBPF programs (--json)" },
	{ "profile", cmd_profile, "the kernel profile: release, KASLR slide, symbols, offsets" },
	{ "scan", cmd_scan, "checks on many agents at once (--targets FILE), JSON lines out" },
	{ "acquire", cmd_acquire, "the guest's physical memory into a LiME / ELF image, sealed" },
	{ "isf", cmd_isf, "a Volatility 3 symbol table of the guest kernel, from its BTF" },
	{ "dump", cmd_dump, "saved images: unseal SEALED --out FILE" },
	{ "bench", cmd_bench, "round-trip latency, Gather and WalkList figures against an agent" },
	{ "ivshmem-server", cmd_ivshmem_server, "one shared-memory region with doorbells (QEMU's ivshmem server protocol)" },
	{ "keygen", cmd_keygen, "make a static key pair for the channel (FILE, FILE.pub)" },
	{ "attest", cmd_attest, "verify an SEV-SNP report (verify), make a test chain (sim-init)" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: sevmon COMMAND [ARGS...]   (sevmon COMMAND --help for details)\n\n");
	for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++)
		fprintf(f, "  %-14s %s\n", subcommands[i].name, subcommands[i].summary);
	fprintf(f,
		"\nAgent URIs: unix:///path, tcp://host:port, vsock://CID:PORT,\n"
		"vsock-hybrid:///path.sock:PORT, fd://N (an inherited connected socket), shared\n"
		"memory: shm:///dev/shm/NAME, shm+ivshmem:///SOCK (a region of sevmon ivshmem-server,\n"
		"woken by doorbells).\n"
		"Kernel commands (check, banner, ps, modules, profile, isf) also take a memory\n"
		"image (LiME, ELF core, raw; sealed or plain) in place of a URI: read offline.\n"
		"\nExit status: 0 success, 1 the agent answered an error, 2 usage, 3 cannot\n"
		"connect, 4 timeout, 5 connection lost or protocol violation, 6 local failure.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return CLI_EUSAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return CLI_OK;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("sevmon %s\n", SEVMON_VERSION);
		return CLI_OK;
	}
	for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++)
		if (!strcmp(argv[1], subcommands[i].name))
			return subcommands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "sevmon: unknown command '%s'\n\n", argv[1]);
	usage(stderr);
	return CLI_EUSAGE;
}
