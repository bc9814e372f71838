/*
 * mem_seal.h — the sealed container: a file (a memory image, usually) encrypted to one
 * X25519 public key (the IDS's static key), readable at random offsets, any change to any
 * byte detected. `sevmon acquire` writes images sealed by default; the memory sources read
 * them in place (image:PATH,key=KEYFILE) and `sevmon dump unseal` writes the plain file.
 *
 * Layout (little-endian):
 *   header, SEAL_HDR_LEN bytes:
 *     0   "SEVMSEAL"                magic
 *     8   u32 version (1)
 *     12  u32 chunk                 plaintext bytes per chunk
 *     16  u64 plain_size            0 until finished
 *     24  u64 nchunks               0 until finished
 *     32  u32 flags                 SEAL_FINISHED once the writer finished
 *     36  u8  file_id[16]           random
 *     52  u8  recipient_pk[32]      the key it is sealed to
 *     84  u8  sealed_key[80]        crypto_box_seal(K, recipient_pk): the file key K
 *     164 zeros
 *     224 u8  mac[32]               keyed BLAKE2b(K, header[0..224))
 *   chunk i at SEAL_HDR_LEN + i * (chunk + SEAL_CHUNK_OVERHEAD):
 *     a crypto_secretstream_xchacha20poly1305 header (24) and one message (the chunk's
 *     plaintext, + 17 bytes), tag FINAL, keyed by K_i = BLAKE2b(K, "sevmon seal chunk" ||
 *     file_id || u64 i), with additional data file_id || u64 i || u32 length: a chunk
 *     cannot be moved, swapped, cut or taken from another file. The last chunk may be short.
 * The header's MAC covers the sizes, so a file cut short, or grown, is refused too.
 *
 * Errors: EDECODE a file that is not a finished sealed container, or whose header MAC or
 * any chunk fails to authenticate (tampering); EDENIED sealed to another key, or the key
 * does not open it (the sealed file key itself altered reads the same way); ETRUNC a file shorter than its header says; EIO, ENOMEM as usual.
 */
#ifndef SEVMON_MEM_SEAL_H
#define SEVMON_MEM_SEAL_H

#include <stddef.h>
#include <stdint.h>

#define SEAL_MAGIC "SEVMSEAL"
#define SEAL_HDR_LEN 256u
#define SEAL_KEY_LEN 32u
/* Plaintext per chunk: 1 MiB is one agent read, and what a random read decrypts at most. */
#define SEAL_CHUNK_DEFAULT (1u << 20)
/* A reader accepts chunks of 4 KiB .. 16 MiB (what it must hold in memory to read one). */
#define SEAL_CHUNK_MIN 4096u
#define SEAL_CHUNK_MAX (16u << 20)
/* secretstream header + its per-message overhead */
#define SEAL_CHUNK_OVERHEAD (24u + 17u)
#define SEAL_FINISHED 1u
/* Decrypted chunks a reader keeps (memory: this many chunks, allocated as used). */
#define SEAL_READER_CACHE 16u

/* 1 if the first bytes of a file (at least 8) are a sealed container's. */
int seal_is_sealed(const uint8_t *head, size_t n);

struct seal_reader;
/* Open a finished container on fd (the caller keeps fd open while the reader lives) with
 * the recipient's key pair (sk, pk: X25519, e.g. the IDS's Noise static key). why (may be
 * NULL) says what is wrong on failure. */
int seal_reader_open(int fd, const uint8_t sk[SEAL_KEY_LEN], const uint8_t pk[SEAL_KEY_LEN],
		     struct seal_reader **out, char *why, size_t whycap);
/* The plaintext's size. */
uint64_t seal_reader_size(const struct seal_reader *r);
/* Exactly n plaintext bytes at off (within the size: else EFAULT). A chunk that does not
 * authenticate is EDECODE. Decrypts each chunk touched; the SEAL_READER_CACHE most
 * recently read stay decrypted. */
int seal_reader_pread(struct seal_reader *r, uint64_t off, uint8_t *dst, size_t n);
void seal_reader_close(struct seal_reader *r);

struct seal_writer;
/* Start a container on fd (empty, or truncated by the caller) sealed to pk. */
int seal_writer_open(int fd, const uint8_t pk[SEAL_KEY_LEN], struct seal_writer **out);
/* Continue an unfinished container (an acquisition that was killed): the recipient's key
 * pair opens its key; whole chunks written so far are kept, a partial one is cut off.
 * *done gets how many plaintext bytes are safely in the file already (a chunk multiple);
 * the writer goes on from there. */
int seal_writer_resume(int fd, const uint8_t sk[SEAL_KEY_LEN], const uint8_t pk[SEAL_KEY_LEN],
		       struct seal_writer **out, uint64_t *done, char *why, size_t whycap);
/* Read back plaintext a resumed writer kept (within *done, before any new write). */
int seal_writer_pread(struct seal_writer *w, uint64_t off, uint8_t *dst, size_t n);
/* Append plaintext, in order. */
int seal_writer_write(struct seal_writer *w, const void *buf, size_t n);
/* Write the last chunk and the finished header; the writer is freed either way. */
int seal_writer_finish(struct seal_writer *w);
/* Free without finishing (the file stays an unfinished container, resumable). */
void seal_writer_abandon(struct seal_writer *w);

#endif
