/* sevmon info URI — what an agent serves and within which limits. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "err.h"
#include "cli_conn.h"
#include "ids_conn.h"
#include "sevmon.sevrpc-client.h"

static const char info_usage[] =
	"usage: sevmon info URI [channel options]\n"
	"Print the agent's version, memory source, physical regions and limits.\n";

struct info_wait {
	int done, status;
	char err[256];
};

static void on_info(void *user, int status, const char *errmsg, Sevmon__V1__GetInfoResponse *r)
{
	struct info_wait *w = user;
	w->done = 1;
	w->status = status;
	if (status) {
		snprintf(w->err, sizeof w->err, "%s", errmsg ? errmsg : "");
		return;
	}
	printf("agent:            %s\n", r->agent_version);
	printf("protocol:         %" PRIu32 "\n", r->protocol_version);
	printf("memory source:    %s\n", r->memory_source);
	printf("kernel virtual:   %s\n", r->virt_supported ? "yes" : "no");
	printf("limits:           read %" PRIu32 " B, gather %" PRIu32 " ranges / %" PRIu32
	       " B, walk %" PRIu32 " nodes\n",
	       r->max_read, r->max_ranges, r->max_gather_bytes, r->max_walk_nodes);
	printf("methods:         ");
	for (size_t i = 0; i < r->n_methods; i++) {
		const char *name = sevmon_agent_method_name((uint16_t)r->methods[i]);
		printf(" %s(%" PRIu32 ")", name ? name : "?", r->methods[i]);
	}
	printf("\n");
	if (r->vmcoreinfo_phys)
		printf("vmcoreinfo:       0x%" PRIx64 " (%" PRIu32 " bytes)\n", r->vmcoreinfo_phys,
		       r->vmcoreinfo_size);
	printf("physical regions: %zu\n", r->n_phys_regions);
	for (size_t i = 0; i < r->n_phys_regions; i++)
		printf("  0x%016" PRIx64 "-0x%016" PRIx64 " (%" PRIu64 " MiB)\n",
		       r->phys_regions[i]->start, r->phys_regions[i]->start + r->phys_regions[i]->size,
		       r->phys_regions[i]->size >> 20);
}

int cmd_info(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		CLI_CONN_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	struct cli_conn_opts copts;
	cli_conn_opts_init(&copts);
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		int r = cli_conn_opt(&copts, c, optarg);
		if (r < 0)
			return CLI_EUSAGE;
		if (r > 0)
			continue;
		if (c == 'h') {
			printf("%s%s", info_usage, cli_conn_usage);
			return CLI_OK;
		}
		fprintf(stderr, "%s", info_usage);
		return CLI_EUSAGE;
	}
	if (argc - optind != 1) {
		fprintf(stderr, "%s", info_usage);
		return CLI_EUSAGE;
	}
	const char *uri = argv[optind];
	struct ids_conn conn;
	struct ids_policy pol;
	int rc = cli_connect("info", uri, &copts, &pol, &conn);
	if (rc != CLI_OK)
		return rc;
	struct info_wait w = { 0 };
	Sevmon__V1__GetInfoRequest req = SEVMON__V1__GET_INFO_REQUEST__INIT;
	rc = sevmon_agent_get_info(conn.rpc, &req, conn.request_timeout_ms, on_info, &w);
	if (rc == 0)
		rc = ids_conn_wait(&conn, &w.done);
	if (rc == 0)
		rc = w.status;
	ids_conn_close(&conn);
	ids_policy_free(&pol);
	if (rc < 0) {
		cli_error("info", "GetInfo", rc, w.err);
		return cli_exit_for_request(rc);
	}
	return CLI_OK;
}
