/*
 * sevmon read URI --phys|--virt ADDR LEN [--hex] — bytes of guest memory to stdout.
 * A range larger than one agent read is split into pipelined requests (a window of
 * READ_WINDOW in flight) and written in order; any failing piece fails the command.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "err.h"
#include "cli_conn.h"
#include "ids_conn.h"
#include "sevmon.sevrpc-client.h"

static const char read_usage[] =
	"usage: sevmon read URI (--phys | --virt) ADDR LEN [--hex] [channel options]\n"
	"Write LEN bytes of guest memory at ADDR to stdout: --phys for a guest-physical\n"
	"address, --virt for a kernel-virtual one. --hex prints a hex dump instead of raw\n"
	"bytes. ADDR and LEN take decimal or 0x-hex. Nothing is written unless every byte of\n"
	"the range could be read.\n";

/* One agent read: the agent's limit (GetInfo max_read) is 1 MiB. */
#define READ_CHUNK (1u << 20)
/* Requests in flight at once: enough to hide round trips, little enough to bound memory. */
#define READ_WINDOW 8u
/* Largest range one command reads: it is held in memory before anything is written. */
#define READ_MAX_LEN (1ull << 30)

struct read_job {
	struct ids_conn *conn;
	int virt;
	uint64_t addr, len;
	uint8_t *buf;
	uint64_t next_off; /* next byte to request */
	unsigned in_flight;
	uint64_t done_bytes;
	int status, done;
	uint32_t timeout;
	char err[256];
};

struct read_piece {
	struct read_job *job;
	uint64_t off;
	uint32_t len;
};

static void issue_more(struct read_job *j);

static void on_piece(void *user, int status, const char *errmsg, Sevmon__V1__ReadResponse *r)
{
	struct read_piece *p = user;
	struct read_job *j = p->job;
	j->in_flight--;
	if (status == 0 && r->data.len != p->len)
		status = SEVMON_EPROTO; /* an agent must answer all bytes or an error */
	if (status == 0) {
		memcpy(j->buf + p->off, r->data.data, p->len);
		j->done_bytes += p->len;
	} else if (j->status == 0) {
		j->status = status;
		snprintf(j->err, sizeof j->err, "at 0x%" PRIx64 ": %s", j->addr + p->off,
			 errmsg && *errmsg ? errmsg : sevmon_strerror(status));
	}
	free(p);
	issue_more(j);
}

static void issue_more(struct read_job *j)
{
	while (j->status == 0 && j->in_flight < READ_WINDOW && j->next_off < j->len) {
		struct read_piece *p = malloc(sizeof *p);
		if (!p) {
			j->status = SEVMON_ENOMEM;
			break;
		}
		p->job = j;
		p->off = j->next_off;
		p->len = (uint32_t)(j->len - j->next_off < READ_CHUNK ? j->len - j->next_off : READ_CHUNK);
		int rc;
		if (j->virt) {
			Sevmon__V1__ReadVirtRequest req = SEVMON__V1__READ_VIRT_REQUEST__INIT;
			req.addr = j->addr + p->off;
			req.len = p->len;
			rc = sevmon_agent_read_virt(j->conn->rpc, &req, j->timeout, on_piece, p);
		} else {
			Sevmon__V1__ReadPhysRequest req = SEVMON__V1__READ_PHYS_REQUEST__INIT;
			req.addr = j->addr + p->off;
			req.len = p->len;
			rc = sevmon_agent_read_phys(j->conn->rpc, &req, j->timeout, on_piece, p);
		}
		if (rc < 0) {
			free(p);
			j->status = rc;
			break;
		}
		j->in_flight++;
		j->next_off += p->len;
	}
	if (j->in_flight == 0 && (j->status != 0 || j->next_off >= j->len))
		j->done = 1;
}

int cmd_read(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "phys", no_argument, NULL, 'p' },
		{ "virt", no_argument, NULL, 'v' },
		{ "hex", no_argument, NULL, 'x' },
		{ "help", no_argument, NULL, 'h' },
		CLI_CONN_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	int space = -1, hex = 0, c;
	struct cli_conn_opts copts;
	cli_conn_opts_init(&copts);
	while ((c = getopt_long(argc, argv, "pvxh", opts, NULL)) != -1) {
		int r = cli_conn_opt(&copts, c, optarg);
		if (r < 0)
			return CLI_EUSAGE;
		if (r > 0)
			continue;
		switch (c) {
		case 'p':
		case 'v':
			if (space >= 0) {
				fprintf(stderr, "sevmon read: give one of --phys, --virt\n");
				return CLI_EUSAGE;
			}
			space = c == 'v';
			break;
		case 'x':
			hex = 1;
			break;
		default:
			fprintf(stderr, "%s", read_usage);
			return CLI_EUSAGE;
		case 'h':
			printf("%s%s", read_usage, cli_conn_usage);
			return CLI_OK;
		}
	}
	uint64_t addr, len;
	if (space < 0 || argc - optind != 3 || cli_parse_u64(argv[optind + 1], UINT64_MAX, &addr) ||
	    cli_parse_u64(argv[optind + 2], READ_MAX_LEN, &len) || len == 0) {
		fprintf(stderr, "%s", read_usage);
		return CLI_EUSAGE;
	}
	if (addr + len < addr) {
		fprintf(stderr, "sevmon read: the range wraps past the end of the address space\n");
		return CLI_EUSAGE;
	}
	const char *uri = argv[optind];
	struct read_job j = { .virt = space, .addr = addr, .len = len,
			     .timeout = copts.request_timeout_ms };
	j.buf = malloc(len);
	if (!j.buf) {
		cli_error("read", "buffer", SEVMON_ENOMEM, NULL);
		return CLI_ELOCAL;
	}
	struct ids_conn conn;
	struct ids_policy pol;
	int rc = cli_connect("read", uri, &copts, &pol, &conn);
	if (rc != CLI_OK) {
		free(j.buf);
		return rc;
	}
	j.conn = &conn;
	issue_more(&j);
	rc = ids_conn_wait(&conn, &j.done);
	ids_conn_close(&conn);
	ids_policy_free(&pol);
	if (rc == 0)
		rc = j.status;
	if (rc < 0) {
		cli_error("read", space ? "ReadVirt" : "ReadPhys", rc, j.err);
		free(j.buf);
		return cli_exit_for_request(rc);
	}
	int out_rc = CLI_OK;
	if (hex)
		cli_hexdump(addr, j.buf, len);
	else if (fwrite(j.buf, 1, len, stdout) != len)
		out_rc = CLI_ELOCAL;
	if (fflush(stdout) != 0)
		out_rc = CLI_ELOCAL;
	free(j.buf);
	return out_rc;
}
