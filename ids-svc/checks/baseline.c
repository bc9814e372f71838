/*
 * baseline.c — the text baseline's file (baseline.h).
 *
 * Layout, little-endian:
 *   "SEVMONTB" u32 version u32 leaf u32 group, build_id[65],
 *   u64 text_len u64 rodata_off u64 rodata_len u32 nftrace u32 njump,
 *   bytes[text_len + rodata_len], u32 ftrace[nftrace], {u32 code, u32 target, u8 size}[njump],
 *   leaf digests (16 bytes each, text's then rodata's), then BLAKE2b-16 of all of the above.
 */
#include "baseline.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "err.h"
#include "mem_digest.h"
#include "rbuf.h"

#define BASELINE_MAGIC "SEVMONTB"
#define BASELINE_VERSION 1u
#define BASELINE_HDR (8 + 4 + 4 + 4 + KPROFILE_MAX_BUILD_ID + 8 + 8 + 8 + 4 + 4)
#define JUMP_REC 9u

static int wbuf_put_le32(struct wbuf *w, uint32_t v)
{
	uint8_t b[4];
	store_le32(b, v);
	return wbuf_put_bytes(w, b, 4);
}

static int wbuf_put_le64(struct wbuf *w, uint64_t v)
{
	uint8_t b[8];
	store_le64(b, v);
	return wbuf_put_bytes(w, b, 8);
}

uint64_t baseline_text_leaves(const struct baseline *b)
{
	return mem_digest_count(b->text_len, BASELINE_LEAF, 1);
}

uint64_t baseline_rodata_leaves(const struct baseline *b)
{
	return mem_digest_count(b->rodata_len, BASELINE_LEAF, 1);
}

void baseline_groups(const struct baseline *b, int range, uint8_t *out)
{
	uint64_t n = range ? baseline_rodata_leaves(b) : baseline_text_leaves(b);
	const uint8_t *l = b->leaves + (range ? baseline_text_leaves(b) * MEM_DIGEST_LEN : 0);
	for (uint64_t i = 0, g = 0; i < n; i += BASELINE_GROUP, g++)
		mem_digest_group(l + i * MEM_DIGEST_LEN, n - i < BASELINE_GROUP ? n - i : BASELINE_GROUP,
				 out + g * MEM_DIGEST_LEN);
}

int baseline_path(char *buf, size_t cap, const char *build_id)
{
	char dir[512];
	if (!*build_id || strspn(build_id, "0123456789abcdef") != strlen(build_id))
		return SEVMON_EINVAL;
	int rc = kprofile_cache_dir(dir, sizeof dir);
	if (rc < 0)
		return rc;
	int n = snprintf(buf, cap, "%s/%s.baseline", dir, build_id);
	return n < 0 || (size_t)n >= cap ? SEVMON_ETOOBIG : 0;
}

/* The part the digest covers: everything but the bytes. */
static size_t meta_len(const struct baseline *b)
{
	return BASELINE_HDR + 4 * b->nftrace + JUMP_REC * b->njump +
	       (baseline_text_leaves(b) + baseline_rodata_leaves(b)) * MEM_DIGEST_LEN;
}

void baseline_all_present(struct baseline *b)
{
	uint64_t nl = baseline_text_leaves(b) + baseline_rodata_leaves(b);
	free(b->have);
	b->have = malloc(nl + 1);
	if (b->have)
		memset(b->have, 1, nl + 1);
}

int baseline_save(const struct baseline *b, const char *path)
{
	size_t len = meta_len(b) + MEM_DIGEST_LEN;
	uint8_t *f = malloc(len);
	if (!f)
		return SEVMON_ENOMEM;
	struct wbuf w = wbuf_make(f, len);
	uint64_t leaves = baseline_text_leaves(b) + baseline_rodata_leaves(b);
	int rc = wbuf_put_bytes(&w, BASELINE_MAGIC, 8) || wbuf_put_le32(&w, BASELINE_VERSION) ||
		 wbuf_put_le32(&w, BASELINE_LEAF) || wbuf_put_le32(&w, BASELINE_GROUP) ||
		 wbuf_put_bytes(&w, b->build_id, KPROFILE_MAX_BUILD_ID) ||
		 wbuf_put_le64(&w, b->text_len) || wbuf_put_le64(&w, b->rodata_off) ||
		 wbuf_put_le64(&w, b->rodata_len) || wbuf_put_le32(&w, (uint32_t)b->nftrace) ||
		 wbuf_put_le32(&w, (uint32_t)b->njump);
	for (size_t i = 0; !rc && i < b->nftrace; i++)
		rc = wbuf_put_le32(&w, b->ftrace[i]);
	for (size_t i = 0; !rc && i < b->njump; i++)
		rc = wbuf_put_le32(&w, b->jump[i].code) || wbuf_put_le32(&w, b->jump[i].target) ||
		     wbuf_put_bytes(&w, &b->jump[i].size, 1);
	if (!rc)
		rc = wbuf_put_bytes(&w, b->leaves, leaves * MEM_DIGEST_LEN);
	if (rc || w.len != len - MEM_DIGEST_LEN) {
		free(f);
		return SEVMON_EINTERNAL;
	}
	crypto_generichash(f + w.len, MEM_DIGEST_LEN, f, w.len, NULL, 0);
	/* a name of its own per call: threads of one process (sevmon scan's workers, sevmond's
	 * jobs) record the same build's baseline at once, and the last rename wins whole */
	char tmp[4200];
	snprintf(tmp, sizeof tmp, "%s.XXXXXX", path);
	int tfd = mkstemp(tmp);
	FILE *fp = tfd >= 0 ? fdopen(tfd, "w") : NULL;
	if (tfd >= 0 && !fp)
		close(tfd);
	rc = fp ? 0 : sevmon_from_errno(errno);
	size_t nb = b->text_len + b->rodata_len;
	if (fp && (fwrite(f, 1, len, fp) != len) + (fwrite(b->bytes, 1, nb, fp) != nb) +
			  (fclose(fp) != 0))
		rc = SEVMON_EIO;
	if (rc == 0 && rename(tmp, path) != 0)
		rc = sevmon_from_errno(errno);
	if (rc < 0)
		remove(tmp);
	free(f);
	return rc;
}

void baseline_free(struct baseline *b)
{
	if (b->file)
		fclose(b->file);
	free(b->bytes);
	free(b->have);
	free(b->leaves);
	free(b->ftrace);
	free(b->jump);
	memset(b, 0, sizeof *b);
}

int baseline_load(struct baseline *b, const char *path)
{
	memset(b, 0, sizeof *b);
	FILE *fp = fopen(path, "r");
	if (!fp)
		return errno == ENOENT ? SEVMON_ENOENT : sevmon_from_errno(errno);
	uint8_t hdr[BASELINE_HDR], *f = NULL;
	int rc = fread(hdr, 1, sizeof hdr, fp) == sizeof hdr ? 0 : SEVMON_EDECODE;
	struct rbuf r = rbuf_make(hdr, sizeof hdr);
	const uint8_t *magic, *bid, *leaves;
	uint32_t ver, leaf, group, nf = 0, nj = 0;
	if (rc == 0 && (rbuf_get_bytes_direct(&r, &magic, 8) || memcmp(magic, BASELINE_MAGIC, 8) ||
			rbuf_get_le32(&r, &ver) || ver != BASELINE_VERSION || rbuf_get_le32(&r, &leaf) ||
			leaf != BASELINE_LEAF || rbuf_get_le32(&r, &group) || group != BASELINE_GROUP ||
			rbuf_get_bytes_direct(&r, &bid, KPROFILE_MAX_BUILD_ID) ||
			rbuf_get_le64(&r, &b->text_len) || rbuf_get_le64(&r, &b->rodata_off) ||
			rbuf_get_le64(&r, &b->rodata_len) || rbuf_get_le32(&r, &nf) ||
			rbuf_get_le32(&r, &nj)))
		rc = SEVMON_EDECODE;
	if (rc == 0 && (b->text_len > BASELINE_MAX_BYTES || b->rodata_len > BASELINE_MAX_BYTES ||
			b->text_len + b->rodata_len > BASELINE_MAX_BYTES || nf > BASELINE_MAX_SITES ||
			nj > BASELINE_MAX_SITES || b->rodata_off < b->text_len ||
			memchr(bid, 0, KPROFILE_MAX_BUILD_ID) == NULL))
		rc = SEVMON_EDECODE;
	b->nftrace = nf;
	b->njump = nj;
	uint64_t nleaves = rc ? 0 : baseline_text_leaves(b) + baseline_rodata_leaves(b);
	size_t mlen = rc ? 0 : meta_len(b) + MEM_DIGEST_LEN;
	if (rc == 0 && !(f = malloc(mlen)))
		rc = SEVMON_ENOMEM;
	if (rc == 0) {
		memcpy(f, hdr, sizeof hdr);
		if (fread(f + sizeof hdr, 1, mlen - sizeof hdr, fp) != mlen - sizeof hdr)
			rc = SEVMON_EDECODE;
	}
	uint8_t d[MEM_DIGEST_LEN];
	if (rc == 0) {
		crypto_generichash(d, sizeof d, f, mlen - MEM_DIGEST_LEN, NULL, 0);
		if (sodium_memcmp(d, f + mlen - MEM_DIGEST_LEN, sizeof d))
			rc = SEVMON_EDECODE; /* damaged */
	}
	if (rc == 0) {
		memcpy(b->build_id, bid, KPROFILE_MAX_BUILD_ID);
		b->bytes = calloc(1, b->text_len + b->rodata_len + 1);
		b->have = calloc(1, nleaves + 1);
		b->ftrace = calloc(nf + 1, sizeof *b->ftrace);
		b->jump = calloc(nj + 1, sizeof *b->jump);
		b->leaves = malloc(nleaves * MEM_DIGEST_LEN + 1);
		if (!b->bytes || !b->have || !b->ftrace || !b->jump || !b->leaves)
			rc = SEVMON_ENOMEM;
	}
	r = rbuf_make(f + sizeof hdr, rc ? 0 : mlen - MEM_DIGEST_LEN - sizeof hdr);
	for (size_t i = 0; rc == 0 && i < nf; i++)
		if (rbuf_get_le32(&r, &b->ftrace[i]) || (i && b->ftrace[i] < b->ftrace[i - 1]))
			rc = SEVMON_EDECODE;
	for (size_t i = 0; rc == 0 && i < nj; i++) {
		const uint8_t *sz;
		if (rbuf_get_le32(&r, &b->jump[i].code) || rbuf_get_le32(&r, &b->jump[i].target) ||
		    rbuf_get_bytes_direct(&r, &sz, 1) || (*sz != 2 && *sz != 5) ||
		    (i && b->jump[i].code < b->jump[i - 1].code))
			rc = SEVMON_EDECODE;
		else
			b->jump[i].size = *sz;
	}
	if (rc == 0 && (rbuf_get_bytes_direct(&r, &leaves, nleaves * MEM_DIGEST_LEN) || rbuf_left(&r)))
		rc = SEVMON_EDECODE;
	if (rc == 0) {
		memcpy(b->leaves, leaves, nleaves * MEM_DIGEST_LEN);
		b->file = fp;
		b->bytes_at = mlen;
		fp = NULL;
	}
	free(f);
	if (fp)
		fclose(fp);
	if (rc < 0)
		baseline_free(b);
	return rc;
}

int baseline_bytes(struct baseline *b, uint64_t off, uint8_t *out, size_t n)
{
	uint64_t total = b->text_len + b->rodata_len;
	if (off > total || n > total - off)
		return SEVMON_EINVAL;
	for (uint64_t at = off; at < off + n;) {
		/* leaves are cut from each range's start: text at 0, rodata at text_len */
		int ro = at >= b->text_len;
		uint64_t base = ro ? b->text_len : 0, rl = ro ? b->rodata_len : b->text_len;
		uint64_t li = (at - base) / BASELINE_LEAF, lo = base + li * BASELINE_LEAF;
		uint64_t ll = rl - li * BASELINE_LEAF < BASELINE_LEAF ? rl - li * BASELINE_LEAF : BASELINE_LEAF;
		uint64_t idx = (ro ? baseline_text_leaves(b) : 0) + li;
		if (!b->have[idx]) {
			uint8_t d[MEM_DIGEST_LEN];
			if (!b->file || fseek(b->file, (long)(b->bytes_at + lo), SEEK_SET) != 0 ||
			    fread(b->bytes + lo, 1, ll, b->file) != ll)
				return SEVMON_EIO;
			if (mem_digest_buf(b->bytes + lo, ll, BASELINE_LEAF, 1, d) < 0 ||
			    sodium_memcmp(d, b->leaves + idx * MEM_DIGEST_LEN, sizeof d))
				return SEVMON_EDECODE; /* the page does not match its digest */
			b->have[idx] = 1;
		}
		uint64_t end = lo + ll < off + n ? lo + ll : off + n;
		memcpy(out + (at - off), b->bytes + at, end - at);
		at = end;
	}
	return 0;
}

long baseline_ftrace_at(const struct baseline *b, uint32_t off)
{
	/* the last site at or before off, if its 5 bytes cover off */
	size_t lo = 0, hi = b->nftrace;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (b->ftrace[mid] <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo && off - b->ftrace[lo - 1] < 5 ? (long)(lo - 1) : -1;
}

long baseline_jump_at(const struct baseline *b, uint32_t off)
{
	size_t lo = 0, hi = b->njump;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (b->jump[mid].code <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo && off - b->jump[lo - 1].code < b->jump[lo - 1].size ? (long)(lo - 1) : -1;
}
