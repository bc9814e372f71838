#include "cli_kernel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "err.h"

int cli_kernel_exit(const struct cli_kernel *t, int err)
{
	if (!t->image)
		return cli_exit_for_request(err);
	return err == SEVMON_ENOMEM ? CLI_ELOCAL : CLI_EREMOTE;
}

int cli_kernel_open(const char *cmd, const char *arg, struct cli_conn_opts *o, int need_kernel,
		    int probe, struct cli_kernel *t)
{
	memset(t, 0, sizeof *t);
	int image = cli_image_spec(cmd, arg, o, t->spec, sizeof t->spec);
	if (image != 0 && image != 1)
		return CLI_EUSAGE;
	t->image = image;
	if (image && probe) {
		fprintf(stderr, "sevmon %s: --probe-kaslr needs an agent that reads kernel-virtual "
				"memory, not a memory image\n", cmd);
		return CLI_EUSAGE;
	}
	if (!image) {
		int ex = cli_connect(cmd, arg, o, &t->pol_s, &t->conn_s);
		if (ex != CLI_OK)
			return ex;
		t->conn = &t->conn_s;
		t->pol = &t->pol_s;
	}
	if (!need_kernel)
		return CLI_OK;
	char err[256] = "";
	int rc = (t->kk = calloc(1, sizeof *t->kk)) ? 0 : SEVMON_ENOMEM;
	if (rc == 0)
		rc = image   ? ids_kernel_open_dump(t->kk, t->spec, err, sizeof err)
		     : probe ? ids_kernel_open_probing(t->kk, t->conn, err, sizeof err)
			     : ids_kernel_open(t->kk, t->conn, err, sizeof err);
	if (rc < 0) {
		free(t->kk);
		t->kk = NULL;
		cli_error(cmd, image ? arg : "kernel", rc, err);
		int ex = cli_kernel_exit(t, rc);
		cli_kernel_close(t);
		return ex;
	}
	return CLI_OK;
}

void cli_kernel_close(struct cli_kernel *t)
{
	if (t->kk) {
		ids_kernel_close(t->kk);
		free(t->kk);
		t->kk = NULL;
	}
	if (t->conn) {
		ids_conn_close(t->conn);
		ids_policy_free(t->pol);
		t->conn = NULL;
		t->pol = NULL;
	}
}
