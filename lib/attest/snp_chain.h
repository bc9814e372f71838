/* snp_chain.h — internal to the verifier: the VCEK <- ASK <- ARK chain check. */
#ifndef SEVMON_SNP_CHAIN_H
#define SEVMON_SNP_CHAIN_H

#include <openssl/x509.h>

#include "snp_verify.h"

/* Inputs above these are not certificates AMD issues: refuse before parsing. */
#define SNP_VCEK_DER_MAX 8192   /* a VCEK is ~1.4 KB */
#define SNP_CHAIN_PEM_MAX 32768 /* ASK + ARK PEM is ~4.6 KB */

/* Write a formatted reason into v (if any); returns err for tail calls. */
int snp_fail(struct snp_verdict *v, int err, enum snp_reason r, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/*
 * Run stage 2 (see snp_verify.h). On success *vcek_out holds the VCEK (caller frees
 * with X509_free) and v->product the anchor's product. A chain that passed once is
 * remembered in trust (a cache behind a mutex, the one thing in trust that changes after
 * set-up): the same VCEK DER and chain PEM again only get their validity periods
 * re-checked. Safe to call from many threads with one trust.
 */
int snp_chain_check(const struct snp_trust *trust, time_t now,
		    const uint8_t *vcek_der, size_t vcek_len,
		    const uint8_t *chain_pem, size_t chain_len,
		    struct snp_verdict *v, X509 **vcek_out);

#endif
