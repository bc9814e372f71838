#include "digest.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "err.h"

/* Bytes per pread when hashing a file. */
#define DIGEST_READ (1u << 20)

int digest_init(struct digest *d)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	if (!c || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(c);
		d->ctx = NULL;
		return SEVMON_ENOMEM;
	}
	d->ctx = c;
	return 0;
}

void digest_update(struct digest *d, const void *p, size_t n)
{
	if (d->ctx && n)
		EVP_DigestUpdate(d->ctx, p, n);
}

void digest_final_hex(struct digest *d, char hex[DIGEST_HEX])
{
	unsigned char h[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	hex[0] = 0;
	if (d->ctx && EVP_DigestFinal_ex(d->ctx, h, &n) == 1 && n == 32)
		for (unsigned i = 0; i < 32; i++)
			snprintf(hex + 2 * i, 3, "%02x", h[i]);
	digest_free(d);
}

void digest_free(struct digest *d)
{
	EVP_MD_CTX_free(d->ctx);
	d->ctx = NULL;
}

int digest_fd(int fd, char hex[DIGEST_HEX], uint64_t *size)
{
	struct digest d;
	uint8_t *buf = malloc(DIGEST_READ);
	if (!buf || digest_init(&d) < 0) {
		free(buf);
		return SEVMON_ENOMEM;
	}
	uint64_t off = 0;
	ssize_t n;
	while ((n = pread(fd, buf, DIGEST_READ, (off_t)off)) > 0) {
		digest_update(&d, buf, (size_t)n);
		off += (uint64_t)n;
	}
	free(buf);
	if (n < 0) {
		digest_free(&d);
		return SEVMON_EIO;
	}
	digest_final_hex(&d, hex);
	*size = off;
	return 0;
}
