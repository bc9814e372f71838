/*
 * acquire.h — a guest's physical memory, through the channel, into an image file.
 *
 * Every range the agent's memory source reports (GetInfo) is read in order with many
 * ReadPhys requests in flight, written into a LiME or ELF-core file (image_layout.h),
 * sealed to this IDS's key by default (mem_seal.h), and described by a manifest beside it
 * (OUT.manifest.json): per range its SHA-256, the whole image's SHA-256 (the plain file, as
 * `sevmon dump unseal` gives it) and the file's on disk, the pages the agent could not read,
 * where it came from and when. A piece the agent refuses (EFAULT) is read again page by page;
 * pages that still fail are zeros in the file and listed as unreadable. While it runs, a
 * journal (OUT.acq) says what the file is; an acquisition killed midway continues with
 * resume: the bytes already in the file are kept (and hashed again from the file), and the
 * result is the file an uninterrupted run would have written.
 *
 * Bounds: the window of requests in flight (ACQ_WINDOW x 1 MiB of buffers), the ranges
 * (IMAGE_MAX_RANGES), the unreadable list (ACQ_MAX_UNREADABLE entries; past that the count
 * goes on, the list stops). Errors: the agent's (ETIMEDOUT, ECONNRESET: resume later),
 * EIO/ENOSPC-as-EIO writing the file, EEXIST when OUT exists and resume was not asked,
 * EINVAL when resume finds a journal of another acquisition (other ranges or format).
 */
#ifndef SEVMON_ACQUIRE_H
#define SEVMON_ACQUIRE_H

#include <stdint.h>

#include "ids_conn.h"
#include "ids_gmem.h"
#include "image_layout.h"
#include "noise.h"
#include "snp_verify.h"

/* One ReadPhys: the agent's max_read. */
#define ACQ_PIECE (1u << 20)
/* Requests in flight: enough to keep the agent and the channel busy across a round trip,
 * 16 MiB of buffers at most. */
#define ACQ_WINDOW 16u
/* Unreadable runs listed in the manifest: a guest with more holes than this is described
 * by its count past it. */
#define ACQ_MAX_UNREADABLE 4096u

struct acquire_opts {
	const char *out;                 /* the image's path */
	enum image_format format;
	int sealed;                      /* seal to key->pub (else the file is the plain image) */
	const struct noise_keypair *key; /* this IDS's key: the recipient, and to resume */
	int resume;
	/* called at most every few hundred ms and at the end (may be NULL) */
	void (*progress)(void *ctx, uint64_t done, uint64_t total, double seconds);
	void *progress_ctx;
	/* written into the manifest as they are (may be NULL) */
	const char *source_uri;
	const char *evidence_json;       /* the agent's verified evidence, a JSON object */
};

struct acquire_result {
	uint64_t image_bytes;            /* the plain image */
	uint64_t file_bytes;             /* on disk (sealed: larger by the container's overhead) */
	uint64_t memory_bytes;           /* physical bytes it covers */
	uint64_t unreadable_bytes;
	uint64_t resumed_from;           /* bytes kept from an earlier run, 0 for a fresh one */
	uint64_t requests;
	double seconds;                  /* this run's */
	char image_sha256[65];
	char file_sha256[65];
	char manifest[4200];             /* its path */
};

/* The agent's verified evidence as the manifest keeps it (the attest check's payload), a
 * JSON object the caller frees; NULL on ENOMEM. */
char *acquire_evidence_json(const struct snp_verdict *v);

/* Acquire through c (channel up; info from ids_agent_get_info). err says why on failure. */
int acquire_run(struct ids_conn *c, const struct ids_agent_info *info,
		const struct acquire_opts *o, struct acquire_result *res, char *err, size_t errcap);

#endif
