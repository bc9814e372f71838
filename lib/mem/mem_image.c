/*
 * mem_image.c — a saved guest: an ELF core (QEMU's dump-guest-memory, `sevmon acquire
 * --format elf`), a LiME file (`sevmon acquire`'s default, the format memory forensics
 * tools read), or a raw physical image; plain, or inside a sealed container (mem_seal.h:
 * spec option key=KEYFILE gives the recipient's key pair, read with session_key_load).
 *
 * Everything is read with pread (or a sealed chunk's decryption), so a file that shrinks
 * under us gives EFAULT, never a signal.
 */
#include <limits.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "mem_impl.h"
#include "mem_seal.h"
#include "rbuf.h"
#include "session.h"

/* QEMU's kdump-compressed format begins with this signature (refused: not supported). */
#define KDUMP_SIGNATURE "KDUMP   "
/* makedumpfile's flattened format. */
#define FLAT_SIGNATURE "makedumpfile"

/* LiME (github.com/504ensicsLabs/LiME, doc/README.md "Format"): a 32-byte header per
 * range, "EMiL" little-endian magic, version 1, start and inclusive end address, 8
 * reserved bytes, then the range's bytes; ranges follow one another to the end. */
#define LIME_MAGIC 0x4c694d45u
#define LIME_VERSION 1u
#define LIME_HDR 32u
/* A LiME file has a range per RAM block of the guest: a few; bounded like ELF headers. */
#define LIME_MAX_RANGES MEM_ELF_MAX_PHDRS

struct image_source {
	struct mem_source base;
	int fd;
	struct seal_reader *sealed; /* NULL: the file is the image */
	struct mem_map phys;
};

/* The image's bytes: the file, or the plaintext of its sealed container. */
static int sealed_chunk(void *ctx, uint64_t off, uint8_t *dst, size_t n)
{
	return seal_reader_pread(ctx, off, dst, n); /* EDECODE: a chunk altered on disk */
}

static mem_chunk_fn image_fn(struct image_source *s, void **ctx)
{
	if (s->sealed) {
		*ctx = s->sealed;
		return sealed_chunk;
	}
	*ctx = &s->fd;
	return mem_pread_chunk;
}

static struct image_source *to_image(struct mem_source *m)
{
	return (struct image_source *)m;
}

static int image_read_phys(struct mem_source *m, uint64_t addr, void *buf, size_t len)
{
	struct image_source *s = to_image(m);
	void *ctx;
	mem_chunk_fn fn = image_fn(s, &ctx);
	return mem_map_read(&s->phys, addr, buf, len, fn, ctx);
}

static void image_close(struct mem_source *m)
{
	struct image_source *s = to_image(m);
	mem_map_free(&s->phys);
	seal_reader_close(s->sealed);
	close(s->fd);
	free(s);
}

static const struct mem_ops image_ops = {
	.kind = "image",
	.read_phys = image_read_phys,
	.read_virt = NULL,
	.close = image_close,
};

static int build_raw(struct image_source *s, uint64_t size)
{
	struct mem_seg *seg = malloc(sizeof(*seg));
	if (!seg)
		return SEVMON_ENOMEM;
	seg->addr = 0;
	seg->size = size;
	seg->off = 0;
	return mem_map_build(&s->phys, seg, 1);
}

/* LiME ranges, one after the other to the end of the image. */
static int build_lime(struct image_source *s, uint64_t size)
{
	void *ctx;
	mem_chunk_fn fn = image_fn(s, &ctx);
	struct mem_seg *segs = NULL;
	size_t n = 0, cap = 0;
	uint64_t off = 0;
	int rc = 0;
	while (rc == 0 && off < size) {
		uint8_t h[LIME_HDR];
		struct rbuf r = rbuf_make(h, sizeof h);
		uint32_t magic, version;
		uint64_t start, end;
		if (size - off < LIME_HDR || fn(ctx, off, h, sizeof h) < 0) {
			rc = SEVMON_EINVAL; /* a header cut short */
			break;
		}
		(void)(rbuf_get_le32(&r, &magic) || rbuf_get_le32(&r, &version) ||
		       rbuf_get_le64(&r, &start) || rbuf_get_le64(&r, &end));
		if (magic != LIME_MAGIC || version != LIME_VERSION || end < start ||
		    end - start >= size - off - LIME_HDR || n == LIME_MAX_RANGES) {
			rc = SEVMON_EINVAL;
			break;
		}
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 16;
			struct mem_seg *v = realloc(segs, nc * sizeof *v);
			if (!v) {
				rc = SEVMON_ENOMEM;
				break;
			}
			segs = v;
			cap = nc;
		}
		segs[n++] = (struct mem_seg){ .addr = start, .size = end - start + 1,
					      .off = off + LIME_HDR };
		off += LIME_HDR + (end - start + 1);
	}
	if (rc < 0) {
		free(segs);
		return rc;
	}
	return mem_map_build(&s->phys, segs, n);
}

static int build_elf(struct image_source *s, uint64_t size)
{
	struct mem_elf e;
	void *ctx;
	mem_chunk_fn fn = image_fn(s, &ctx);
	int rc = mem_elf_parse(fn, ctx, size, &e);
	if (rc < 0)
		return rc;

	struct mem_seg *segs = calloc(e.nph, sizeof(*segs));
	if (!segs) {
		mem_elf_free(&e);
		return SEVMON_ENOMEM;
	}
	size_t n = 0;
	for (size_t i = 0; i < e.nph; i++) {
		const struct mem_elf_phdr *p = &e.ph[i];
		if (p->type != MEM_ELF_PT_LOAD)
			continue;
		/* Only the bytes in the file are served: memsz beyond filesz (a filtered dump)
		 * was not saved and must not read as zeros. */
		segs[n].addr = p->paddr;
		segs[n].size = p->filesz;
		segs[n].off = p->offset;
		n++;
	}
	rc = mem_map_build(&s->phys, segs, n);
	if (rc == 0) {
		rc = mem_elf_vmcoreinfo(fn, ctx, &e, &s->base.vmci_note, &s->base.vmci_note_len);
		if (rc == SEVMON_ENOENT)
			rc = 0;
	}
	mem_elf_free(&e);
	return rc;
}

int mem_image_open(const char *args, struct mem_source **out)
{
	char path[PATH_MAX];
	const char *opts;
	static const char *const keys[] = { "key", NULL };
	struct stat st;
	uint8_t head[16];
	int rc;

	if (!args || mem_spec_path(args, path, sizeof(path), &opts) < 0 ||
	    mem_spec_check_keys(opts, keys) < 0)
		return SEVMON_EINVAL;

	struct image_source *s = calloc(1, sizeof(*s));
	if (!s)
		return SEVMON_ENOMEM;
	s->base.ops = &image_ops;
	s->fd = mem_open_ro(path);
	if (s->fd < 0) {
		rc = s->fd;
		free(s);
		return rc;
	}
	if (fstat(s->fd, &st) < 0) {
		rc = SEVMON_ESYS;
		goto fail;
	}
	if (!S_ISREG(st.st_mode) || st.st_size <= 0) {
		rc = SEVMON_EINVAL;
		goto fail;
	}
	uint64_t size = (uint64_t)st.st_size;

	memset(head, 0, sizeof(head));
	if (pread(s->fd, head, sizeof(head), 0) < 0) {
		rc = SEVMON_EIO;
		goto fail;
	}
	if (seal_is_sealed(head, sizeof head)) {
		/* the image is the container's plaintext: read the key, open it */
		char kpath[PATH_MAX];
		struct noise_keypair kp;
		if (mem_spec_opt(opts, "key", kpath, sizeof kpath) != 1) {
			rc = SEVMON_EDENIED; /* sealed, and no key to open it with */
			goto fail;
		}
		if ((rc = session_key_load(kpath, &kp)) < 0)
			goto fail;
		rc = seal_reader_open(s->fd, kp.priv, kp.pub, &s->sealed, NULL, 0);
		sodium_memzero(&kp, sizeof kp);
		if (rc < 0)
			goto fail;
		size = seal_reader_size(s->sealed);
		memset(head, 0, sizeof head);
		if (size && (rc = sealed_chunk(s->sealed, 0, head, size < sizeof head ? (size_t)size
										     : sizeof head)) < 0)
			goto fail;
		if (size == 0) {
			rc = SEVMON_EINVAL;
			goto fail;
		}
	}
	if (memcmp(head, KDUMP_SIGNATURE, 8) == 0 || memcmp(head, FLAT_SIGNATURE, 12) == 0)
		rc = SEVMON_ENOTSUP;
	else if (load_le32(head) == LIME_MAGIC)
		rc = build_lime(s, size);
	else if (memcmp(head, MEM_ELF_MAGIC, 4) == 0)
		/* A raw image starting with an ELF header would be physical page 0 (the x86
		 * real-mode vector table) holding "\x7fELF": not a case worth guessing about. */
		rc = build_elf(s, size);
	else
		rc = build_raw(s, size);
	if (rc == 0)
		rc = mem_map_regions(&s->phys, &s->base.regions, &s->base.nregions);
	if (rc < 0)
		goto fail;
	*out = &s->base;
	return 0;
fail:
	free(s->base.regions);
	free(s->base.vmci_note);
	mem_map_free(&s->phys);
	seal_reader_close(s->sealed);
	close(s->fd);
	free(s);
	return rc;
}
