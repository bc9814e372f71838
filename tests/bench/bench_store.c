/*
 * bench_store.c — how many results per second the store commits, each in its own
 * transaction (the way sevmond adds them), on a file database in WAL mode.
 * Usage: bench_store [dir [count]]   (dir defaults to /tmp; the files are removed after)
 * Figures: a small payload of a check the store does not diff, and ps payloads of 150 and
 * 500 processes, each diffed against the one before (6 processes differ each time); a ps
 * result also begins and finishes its own scan (with retention), as a scan of one target.
 * Last, a fleet scan: 1,000 targets with banner, ps and modules each, twice.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "store.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A ps payload of n processes; `shift` changes a few of them between rounds. */
static char *ps_payload(int n, int shift)
{
	size_t cap = 128 + (size_t)n * 100;
	char *p = malloc(cap);
	if (!p)
		exit(1);
	size_t w = (size_t)snprintf(p, cap, "{\"processes\":[");
	for (int i = 0; i < n; i++) {
		int pid = i < n - 3 ? i + 1 : i + 1 + shift;
		w += (size_t)snprintf(p + w, cap - w,
				      "%s{\"pid\":%d,\"tgid\":%d,\"ppid\":1,\"uid\":%d,\"comm\":"
				      "\"proc%d\",\"kthread\":%s}",
				      i ? "," : "", pid, pid, i % 3 ? 1000 : 0, pid,
				      i < 100 ? "true" : "false");
	}
	snprintf(p + w, cap - w, "],\"partial\":false}");
	return p;
}

static int run(struct store *s, const char *label, int count, int ps)
/* ps: 0 for the small payload, else the number of processes */
{
	const char *tg[] = { "vm" }, *ck[] = { ps ? "ps" : "custom" };
	char *payloads[2] = { NULL, NULL };
	if (ps) {
		payloads[0] = ps_payload(ps, 0);
		payloads[1] = ps_payload(ps, 100000);
	}
	size_t plen = ps ? strlen(payloads[0]) : 0;
	int64_t findings = 0;
	double t0 = now_s();
	for (int i = 0; i < count; i++) {
		/* one scan per ps result (a scan holds one ps per target); custom: one scan */
		static int64_t id;
		char check[32];
		if (ps || i == 0) {
			if (store_scan_begin(s, tg, 1, ck, 1, &id) < 0)
				goto fail;
		}
		snprintf(check, sizeof(check), "c%d", i);
		struct store_result_in r = {
			.target = "vm", .check = ps ? "ps" : check, .ok = true,
			.diff = ps ? STORE_DIFF_PROCESSES : STORE_DIFF_NONE,
			.payload_json = ps ? payloads[i & 1] : "{\"banner\":\"Linux version 6.1.0\"}",
			.duration_ms = 3, .requests = 2, .bytes = 512,
		};
		int rc = store_result_add(s, id, &r);
		if (rc < 0)
			goto fail;
		findings += rc;
		if ((ps || i == count - 1) && store_scan_finish(s, id, STORE_SCAN_DONE) < 0)
			goto fail;
	}
	double dt = now_s() - t0;
	printf("%-44s %7d results in %6.3f s: %8.0f results/s%s", label, count, dt, count / dt,
	       ps ? "" : "\n");
	if (ps)
		printf(" (%zu-byte payload, %lld findings; begin+add+finish per result)\n", plen,
		       (long long)findings);
	free(payloads[0]);
	free(payloads[1]);
	return 0;
fail:
	fprintf(stderr, "%s: %s\n", label, store_last_error(s));
	return 1;
}

/* A fleet scan: one scan over `targets` targets, banner + ps (150) + modules (40) each,
 * run twice so the second run diffs every list against the first. */
static int fleet(struct store *s, int targets)
{
	char **names = calloc((size_t)targets, sizeof(*names));
	char *ps[2] = { ps_payload(150, 0), ps_payload(150, 100000) };
	char mods[4096];
	size_t w = (size_t)snprintf(mods, sizeof(mods), "{\"modules\":[");
	for (int i = 0; i < 40; i++)
		w += (size_t)snprintf(mods + w, sizeof(mods) - w,
				      "%s{\"name\":\"mod%d\",\"state\":\"live\"}", i ? "," : "", i);
	snprintf(mods + w, sizeof(mods) - w, "]}");
	if (!names)
		return 1;
	for (int i = 0; i < targets; i++) {
		char n[32], uri[64];
		snprintf(n, sizeof(n), "vm%04d", i);
		snprintf(uri, sizeof(uri), "unix:///run/sevmon/vm%04d.sock", i);
		names[i] = strdup(n);
		if (!names[i] || store_target_upsert(s, n, uri, NULL, NULL) < 0)
			return 1;
	}
	const char *ck[] = { "banner", "ps", "modules" };
	for (int round = 0; round < 2; round++) {
		double t0 = now_s();
		int64_t id;
		long findings = 0;
		if (store_scan_begin(s, (const char *const *)names, (size_t)targets, ck, 3, &id) < 0)
			goto fail;
		for (int i = 0; i < targets; i++) {
			const char *pl[3] = { "{\"banner\":\"Linux version 6.1.0-28-amd64\"}",
					      ps[round], mods };
			for (int c = 0; c < 3; c++) {
				static const enum store_diff_rule rule[3] = {
					STORE_DIFF_BANNER, STORE_DIFF_PROCESSES, STORE_DIFF_MODULES
				};
				struct store_result_in r = { .target = names[i], .check = ck[c],
							     .ok = true, .diff = rule[c],
							     .payload_json = pl[c] };
				int rc = store_result_add(s, id, &r);
				if (rc < 0)
					goto fail;
				findings += rc;
			}
		}
		if (store_scan_finish(s, id, STORE_SCAN_DONE) < 0)
			goto fail;
		double dt = now_s() - t0;
		printf("fleet scan, %d targets x 3 checks, %-9s %6.3f s: %8.0f results/s (%ld findings)\n",
		       targets, round ? "diffed:" : "baseline:", dt, 3 * targets / dt, findings);
	}
	for (int i = 0; i < targets; i++)
		free(names[i]);
	free(names);
	free(ps[0]);
	free(ps[1]);
	return 0;
fail:
	fprintf(stderr, "fleet: %s\n", store_last_error(s));
	return 1;
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "/tmp";
	int count = argc > 2 ? atoi(argv[2]) : 5000;
	char path[512];
	snprintf(path, sizeof(path), "%s/bench_store.%d.db", dir, (int)getpid());
	struct store_retention ret = { .keep_scans = getenv("KEEP") ? (uint32_t)atoi(getenv("KEEP")) : 50 };
	struct store *s = NULL;
	char msg[256];
	int rc = store_open(path, 0, &ret, &s, msg, sizeof(msg));
	if (rc < 0) {
		fprintf(stderr, "open %s: %s\n", path, msg);
		return 1;
	}
	rc = store_target_upsert(s, "vm", "unix:///run/vm.sock", NULL, NULL) < 0 ||
	     run(s, "small payload, no diff", count, 0) ||
	     run(s, "ps, 150 processes (a small guest), diffed", count / 5, 150) ||
	     run(s, "ps, 500 processes, diffed", count / 5, 500) || fleet(s, 1000);
	store_close(s);
	static const char *const sfx[] = { "", "-wal", "-shm", ".lock" };
	for (int i = 0; i < 4; i++) {
		char p[600];
		snprintf(p, sizeof(p), "%s%s", path, sfx[i]);
		unlink(p);
	}
	return rc;
}
