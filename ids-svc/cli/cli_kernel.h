/*
 * cli_kernel.h — the guest a kernel command reads, opened one way for all of them (check,
 * banner, ps, modules, profile, isf): an agent URI (a channel, cli_conn.h) or a memory
 * image read in-process (cli_image_spec), and its kernel when the command needs one.
 */
#ifndef SEVMON_CLI_KERNEL_H
#define SEVMON_CLI_KERNEL_H

#include "cli_conn.h"
#include "ids_kernel.h"

struct cli_kernel {
	int image;             /* a memory image: no channel, no evidence */
	struct ids_conn *conn; /* NULL for an image */
	struct ids_policy *pol; /* NULL for an image */
	struct ids_kernel *kk; /* NULL unless the kernel was asked for */
	struct ids_conn conn_s;
	struct ids_policy pol_s;
	char spec[4200];
};

/* Open what arg names (a URI or an image), and with need_kernel its kernel (probe: find
 * KASLR by probing, agents only). Prints "sevmon CMD: ..." on failure and returns an exit
 * code with nothing open, or CLI_OK. */
int cli_kernel_open(const char *cmd, const char *arg, struct cli_conn_opts *o, int need_kernel,
		    int probe, struct cli_kernel *t);
/* The exit code for an error of a request on t (an image's errors are its reading's). */
int cli_kernel_exit(const struct cli_kernel *t, int err);
void cli_kernel_close(struct cli_kernel *t);

#endif
