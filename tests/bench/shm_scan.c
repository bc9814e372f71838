/*
 * shm_scan URI banner|ps [--runs N] — `sevmon banner` / `sevmon ps --json` through an
 * ids_conn that may be a shm region (ids_conn_open_shm) or a socket (ids_conn_open), so
 * the e2e test and tests/bench/shm-bench compare transports with the same code. Each run
 * is a whole command: connect, open the kernel (profile from the cache after the first),
 * check, close. The output of the last run goes to stdout, per-run times to stderr.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "ids_conn_shm.h"
#include "ids_kernel.h"

#define SCAN_MAX_PROCS 65536
#define SCAN_MAX_RUNS 1000

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20 || ch >= 0x7f)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

static int one_run(const char *uri, int ps, int print, uint64_t *requests, double *connect_ms)
{
	double t0 = now_ms();
	struct ids_conn conn;
	struct ids_kernel kk;
	char err[256];
	int rc = !strncmp(uri, "shm", 3) ? ids_conn_open_shm(&conn, uri, 10000)
					 : ids_conn_open(&conn, uri, 10000);
	if (rc < 0) {
		fprintf(stderr, "shm_scan: connect %s: %s\n", uri, sevmon_strerror(rc));
		return rc;
	}
	*connect_ms = now_ms() - t0;
	if ((rc = ids_kernel_open(&kk, &conn, err, sizeof err)) < 0) {
		fprintf(stderr, "shm_scan: kernel: %s (%s)\n", sevmon_strerror(rc), err);
		ids_conn_close(&conn);
		return rc;
	}
	if (!ps) {
		char banner[KPROFILE_MAX_BANNER];
		rc = kcheck_banner(&kk.k, banner, sizeof banner);
		if (rc == 0 && print)
			printf("%s%s", banner, strchr(banner, '\n') ? "" : "\n");
	} else {
		static struct kproc procs[SCAN_MAX_PROCS];
		int partial = 0;
		int n = kcheck_ps(&kk.k, procs, SCAN_MAX_PROCS, &partial);
		rc = n < 0 ? n : 0;
		if (n >= 0 && print) {
			printf("{\"processes\":[");
			for (int i = 0; i < n; i++) {
				printf("%s{\"pid\":%" PRId32 ",\"comm\":", i ? "," : "", procs[i].pid);
				json_str(stdout, procs[i].comm);
				printf(",\"kthread\":%s}", procs[i].kthread ? "true" : "false");
			}
			printf("],\"partial\":%s}\n", partial ? "true" : "false");
		}
	}
	struct rpc_client_stats st;
	rpc_client_get_stats(conn.rpc, &st);
	*requests = st.requests;
	ids_kernel_close(&kk);
	ids_conn_close(&conn);
	if (rc < 0)
		fprintf(stderr, "shm_scan: check: %s\n", sevmon_strerror(rc));
	return rc;
}

int main(int argc, char **argv)
{
	static double t[SCAN_MAX_RUNS], tc[SCAN_MAX_RUNS];
	int runs = 1;

	if (argc < 3 || (strcmp(argv[2], "banner") && strcmp(argv[2], "ps"))) {
		fprintf(stderr, "usage: shm_scan URI banner|ps [--runs N]\n");
		return 2;
	}
	if (argc == 5 && !strcmp(argv[3], "--runs"))
		runs = atoi(argv[4]);
	if (runs < 1 || runs > SCAN_MAX_RUNS)
		runs = 1;
	int ps = !strcmp(argv[2], "ps");
	uint64_t req = 0;
	for (int i = 0; i < runs; i++) {
		double t0 = now_ms();
		if (one_run(argv[1], ps, i == runs - 1, &req, &tc[i]) < 0)
			return 1;
		t[i] = now_ms() - t0;
	}
	double sum = 0;
	for (int i = 0; i < runs; i++)
		sum += t[i];
	qsort(t, (size_t)runs, sizeof t[0], cmp_d);
	qsort(tc, (size_t)runs, sizeof tc[0], cmp_d);
	fprintf(stderr, "# %s %s: %d runs, median %.2f ms (connect %.2f), min %.2f ms, mean %.2f ms, %" PRIu64
		" requests per run\n", argv[2], argv[1], runs, t[runs / 2], tc[runs / 2], t[0], sum / runs, req);
	return 0;
}
