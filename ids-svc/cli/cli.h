/*
 * cli.h — what the sevmon subcommands share: exit codes, argument parsing, messages.
 */
#ifndef SEVMON_CLI_H
#define SEVMON_CLI_H

#include <stddef.h>
#include <stdint.h>

/* Exit codes of every sevmon subcommand (documented in `sevmon --help`). */
enum cli_exit {
	CLI_OK = 0,
	CLI_EREMOTE = 1,  /* the agent answered with an error */
	CLI_EUSAGE = 2,   /* bad command line */
	CLI_ECONNECT = 3, /* cannot connect (refused, no such socket, bad URI) */
	CLI_ETIMEOUT = 4, /* deadline passed */
	CLI_ELOST = 5,    /* connection lost or protocol violation */
	CLI_ELOCAL = 6,   /* local failure (out of memory, cannot write output) */
};

/* Parse an unsigned number (decimal, 0x hex); 0 on success, -1 if malformed or > max. */
int cli_parse_u64(const char *s, uint64_t max, uint64_t *out);

/* Map an error of the connect step / of a request to the exit code. */
int cli_exit_for_connect(int err);
int cli_exit_for_request(int err);

/* Print "sevmon CMD: what: reason" to stderr. */
void cli_error(const char *cmd, const char *what, int err, const char *detail);

/* Hex dump in the classic 16-bytes-per-line layout, addresses starting at base. */
void cli_hexdump(uint64_t base, const uint8_t *p, size_t n);

int cmd_info(int argc, char **argv);
int cmd_read(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_bench_kernel(int argc, char **argv);
int cmd_banner(int argc, char **argv);
int cmd_ps(int argc, char **argv);
int cmd_modules(int argc, char **argv);
int cmd_bpf(int argc, char **argv);
int cmd_profile(int argc, char **argv);
int cmd_scan(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_acquire(int argc, char **argv);
int cmd_dump(int argc, char **argv);
int cmd_isf(int argc, char **argv);
int cmd_ivshmem_server(int argc, char **argv);

#endif
