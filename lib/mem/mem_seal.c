/*
 * mem_seal.c — the sealed container (mem_seal.h): libsodium's sealed box for the file key,
 * one secretstream message per chunk, keyed BLAKE2b for the header MAC and chunk keys.
 */
#include "mem_seal.h"

#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "fdio.h"
#include "rbuf.h"

#define SEAL_VERSION 1u
#define OFF_VERSION 8
#define OFF_CHUNK 12
#define OFF_PLAIN 16
#define OFF_NCHUNKS 24
#define OFF_FLAGS 32
#define OFF_FILE_ID 36
#define OFF_PK 52
#define OFF_SEALED 84
#define OFF_MAC 224
#define FILE_ID_LEN 16u
#define SEALED_KEY_LEN (crypto_box_SEALBYTES + SEAL_KEY_LEN)
#define SS_HDR crypto_secretstream_xchacha20poly1305_HEADERBYTES
#define SS_ABYTES crypto_secretstream_xchacha20poly1305_ABYTES
#define AD_LEN (FILE_ID_LEN + 8u + 4u)
_Static_assert(OFF_SEALED + SEALED_KEY_LEN <= OFF_MAC, "the sealed key fits before the MAC");
_Static_assert(SS_HDR + SS_ABYTES == SEAL_CHUNK_OVERHEAD, "chunk overhead");

static const char chunk_label[] = "sevmon seal chunk";

static int say(char *why, size_t cap, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int say(char *why, size_t cap, int err, const char *fmt, ...)
{
	if (why && cap) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(why, cap, fmt, ap);
		va_end(ap);
	}
	return err;
}

int seal_is_sealed(const uint8_t *head, size_t n)
{
	return n >= 8 && !memcmp(head, SEAL_MAGIC, 8);
}

/* K_i, and the chunk's additional data. */
static void chunk_key(const uint8_t k[SEAL_KEY_LEN], const uint8_t *file_id, uint64_t i,
		      uint32_t len, uint8_t ki[SEAL_KEY_LEN], uint8_t ad[AD_LEN])
{
	uint8_t in[sizeof chunk_label - 1 + FILE_ID_LEN + 8];
	memcpy(in, chunk_label, sizeof chunk_label - 1);
	memcpy(in + sizeof chunk_label - 1, file_id, FILE_ID_LEN);
	store_le64(in + sizeof chunk_label - 1 + FILE_ID_LEN, i);
	crypto_generichash(ki, SEAL_KEY_LEN, in, sizeof in, k, SEAL_KEY_LEN);
	memcpy(ad, file_id, FILE_ID_LEN);
	store_le64(ad + FILE_ID_LEN, i);
	store_le32(ad + FILE_ID_LEN + 8, len);
	sodium_memzero(in, sizeof in);
}

static void header_mac(const uint8_t *hdr, const uint8_t k[SEAL_KEY_LEN], uint8_t mac[32])
{
	crypto_generichash(mac, 32, hdr, OFF_MAC, k, SEAL_KEY_LEN);
}

static uint64_t record_len(uint32_t chunk)
{
	return (uint64_t)chunk + SEAL_CHUNK_OVERHEAD;
}

/* Read and check a header (finished or, for resume, not), and open its key. */
static int open_header(int fd, const uint8_t sk[SEAL_KEY_LEN], const uint8_t pk[SEAL_KEY_LEN],
		       int need_finished, uint8_t hdr[SEAL_HDR_LEN], uint8_t k[SEAL_KEY_LEN],
		       char *why, size_t whycap)
{
	int rc = fd_pread_all(fd, 0, hdr, SEAL_HDR_LEN);
	if (rc < 0)
		return say(why, whycap, rc == SEVMON_ETRUNC ? SEVMON_EDECODE : rc,
			   "not a sealed image (too short for its header)");
	if (!seal_is_sealed(hdr, SEAL_HDR_LEN))
		return say(why, whycap, SEVMON_EDECODE, "not a sealed image");
	uint32_t ver = load_le32(hdr + OFF_VERSION), chunk = load_le32(hdr + OFF_CHUNK);
	if (ver != SEAL_VERSION)
		return say(why, whycap, SEVMON_EDECODE, "sealed image version %u (this build reads %u)",
			   ver, SEAL_VERSION);
	if (chunk < SEAL_CHUNK_MIN || chunk > SEAL_CHUNK_MAX)
		return say(why, whycap, SEVMON_EDECODE, "sealed image chunk size %u out of range", chunk);
	if (memcmp(hdr + OFF_PK, pk, SEAL_KEY_LEN)) {
		char hex[2 * SEAL_KEY_LEN + 1];
		sodium_bin2hex(hex, sizeof hex, hdr + OFF_PK, SEAL_KEY_LEN);
		return say(why, whycap, SEVMON_EDENIED, "sealed to another key (%s), not this one", hex);
	}
	if (crypto_box_seal_open(k, hdr + OFF_SEALED, SEALED_KEY_LEN, pk, sk) != 0)
		return say(why, whycap, SEVMON_EDENIED, "this key does not open the sealed image "
			   "(not the key it was sealed with, or its sealed key was altered)");
	uint8_t mac[32];
	header_mac(hdr, k, mac);
	if (sodium_memcmp(mac, hdr + OFF_MAC, sizeof mac) != 0) {
		sodium_memzero(k, SEAL_KEY_LEN);
		return say(why, whycap, SEVMON_EDECODE, "sealed image header altered (MAC mismatch)");
	}
	int finished = load_le32(hdr + OFF_FLAGS) & SEAL_FINISHED;
	if (need_finished && !finished) {
		sodium_memzero(k, SEAL_KEY_LEN);
		return say(why, whycap, SEVMON_EDECODE,
			   "sealed image not finished (an interrupted acquisition: --resume it)");
	}
	return 0;
}

/* ---- reader ---------------------------------------------------------------------------- */

struct seal_reader {
	int fd;
	uint8_t k[SEAL_KEY_LEN];
	uint8_t file_id[FILE_ID_LEN];
	uint32_t chunk;
	uint64_t plain, nchunks;
	uint8_t *rec;
	/* Decrypted chunks kept (least recently used goes): the kernel objects one check
	 * follows lie in a few dozen chunks it comes back to; one slot decrypted each of them
	 * again on every visit (a warm `ps` of a sealed image read ~40 MiB for 36 KiB). */
	struct seal_slot {
		uint8_t *buf;  /* r->chunk bytes, allocated on first use */
		uint64_t idx;  /* chunk index + 1; 0: empty */
		uint64_t used; /* r->tick when last read */
	} slot[SEAL_READER_CACHE];
	uint64_t tick;
};

int seal_reader_open(int fd, const uint8_t sk[SEAL_KEY_LEN], const uint8_t pk[SEAL_KEY_LEN],
		     struct seal_reader **out, char *why, size_t whycap)
{
	uint8_t hdr[SEAL_HDR_LEN];
	struct seal_reader *r = calloc(1, sizeof *r);
	*out = NULL;
	if (!r)
		return SEVMON_ENOMEM;
	int rc = open_header(fd, sk, pk, 1, hdr, r->k, why, whycap);
	if (rc < 0) {
		free(r);
		return rc;
	}
	r->fd = fd;
	r->chunk = load_le32(hdr + OFF_CHUNK);
	r->plain = load_le64(hdr + OFF_PLAIN);
	r->nchunks = load_le64(hdr + OFF_NCHUNKS);
	memcpy(r->file_id, hdr + OFF_FILE_ID, FILE_ID_LEN);
	struct stat st;
	uint64_t want_chunks = (r->plain + r->chunk - 1) / r->chunk;
	uint64_t want_size = SEAL_HDR_LEN + r->nchunks * SEAL_CHUNK_OVERHEAD + r->plain;
	rc = SEVMON_EDECODE;
	if (want_chunks != r->nchunks)
		rc = say(why, whycap, SEVMON_EDECODE, "sealed image header sizes disagree");
	else if (fstat(fd, &st) < 0)
		rc = say(why, whycap, SEVMON_EIO, "cannot stat the sealed image");
	else if ((uint64_t)st.st_size != want_size)
		rc = say(why, whycap, (uint64_t)st.st_size < want_size ? SEVMON_ETRUNC : SEVMON_EDECODE,
			 "sealed image is %lld bytes, its header says %llu", (long long)st.st_size,
			 (unsigned long long)want_size);
	else if (!(r->rec = malloc(record_len(r->chunk))))
		rc = SEVMON_ENOMEM;
	else
		rc = 0;
	if (rc < 0) {
		seal_reader_close(r);
		return rc;
	}
	*out = r;
	return 0;
}

uint64_t seal_reader_size(const struct seal_reader *r)
{
	return r->plain;
}

/* Chunk i, decrypted: *out points at its plaintext (a cache slot), *len its length. */
static int load_chunk(struct seal_reader *r, uint64_t i, uint32_t *len, const uint8_t **out)
{
	uint32_t n = i + 1 < r->nchunks ? r->chunk : (uint32_t)(r->plain - i * r->chunk);
	struct seal_slot *s = &r->slot[0];
	*len = n;
	r->tick++;
	for (unsigned k = 0; k < SEAL_READER_CACHE; k++) {
		if (r->slot[k].idx == i + 1) {
			r->slot[k].used = r->tick;
			*out = r->slot[k].buf;
			return 0;
		}
		if (r->slot[k].used < s->used)
			s = &r->slot[k];
	}
	s->idx = 0;
	if (!s->buf && !(s->buf = malloc(r->chunk)))
		return SEVMON_ENOMEM;
	uint64_t off = SEAL_HDR_LEN + i * record_len(r->chunk);
	int rc = fd_pread_all(r->fd, off, r->rec, n + SEAL_CHUNK_OVERHEAD);
	if (rc < 0)
		return rc == SEVMON_ETRUNC ? SEVMON_EDECODE : rc;
	uint8_t ki[SEAL_KEY_LEN], ad[AD_LEN], tag = 0;
	crypto_secretstream_xchacha20poly1305_state st;
	chunk_key(r->k, r->file_id, i, n, ki, ad);
	unsigned long long got = 0;
	rc = SEVMON_EDECODE;
	if (crypto_secretstream_xchacha20poly1305_init_pull(&st, r->rec, ki) == 0 &&
	    crypto_secretstream_xchacha20poly1305_pull(&st, s->buf, &got, &tag, r->rec + SS_HDR,
						       n + SS_ABYTES, ad, AD_LEN) == 0 &&
	    got == n && tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL)
		rc = 0;
	sodium_memzero(ki, sizeof ki);
	sodium_memzero(&st, sizeof st);
	if (rc == 0) {
		s->idx = i + 1;
		s->used = r->tick;
		*out = s->buf;
	}
	return rc;
}

int seal_reader_pread(struct seal_reader *r, uint64_t off, uint8_t *dst, size_t n)
{
	if (off > r->plain || n > r->plain - off)
		return SEVMON_EFAULT;
	while (n) {
		uint64_t i = off / r->chunk;
		uint32_t len, in = (uint32_t)(off % r->chunk);
		const uint8_t *p;
		int rc = load_chunk(r, i, &len, &p);
		if (rc < 0)
			return rc;
		size_t take = len - in < n ? len - in : n;
		memcpy(dst, p + in, take);
		dst += take;
		off += take;
		n -= take;
	}
	return 0;
}

void seal_reader_close(struct seal_reader *r)
{
	if (!r)
		return;
	sodium_memzero(r->k, sizeof r->k);
	for (unsigned k = 0; k < SEAL_READER_CACHE; k++) {
		if (r->slot[k].buf)
			sodium_memzero(r->slot[k].buf, r->chunk);
		free(r->slot[k].buf);
	}
	free(r->rec);
	free(r);
}

/* ---- writer ---------------------------------------------------------------------------- */

struct seal_writer {
	int fd;
	uint8_t hdr[SEAL_HDR_LEN];
	uint8_t k[SEAL_KEY_LEN];
	uint32_t chunk;
	uint64_t index;  /* chunks written */
	uint8_t *buf;    /* plaintext of the chunk being filled */
	uint32_t fill;
	uint8_t *rec;
};

static int write_chunk(struct seal_writer *w)
{
	uint8_t ki[SEAL_KEY_LEN], ad[AD_LEN];
	crypto_secretstream_xchacha20poly1305_state st;
	chunk_key(w->k, w->hdr + OFF_FILE_ID, w->index, w->fill, ki, ad);
	int rc = SEVMON_EINTERNAL;
	if (crypto_secretstream_xchacha20poly1305_init_push(&st, w->rec, ki) == 0 &&
	    crypto_secretstream_xchacha20poly1305_push(&st, w->rec + SS_HDR, NULL, w->buf, w->fill,
						       ad, AD_LEN,
						       crypto_secretstream_xchacha20poly1305_TAG_FINAL) == 0)
		rc = fd_pwrite_all(w->fd, SEAL_HDR_LEN + w->index * record_len(w->chunk), w->rec,
				w->fill + SEAL_CHUNK_OVERHEAD);
	sodium_memzero(ki, sizeof ki);
	sodium_memzero(&st, sizeof st);
	if (rc == 0) {
		w->index++;
		w->fill = 0;
	}
	return rc;
}

static int writer_alloc(struct seal_writer **out, int fd, uint32_t chunk)
{
	struct seal_writer *w = calloc(1, sizeof *w);
	if (!w)
		return SEVMON_ENOMEM;
	w->fd = fd;
	w->chunk = chunk;
	if (!(w->buf = malloc(chunk)) || !(w->rec = malloc(record_len(chunk)))) {
		free(w->buf);
		free(w);
		return SEVMON_ENOMEM;
	}
	*out = w;
	return 0;
}

static int write_header(struct seal_writer *w)
{
	header_mac(w->hdr, w->k, w->hdr + OFF_MAC);
	return fd_pwrite_all(w->fd, 0, w->hdr, SEAL_HDR_LEN);
}

int seal_writer_open(int fd, const uint8_t pk[SEAL_KEY_LEN], struct seal_writer **out)
{
	struct seal_writer *w;
	int rc = writer_alloc(&w, fd, SEAL_CHUNK_DEFAULT);
	if (rc < 0)
		return rc;
	memcpy(w->hdr, SEAL_MAGIC, 8);
	store_le32(w->hdr + OFF_VERSION, SEAL_VERSION);
	store_le32(w->hdr + OFF_CHUNK, w->chunk);
	randombytes_buf(w->hdr + OFF_FILE_ID, FILE_ID_LEN);
	memcpy(w->hdr + OFF_PK, pk, SEAL_KEY_LEN);
	crypto_secretstream_xchacha20poly1305_keygen(w->k);
	if (crypto_box_seal(w->hdr + OFF_SEALED, w->k, SEAL_KEY_LEN, pk) != 0 ||
	    (rc = write_header(w)) < 0) {
		seal_writer_abandon(w);
		return rc < 0 ? rc : SEVMON_EINVAL;
	}
	*out = w;
	return 0;
}

/* Full chunk i of w's file into out (w->chunk bytes); 1 if it authenticates. */
static int record_read(struct seal_writer *w, uint64_t i, uint8_t *out)
{
	uint8_t ki[SEAL_KEY_LEN], ad[AD_LEN], tag = 0;
	crypto_secretstream_xchacha20poly1305_state st;
	unsigned long long got = 0;
	int ok = fd_pread_all(w->fd, SEAL_HDR_LEN + i * record_len(w->chunk), w->rec,
			   record_len(w->chunk)) == 0;
	chunk_key(w->k, w->hdr + OFF_FILE_ID, i, w->chunk, ki, ad);
	ok = ok && crypto_secretstream_xchacha20poly1305_init_pull(&st, w->rec, ki) == 0 &&
	     crypto_secretstream_xchacha20poly1305_pull(&st, out, &got, &tag, w->rec + SS_HDR,
							w->chunk + SS_ABYTES, ad, AD_LEN) == 0 &&
	     got == w->chunk && tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL;
	sodium_memzero(ki, sizeof ki);
	sodium_memzero(&st, sizeof st);
	return ok;
}

static int record_opens(struct seal_writer *w, uint64_t i)
{
	return record_read(w, i, w->buf);
}

int seal_writer_pread(struct seal_writer *w, uint64_t off, uint8_t *dst, size_t n)
{
	if (w->fill || off > w->index * w->chunk || n > w->index * w->chunk - off)
		return SEVMON_EFAULT; /* only the whole chunks written before any new write */
	while (n) {
		uint64_t i = off / w->chunk;
		uint32_t in = (uint32_t)(off % w->chunk);
		if (!record_read(w, i, w->buf))
			return SEVMON_EDECODE;
		size_t take = w->chunk - in < n ? w->chunk - in : n;
		memcpy(dst, w->buf + in, take);
		dst += take;
		off += take;
		n -= take;
	}
	return 0;
}

int seal_writer_resume(int fd, const uint8_t sk[SEAL_KEY_LEN], const uint8_t pk[SEAL_KEY_LEN],
		       struct seal_writer **out, uint64_t *done, char *why, size_t whycap)
{
	uint8_t hdr[SEAL_HDR_LEN], k[SEAL_KEY_LEN];
	int rc = open_header(fd, sk, pk, 0, hdr, k, why, whycap);
	if (rc < 0)
		return rc;
	if (load_le32(hdr + OFF_FLAGS) & SEAL_FINISHED) {
		sodium_memzero(k, sizeof k);
		return say(why, whycap, SEVMON_EEXIST, "the sealed image is finished already");
	}
	struct stat st;
	struct seal_writer *w;
	if (fstat(fd, &st) < 0 || (rc = writer_alloc(&w, fd, load_le32(hdr + OFF_CHUNK))) < 0) {
		sodium_memzero(k, sizeof k);
		return rc < 0 ? rc : SEVMON_EIO;
	}
	memcpy(w->hdr, hdr, sizeof hdr);
	memcpy(w->k, k, sizeof k);
	sodium_memzero(k, sizeof k);
	uint64_t body = (uint64_t)st.st_size > SEAL_HDR_LEN ? (uint64_t)st.st_size - SEAL_HDR_LEN : 0;
	w->index = body / record_len(w->chunk);
	/* the whole chunks are the writer's own (each went out in one pwrite): the last must
	 * still open, else it is dropped too; then what follows is cut */
	if (w->index && !record_opens(w, w->index - 1))
		w->index--;
	if (ftruncate(fd, (off_t)(SEAL_HDR_LEN + w->index * record_len(w->chunk))) < 0) {
		seal_writer_abandon(w);
		return say(why, whycap, SEVMON_EIO, "cannot cut the partial chunk");
	}
	*done = w->index * w->chunk;
	*out = w;
	return 0;
}

int seal_writer_write(struct seal_writer *w, const void *buf, size_t n)
{
	const uint8_t *p = buf;
	while (n) {
		size_t take = w->chunk - w->fill < n ? w->chunk - w->fill : n;
		memcpy(w->buf + w->fill, p, take);
		w->fill += (uint32_t)take;
		p += take;
		n -= take;
		if (w->fill == w->chunk) {
			int rc = write_chunk(w);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

int seal_writer_finish(struct seal_writer *w)
{
	int rc = 0;
	uint64_t plain = w->index * w->chunk + w->fill;
	if (w->fill)
		rc = write_chunk(w);
	if (rc == 0) {
		store_le64(w->hdr + OFF_PLAIN, plain);
		store_le64(w->hdr + OFF_NCHUNKS, w->index);
		store_le32(w->hdr + OFF_FLAGS, SEAL_FINISHED);
		rc = write_header(w);
	}
	if (rc == 0 && fsync(w->fd) < 0)
		rc = SEVMON_EIO;
	seal_writer_abandon(w);
	return rc;
}

void seal_writer_abandon(struct seal_writer *w)
{
	if (!w)
		return;
	sodium_memzero(w->k, sizeof w->k);
	sodium_memzero(w->buf, w->chunk);
	free(w->buf);
	free(w->rec);
	free(w);
}
