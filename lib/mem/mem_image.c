/*
 * mem_image.c — a saved guest: QEMU ELF core (dump-guest-memory) or raw physical image.
 *
 * Both are read with pread, so a file that shrinks under us gives EFAULT, never a signal.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "mem_impl.h"

/* QEMU's kdump-compressed format begins with this signature (refused: not supported). */
#define KDUMP_SIGNATURE "KDUMP   "
/* makedumpfile's flattened format. */
#define FLAT_SIGNATURE "makedumpfile"

struct image_source {
	struct mem_source base;
	int fd;
	struct mem_map phys;
};

static struct image_source *to_image(struct mem_source *m)
{
	return (struct image_source *)m;
}

static int image_read_phys(struct mem_source *m, uint64_t addr, void *buf, size_t len)
{
	struct image_source *s = to_image(m);
	return mem_map_read(&s->phys, addr, buf, len, mem_pread_chunk, &s->fd);
}

static void image_close(struct mem_source *m)
{
	struct image_source *s = to_image(m);
	mem_map_free(&s->phys);
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

static int build_elf(struct image_source *s, uint64_t size)
{
	struct mem_elf e;
	int rc = mem_elf_parse(s->fd, size, &e);
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
		rc = mem_elf_vmcoreinfo(s->fd, &e, &s->base.vmci_note, &s->base.vmci_note_len);
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
	static const char *const keys[] = { NULL };
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
	if (memcmp(head, KDUMP_SIGNATURE, 8) == 0 || memcmp(head, FLAT_SIGNATURE, 12) == 0)
		rc = SEVMON_ENOTSUP;
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
	close(s->fd);
	free(s);
	return rc;
}
