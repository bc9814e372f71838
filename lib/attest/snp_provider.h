/*
 * snp_provider.h — SEV-SNP evidence providers, by name, as a session_attest_fn.
 *
 *   "snp"      real hardware: configfs-tsm (/sys/kernel/config/tsm/report, Linux >= 6.7),
 *              falling back to /dev/sev-guest SNP_GET_REPORT. The VCEK comes from the
 *              configfs auxblob when the host supplies certificates; otherwise the
 *              evidence carries none and the verifier must have it from elsewhere.
 *   "sim:DIR[,measurement=HEX96][,policy=N][,vmpl=N]"
 *              the simulated provider (snp_sim.h) over a chain made by
 *              `sevmon attest sim-init DIR`; the evidence carries DIR/vcek.der and
 *              DIR/cert_chain.pem. Default measurement all zero, policy 0x30000, vmpl 0.
 *
 * snp_provider_open checks that the provider can work now (files readable, device
 * present) so that a misconfigured agent fails at start, not at its first handshake.
 */
#ifndef SEVMON_SNP_PROVIDER_H
#define SEVMON_SNP_PROVIDER_H

#include <stddef.h>

#include "session.h"

struct snp_provider;

#define SNP_CONFIGFS_TSM "/sys/kernel/config/tsm/report"
#define SNP_DEV_SEV_GUEST "/dev/sev-guest"

/* Returns 0 and *out, or a negative SEVMON_E* with one line in why (e.g. ENOENT "no
 * SEV-SNP guest interface: neither ... nor ... exists"). */
int snp_provider_open(const char *spec, struct snp_provider **out, char *why, size_t whycap);
void snp_provider_free(struct snp_provider *p);
/* A session_attest_fn; ctx is the struct snp_provider. */
int snp_provider_attest(void *ctx, const uint8_t report_data[SESSION_BINDING_LEN],
			struct session_evidence *ev, char *why, size_t whycap);

#endif
