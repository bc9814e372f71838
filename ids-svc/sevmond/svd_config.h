/*
 * svd_config.h — sevmond's configuration file (format: docs/sevmond.md).
 *
 * An INI-like text: `[sevmond]` holds the daemon's settings, each `[target NAME]` one
 * target. Lines are `key = value`; `#` starts a comment at the start of a line or after
 * whitespace. Every line, key and value is bounded; an error names the file, the line
 * and the field. Parsing has no side effects: files named inside (key, trust anchors)
 * are not opened here.
 */
#ifndef SEVMON_SVD_CONFIG_H
#define SEVMON_SVD_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "check.h"

/* A config file is a few KiB per hundred targets; 4 MiB holds a fleet of ~10,000 and
 * bounds what a wrong path (a disk image) makes us read. */
#define SVD_CONFIG_BYTES_MAX (4u << 20)
/* One line: a key, a path or a URI, and a comment. */
#define SVD_CONFIG_LINE_MAX 1024u
/* Targets one daemon keeps: the fleet bench's 1,000 with room; each costs a session
 * (fd, buffers) and a line in every list. */
#define SVD_TARGETS_MAX 4096u
/* Names: REST_NAME_MAX (URL path segment, label value). */
#define SVD_NAME_MAX 63u
#define SVD_URI_MAX 255u
#define SVD_PATH_MAX 4095u
/* Bearer tokens: REST_TOKENS_MAX, each 16..256 bytes. */
#define SVD_TOKENS_MAX 16u
#define SVD_TOKEN_MAX 256u
/* Accepted launch measurements per target (a few firmware/kernel versions in a rollout). */
#define SVD_MEASUREMENTS_MAX 4u
/* Extra trust anchor files per target (the simulated ARK in tests, a spare root). */
#define SVD_TRUST_MAX 4u
/* Worker threads: checks block on their agent, so more threads than cores helps, but each
 * holds one agent's answer (up to a few MiB) at a time. */
#define SVD_WORKERS_MAX 64u
/* Jobs waiting per target: a scan and a few live views. */
#define SVD_QUEUE_PER_TARGET_MAX 64u
/* Leases (store.h, "the fleet"): a dead replica's targets wait at most one lease for
 * another; shorter than a second would make every database hiccup a hand-over, longer
 * than an hour leaves a fleet unwatched for as long. */
#define SVD_LEASE_MS_MIN 1000u
#define SVD_LEASE_MS_MAX 3600000u
/* Targets one claim takes: the store's batch limit. */
#define SVD_CLAIM_BATCH_MAX 4096u

struct svd_target_cfg {
	char name[SVD_NAME_MAX + 1];
	char uri[SVD_URI_MAX + 1];
	char key[65];                  /* pinned agent static key, hex; "" = none */
	char measurements[SVD_MEASUREMENTS_MAX][97];
	unsigned nmeasurements;
	char trust[SVD_TRUST_MAX][SVD_PATH_MAX + 1];
	unsigned ntrust;
	uint32_t interval_s;           /* scheduled scans; 0 = the daemon default */
	check_set checks;              /* the registry's checks (check.h); 0 = the daemon default */
};

struct svd_config {
	/* API */
	char host[64];                 /* "" = no TCP listener */
	uint16_t port;
	char unix_path[108];           /* "" = none */
	char tokens[SVD_TOKENS_MAX][SVD_TOKEN_MAX + 1];
	unsigned ntokens;
	char token_file[SVD_PATH_MAX + 1]; /* more tokens, one a line (svd_config_load reads it) */
	/* state */
	char database[SVD_PATH_MAX + 1]; /* `store =` (alias `database =`) */
	char targets_file[SVD_PATH_MAX + 1]; /* a `sevmon scan --targets` file; "" = none */
	/* discovery from libvirt (svd_libvirt.c): running domains with a vsock device */
	char libvirt[SVD_URI_MAX + 1];  /* a libvirt URI ("qemu:///system"); "" = none */
	uint16_t libvirt_port;          /* the agents' vsock port when a domain names none */
	uint32_t libvirt_poll_ms;       /* how often the domains are listed again */
	/* the fleet: this replica's name ("" = HOSTNAME-PID), its leases */
	char replica[SVD_NAME_MAX + 1];
	uint32_t lease_ms, lease_renew_ms;
	unsigned claim_batch;
	uint32_t keep_scans;           /* 0 = no limit */
	uint64_t max_age_s;            /* 0 = no limit */
	/* channel */
	char key_file[SVD_PATH_MAX + 1]; /* the IDS's private key; "" = none */
	char trust_dir[SVD_PATH_MAX + 1];
	char trust[SVD_TRUST_MAX][SVD_PATH_MAX + 1]; /* anchors for every target */
	unsigned ntrust;
	char attest[SVD_PATH_MAX + 1];   /* own evidence provider ("snp", "sim:DIR"); "" = none */
	/* limits */
	unsigned workers;
	unsigned queue_per_target;
	uint64_t memory_limit;         /* bytes of RSS past which new work is refused; 0 = none */
	uint32_t connect_timeout_ms;
	uint32_t request_timeout_ms;
	uint32_t backoff_min_ms, backoff_max_ms;
	/* forensics: a finding at or above acquire_on starts a memory acquisition of its
	 * target (svd_acquire.c), sealed to key_file's key, into acquire_dir/ID/ */
	int acquire_on;                /* a store severity + 1; 0 = never */
	char acquire_dir[SVD_PATH_MAX + 1];
	int acquire_format;            /* enum image_format: 0 LiME, 1 ELF core */
	uint32_t acquire_interval_s;   /* at most one acquisition of a target per interval */
	uint32_t acquire_keep;         /* acquisitions kept in acquire_dir; older ones go */
	/* schedule */
	uint32_t interval_s;           /* default scan interval; 0 = only on request */
	check_set checks;              /* default checks (the registry's default sweep) */
	/* targets, in file order */
	struct svd_target_cfg *targets;
	size_t ntargets;
};

/* Defaults (also what docs/sevmond.md lists). */
/* One acquisition of a target an hour: a rootkit raises its high finding every scan, and
 * each image is the guest's whole RAM. */
#define SVD_DEFAULT_ACQUIRE_INTERVAL_S 3600u
#define SVD_DEFAULT_ACQUIRE_KEEP 10u
#define SVD_ACQUIRE_KEEP_MAX 10000u
#define SVD_DEFAULT_WORKERS 4u
#define SVD_DEFAULT_QUEUE_PER_TARGET 4u
#define SVD_DEFAULT_CONNECT_TIMEOUT_MS 10000u
#define SVD_DEFAULT_REQUEST_TIMEOUT_MS 30000u
#define SVD_DEFAULT_BACKOFF_MIN_MS 1000u
#define SVD_DEFAULT_BACKOFF_MAX_MS 300000u
/* 15 s: a dead replica's targets are taken over within that (plus one claim round); its
 * renewal every 5 s costs one statement per replica. */
#define SVD_DEFAULT_LEASE_MS 15000u
/* 64 targets per claim: a new replica takes its share of a thousand in a few rounds
 * without one long transaction. */
#define SVD_DEFAULT_CLAIM_BATCH 64u
/* The agent's vsock port in deploy/sevmon-agent.service; domains are listed every 10 s. */
#define SVD_DEFAULT_LIBVIRT_PORT 5000u
#define SVD_DEFAULT_LIBVIRT_POLL_MS 10000u

/*
 * Parse text (len bytes, need not be NUL-terminated) named fname in messages into *out
 * (zeroed first, then defaults). Returns 0, or -1 with err holding
 * "FILE:LINE: field: what is wrong" (nothing to free then).
 */
int svd_config_parse(const char *text, size_t len, const char *fname, struct svd_config *out,
		     char *err, size_t errcap);
/* Read path (at most SVD_CONFIG_BYTES_MAX) and parse it; then read token_file, if set. */
int svd_config_load(const char *path, struct svd_config *out, char *err, size_t errcap);
void svd_config_free(struct svd_config *c);
/* The target named name, or NULL. */
const struct svd_target_cfg *svd_config_target(const struct svd_config *c, const char *name);

#endif
