/*
 * scan_targets.h — the targets file of `sevmon scan`.
 *
 * Format: one target per line, fields separated by blanks:
 *
 *     NAME URI [pin=PUBFILE] [measurement=HEX]...
 *
 * NAME is [A-Za-z0-9._-], 1..SCAN_NAME_MAX bytes, unique in the file (it names the
 * target in the results, as in sevmond's store); URI is any agent URI the CLI takes.
 * pin= names the agent's public key file (`sevmon keygen` writes NAME.pub); each
 * measurement= is one accepted launch measurement (96 hex digits), repeatable; both
 * override the command line's --pin / --measurement for this target. '#' starts a
 * comment (to the end of the line); blank lines are ignored.
 *
 * Everything is bounded: line length, target count, fields per line. A bad line fails
 * the whole file with its line number (a batch job with a typo should not half-run).
 */
#ifndef SEVMON_SCAN_TARGETS_H
#define SEVMON_SCAN_TARGETS_H

#include <stddef.h>
#include <stdio.h>

/* Same rule as the store's target names (they go into REST paths and log lines). */
#define SCAN_NAME_MAX 64u
/* A unix socket path is at most 108 bytes; tcp host names 253; 512 as ids_conn keeps. */
#define SCAN_URI_MAX 511u
/* A line holds a name, a URI, a pin path and a few measurements (97 bytes each). */
#define SCAN_LINE_MAX 4096u
/* Targets one file may name: a fleet of thousands, with margin (as the store's scans). */
#define SCAN_TARGETS_MAX 100000u
/* Accepted measurements per target: one per firmware/image generation in a rollout. */
#define SCAN_MEAS_MAX 8u
/* SNP launch measurement: 48 bytes, 96 hex digits. */
#define SCAN_MEAS_HEX_LEN 96u

struct scan_target {
	char name[SCAN_NAME_MAX + 1];
	char uri[SCAN_URI_MAX + 1];
	char *pin;                    /* owned path, or NULL */
	char *meas[SCAN_MEAS_MAX];    /* owned hex strings */
	size_t nmeas;
	unsigned line;                /* where it was written, for messages */
};

struct scan_targets {
	struct scan_target *v; /* owned */
	size_t n;
};

/*
 * Parse the targets file f. Returns 0 with *out filled (free with scan_targets_free), or
 * SEVMON_EINVAL (a bad line; err says which and why), SEVMON_ETOOBIG (a line or the file
 * over its limit), SEVMON_ENOMEM, SEVMON_EIO. On failure *out is empty.
 */
int scan_targets_parse(struct scan_targets *out, FILE *f, char *err, size_t errcap);
void scan_targets_free(struct scan_targets *t);

#endif
