/*
 * digest.h — SHA-256 of images and their ranges, as the manifest records them.
 *
 * OpenSSL's implementation: it uses the CPU's SHA extensions where there are any, and an
 * acquisition hashes every byte twice (the image, its range); libsodium's portable SHA-256
 * took two thirds of an acquisition's CPU time and capped it at a quarter of the channel's
 * rate (docs/benchmarks.md).
 */
#ifndef SEVMON_DIGEST_H
#define SEVMON_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#define DIGEST_HEX 65u /* 64 hex digits and a NUL */

struct digest {
	void *ctx; /* EVP_MD_CTX */
};

/* 0 or SEVMON_ENOMEM. */
int digest_init(struct digest *d);
void digest_update(struct digest *d, const void *p, size_t n);
/* The digest as lowercase hex; d is released (digest_free is then a no-op). */
void digest_final_hex(struct digest *d, char hex[DIGEST_HEX]);
void digest_free(struct digest *d);
/* SHA-256 of a whole file from offset 0 (read with pread); *size gets its length.
 * 0, SEVMON_EIO, SEVMON_ENOMEM. */
int digest_fd(int fd, char hex[DIGEST_HEX], uint64_t *size);

#endif
