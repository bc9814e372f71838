/*
 * snp_provider.c — evidence providers: configfs-tsm, /dev/sev-guest, simulated.
 */
#include "snp_provider.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/sev-guest.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "rbuf.h"
#include "snp_sim.h"

/* Largest file read from DIR or configfs: a cert chain PEM or an auxblob cert table. */
#define PROVIDER_FILE_MAX (64u * 1024u)
/* SNP_MSG_REPORT_RSP: status u32, report_size u32, 24 reserved, then the report. */
#define SNP_RESP_REPORT_OFF 32u
/* GUID of the VCEK entry in the GHCB certificate table (GHCB spec, table "certificates"). */
static const uint8_t vcek_guid[16] = { 0x8d, 0x75, 0xda, 0x63, 0x64, 0xe6, 0x64, 0x45,
				       0xad, 0xc5, 0xf4, 0xb9, 0x3b, 0xe8, 0xac, 0xcd };

enum provider_kind { PROV_SNP, PROV_SIM };

struct snp_provider {
	enum provider_kind kind;
	char dir[512];
	struct snp_sim_params sim;
	uint8_t report[SNP_REPORT_LEN];
	uint8_t *vcek, *chain;
	size_t vcek_len, chain_len;
	bool use_configfs;
};

static int read_file(const char *path, uint8_t **out, size_t *len, size_t max)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return sevmon_from_errno(errno);
	uint8_t *buf = malloc(max);
	if (!buf) {
		close(fd);
		return SEVMON_ENOMEM;
	}
	size_t n = 0;
	int rc = 0;
	for (;;) {
		ssize_t r = read(fd, buf + n, max - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = sevmon_from_errno(errno);
			break;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n == max) {
			rc = SEVMON_ETOOBIG;
			break;
		}
	}
	close(fd);
	if (rc < 0) {
		free(buf);
		return rc;
	}
	*out = buf;
	*len = n;
	return 0;
}

static int write_file(const char *path, const void *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return sevmon_from_errno(errno);
	ssize_t w = write(fd, p, n);
	int rc = w == (ssize_t)n ? 0 : (w < 0 ? sevmon_from_errno(errno) : SEVMON_EIO);
	close(fd);
	return rc;
}

static int parse_sim(struct snp_provider *p, const char *spec, char *why, size_t whycap)
{
	char buf[600];
	if (snprintf(buf, sizeof buf, "%s", spec) >= (int)sizeof buf) {
		snprintf(why, whycap, "sim spec too long");
		return SEVMON_EINVAL;
	}
	p->sim.policy = SNP_POLICY_RESERVED1 | SNP_POLICY_SMT;
	char *save = NULL;
	char *tok = strtok_r(buf, ",", &save);
	if (!tok || !*tok) {
		snprintf(why, whycap, "sim: needs a directory (sim:DIR)");
		return SEVMON_EINVAL;
	}
	snprintf(p->dir, sizeof p->dir, "%s", tok);
	while ((tok = strtok_r(NULL, ",", &save)) != NULL) {
		char *end;
		if (strncmp(tok, "measurement=", 12) == 0) {
			if (session_hex_decode(tok + 12, p->sim.measurement, SNP_MEASUREMENT_LEN) < 0) {
				snprintf(why, whycap, "sim: measurement needs %d hex digits",
					 2 * SNP_MEASUREMENT_LEN);
				return SEVMON_EINVAL;
			}
		} else if (strncmp(tok, "policy=", 7) == 0) {
			errno = 0;
			p->sim.policy = strtoull(tok + 7, &end, 0);
			if (errno || *end) {
				snprintf(why, whycap, "sim: bad policy '%s'", tok + 7);
				return SEVMON_EINVAL;
			}
		} else if (strncmp(tok, "vmpl=", 5) == 0) {
			errno = 0;
			unsigned long v = strtoul(tok + 5, &end, 0);
			if (errno || *end || v > 3) {
				snprintf(why, whycap, "sim: bad vmpl '%s'", tok + 5);
				return SEVMON_EINVAL;
			}
			p->sim.vmpl = (uint32_t)v;
		} else {
			snprintf(why, whycap, "sim: unknown option '%s'", tok);
			return SEVMON_EINVAL;
		}
	}
	char path[600];
	snprintf(path, sizeof path, "%s/vcek.der", p->dir);
	int rc = read_file(path, &p->vcek, &p->vcek_len, SESSION_MAX_VCEK + 1);
	if (rc == 0 && p->vcek_len > SESSION_MAX_VCEK)
		rc = SEVMON_ETOOBIG;
	if (rc == 0) {
		snprintf(path, sizeof path, "%s/cert_chain.pem", p->dir);
		rc = read_file(path, &p->chain, &p->chain_len, SESSION_MAX_CHAIN + 1);
		if (rc == 0 && p->chain_len > SESSION_MAX_CHAIN)
			rc = SEVMON_ETOOBIG;
	}
	if (rc < 0) {
		snprintf(why, whycap, "sim: %s: %s (run `sevmon attest sim-init %s`)", path,
			 sevmon_strerror(rc), p->dir);
		return rc;
	}
	/* One report now, so a broken key fails at start. */
	rc = snp_sim_report(p->dir, &p->sim, p->report);
	if (rc < 0)
		snprintf(why, whycap, "sim: cannot sign a report with %s/vcek.key: %s", p->dir,
			 sevmon_strerror(rc));
	return rc;
}

static int open_snp(struct snp_provider *p, char *why, size_t whycap)
{
	struct stat st;
	if (stat(SNP_CONFIGFS_TSM, &st) == 0 && S_ISDIR(st.st_mode)) {
		p->use_configfs = true;
		return 0;
	}
	if (access(SNP_DEV_SEV_GUEST, R_OK | W_OK) == 0)
		return 0;
	int e = errno;
	snprintf(why, whycap,
		 "no SEV-SNP guest interface: %s is absent and %s is %s (not an SEV-SNP guest, "
		 "or the sev-guest module is not loaded)",
		 SNP_CONFIGFS_TSM, SNP_DEV_SEV_GUEST, e == ENOENT ? "absent" : strerror(e));
	return e == ENOENT ? SEVMON_ENOENT : sevmon_from_errno(e);
}

int snp_provider_open(const char *spec, struct snp_provider **out, char *why, size_t whycap)
{
	struct snp_provider *p = calloc(1, sizeof *p);
	int rc;
	if (!p)
		return SEVMON_ENOMEM;
	if (strcmp(spec, "snp") == 0) {
		p->kind = PROV_SNP;
		rc = open_snp(p, why, whycap);
	} else if (strncmp(spec, "sim:", 4) == 0) {
		p->kind = PROV_SIM;
		rc = parse_sim(p, spec + 4, why, whycap);
	} else {
		snprintf(why, whycap, "unknown attestation provider '%s' (snp or sim:DIR)", spec);
		rc = SEVMON_EINVAL;
	}
	if (rc < 0) {
		snp_provider_free(p);
		return rc;
	}
	*out = p;
	return 0;
}

void snp_provider_free(struct snp_provider *p)
{
	if (!p)
		return;
	free(p->vcek);
	free(p->chain);
	free(p);
}

/* Find the VCEK in a GHCB certificate table: entries {guid[16], offset u32, len u32}
 * (little-endian), ended by an all-zero entry; offsets from the table start. */
static int vcek_from_certtable(struct snp_provider *p, const uint8_t *t, size_t n)
{
	struct rbuf r = rbuf_make(t, n);
	for (;;) {
		const uint8_t *guid;
		uint32_t off, len;
		if (rbuf_get_bytes_direct(&r, &guid, 16) < 0 || rbuf_get_le32(&r, &off) < 0 ||
		    rbuf_get_le32(&r, &len) < 0)
			return SEVMON_EDECODE;
		static const uint8_t zero[16];
		if (memcmp(guid, zero, 16) == 0)
			return SEVMON_ENOENT;
		if (memcmp(guid, vcek_guid, 16) != 0)
			continue;
		if (len == 0 || len > SESSION_MAX_VCEK || off > n || n - off < len)
			return SEVMON_EDECODE;
		uint8_t *v = malloc(len);
		if (!v)
			return SEVMON_ENOMEM;
		memcpy(v, t + off, len);
		free(p->vcek);
		p->vcek = v;
		p->vcek_len = len;
		return 0;
	}
}

/* configfs-tsm: mkdir an entry, write inblob, read outblob (+ auxblob), check that no
 * other writer raced us (generation), remove the entry. */
static int report_configfs(struct snp_provider *p, const uint8_t rd[64], char *why, size_t whycap)
{
	char dir[128], path[192];
	snprintf(dir, sizeof dir, "%s/sevmon-%ld", SNP_CONFIGFS_TSM, (long)getpid());
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		snprintf(why, whycap, "configfs-tsm: mkdir %s: %s", dir, strerror(errno));
		return sevmon_from_errno(errno);
	}
	uint8_t *buf = NULL, *gen1 = NULL, *gen2 = NULL;
	size_t len = 0, g1 = 0, g2 = 0;
	int rc;
	snprintf(path, sizeof path, "%s/provider", dir);
	rc = read_file(path, &buf, &len, 64);
	if (rc == 0 && (len < 9 || memcmp(buf, "sev_guest", 9) != 0)) {
		snprintf(why, whycap, "configfs-tsm: provider is not sev_guest");
		rc = SEVMON_ENOTSUP;
		goto out;
	}
	free(buf);
	buf = NULL;
	snprintf(path, sizeof path, "%s/generation", dir);
	if (rc == 0)
		rc = read_file(path, &gen1, &g1, 64);
	snprintf(path, sizeof path, "%s/inblob", dir);
	if (rc == 0)
		rc = write_file(path, rd, 64);
	snprintf(path, sizeof path, "%s/outblob", dir);
	if (rc == 0)
		rc = read_file(path, &buf, &len, PROVIDER_FILE_MAX);
	if (rc < 0) {
		snprintf(why, whycap, "configfs-tsm: %s: %s", path, sevmon_strerror(rc));
		goto out;
	}
	if (len != SNP_REPORT_LEN) {
		snprintf(why, whycap, "configfs-tsm: outblob is %zu bytes, expected %u", len,
			 SNP_REPORT_LEN);
		rc = SEVMON_EDECODE;
		goto out;
	}
	memcpy(p->report, buf, SNP_REPORT_LEN);
	free(buf);
	buf = NULL;
	snprintf(path, sizeof path, "%s/auxblob", dir);
	if (read_file(path, &buf, &len, PROVIDER_FILE_MAX) == 0 && len > 0)
		(void)vcek_from_certtable(p, buf, len); /* optional: absent = no VCEK sent */
	snprintf(path, sizeof path, "%s/generation", dir);
	rc = read_file(path, &gen2, &g2, 64);
	if (rc == 0 && (g1 != g2 || memcmp(gen1, gen2, g1) != 0)) {
		/* Someone wrote inblob between our write and read: the report may not be ours. */
		snprintf(why, whycap, "configfs-tsm: entry changed under us (concurrent writer)");
		rc = SEVMON_EBUSY;
	}
out:
	free(buf);
	free(gen1);
	free(gen2);
	rmdir(dir);
	return rc;
}

static int report_ioctl(struct snp_provider *p, const uint8_t rd[64], char *why, size_t whycap)
{
	struct snp_report_req req;
	struct snp_report_resp resp;
	struct snp_guest_request_ioctl io;
	memset(&req, 0, sizeof req);
	memset(&resp, 0, sizeof resp);
	memset(&io, 0, sizeof io);
	memcpy(req.user_data, rd, 64);
	req.vmpl = 0;
	io.msg_version = 1;
	io.req_data = (uint64_t)(uintptr_t)&req;
	io.resp_data = (uint64_t)(uintptr_t)&resp;
	int fd = open(SNP_DEV_SEV_GUEST, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, whycap, "%s: %s", SNP_DEV_SEV_GUEST, strerror(errno));
		return sevmon_from_errno(errno);
	}
	int r = ioctl(fd, SNP_GET_REPORT, &io);
	int e = errno;
	close(fd);
	if (r < 0) {
		snprintf(why, whycap, "SNP_GET_REPORT: %s (fw_error 0x%" PRIx32 ", vmm_error 0x%" PRIx32 ")",
			 strerror(e), io.fw_error, io.vmm_error);
		return sevmon_from_errno(e);
	}
	uint32_t status = load_le32(resp.data), size = load_le32(resp.data + 4);
	if (status != 0 || size != SNP_REPORT_LEN) {
		snprintf(why, whycap, "SNP_GET_REPORT: status 0x%" PRIx32 ", report size %" PRIu32,
			 status, size);
		return SEVMON_EIO;
	}
	memcpy(p->report, resp.data + SNP_RESP_REPORT_OFF, SNP_REPORT_LEN);
	return 0;
}

int snp_provider_attest(void *ctx, const uint8_t report_data[SESSION_BINDING_LEN],
			struct session_evidence *ev, char *why, size_t whycap)
{
	struct snp_provider *p = ctx;
	int rc;
	if (p->kind == PROV_SIM) {
		memcpy(p->sim.report_data, report_data, SNP_REPORT_DATA_LEN);
		rc = snp_sim_report(p->dir, &p->sim, p->report);
		if (rc < 0)
			snprintf(why, whycap, "sim report: %s", sevmon_strerror(rc));
	} else if (p->use_configfs) {
		rc = report_configfs(p, report_data, why, whycap);
	} else {
		rc = report_ioctl(p, report_data, why, whycap);
	}
	if (rc < 0)
		return rc;
	*ev = (struct session_evidence){
		.kind = SESSION_EVIDENCE_SNP,
		.report = p->report,
		.vcek = p->vcek,
		.vcek_len = p->vcek_len,
		.chain = p->chain,
		.chain_len = p->chain_len,
	};
	return 0;
}
