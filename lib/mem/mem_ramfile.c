/*
 * mem_ramfile.c — live guest RAM shared by QEMU through a memory-backend-file (share=on).
 *
 * The file is mapped MAP_SHARED, PROT_READ: QEMU's writes to guest RAM land in the same
 * page cache, so every read sees current memory and nothing is copied up front.
 *
 * x86 pc/q35 layout (QEMU 7.2, checked against real QEMU in test_mem_ramfile): the RAM
 * block is split once, file [0, lowmem) at guest-physical [0, lowmem) and file [lowmem, end)
 * at 4 GiB onward; [lowmem, 4 GiB) is the PCI hole. QEMU picks lowmem (default
 * max-ram-below-4g) as:
 *   pc   ram >= 0xe0000000 (3.5 GiB) ? 0xc0000000 (3 GiB, gigabyte-aligned) : ram
 *   q35  ram >= 0xb0000000 (2.75 GiB) ? 0x80000000 (2 GiB) : ram
 *
 * A file truncated while mapped would raise SIGBUS on access past its new end, so each
 * read checks the current size with fstat first and answers EFAULT. (A truncation racing
 * between that check and the copy is not covered: QEMU never shrinks its RAM file.)
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "mem_impl.h"

#define GIB (1ull << 30)
#define FOUR_GIB (4ull << 30)
/* Right for any guest of <= 2 GiB on pc or q35, and for q35 guests of >= 2.75 GiB. */
#define RAMFILE_DEFAULT_LOWMEM (2ull << 30)

struct ramfile_source {
	struct mem_source base;
	int fd;
	const uint8_t *map;
	size_t map_len;
	struct mem_map phys;
};

static struct ramfile_source *to_ramfile(struct mem_source *m)
{
	return (struct ramfile_source *)m;
}

static int ramfile_chunk(void *ctx, uint64_t off, uint8_t *dst, size_t n)
{
	struct ramfile_source *s = ctx;
	struct stat st;

	if (fstat(s->fd, &st) < 0)
		return SEVMON_EIO;
	/* The map covers the size at open; pages past the file's current end would fault. */
	if (st.st_size < 0 || off > (uint64_t)st.st_size || n > (uint64_t)st.st_size - off ||
	    off > s->map_len || n > s->map_len - off)
		return SEVMON_EFAULT;
	memcpy(dst, s->map + off, n);
	return 0;
}

static int ramfile_read_phys(struct mem_source *m, uint64_t addr, void *buf, size_t len)
{
	struct ramfile_source *s = to_ramfile(m);
	return mem_map_read(&s->phys, addr, buf, len, ramfile_chunk, s);
}

static void ramfile_close(struct mem_source *m)
{
	struct ramfile_source *s = to_ramfile(m);
	mem_map_free(&s->phys);
	munmap((void *)s->map, s->map_len);
	close(s->fd);
	free(s);
}

static const struct mem_ops ramfile_ops = {
	.kind = "ramfile",
	.read_phys = ramfile_read_phys,
	.read_virt = NULL,
	.close = ramfile_close,
};

/* lowmem from the options: lowmem= wins, then machine=, then the default. */
static int pick_lowmem(const char *opts, uint64_t base, uint64_t ram, uint64_t *lowmem)
{
	char v[32];
	int rc;

	rc = mem_spec_opt(opts, "lowmem", v, sizeof(v));
	if (rc < 0)
		return rc;
	if (rc == 1)
		return mem_parse_u64(v, lowmem) < 0 || *lowmem == 0 ? SEVMON_EINVAL : 0;
	rc = mem_spec_opt(opts, "machine", v, sizeof(v));
	if (rc < 0)
		return rc;
	if (rc == 1) {
		if (strcmp(v, "pc") == 0)
			*lowmem = ram >= 0xe0000000ull ? 3 * GIB : ram;
		else if (strcmp(v, "q35") == 0)
			*lowmem = ram >= 0xb0000000ull ? 2 * GIB : ram;
		else
			return SEVMON_EINVAL;
		return 0;
	}
	*lowmem = base == 0 ? RAMFILE_DEFAULT_LOWMEM : ram;
	return 0;
}

static int build_layout(struct ramfile_source *s, const char *opts, uint64_t ram)
{
	uint64_t base = 0, lowmem;
	char v[32];
	int rc;

	rc = mem_spec_opt(opts, "base", v, sizeof(v));
	if (rc < 0 || (rc == 1 && mem_parse_u64(v, &base) < 0))
		return SEVMON_EINVAL;
	rc = pick_lowmem(opts, base, ram, &lowmem);
	if (rc < 0)
		return rc;

	uint64_t low = lowmem < ram ? lowmem : ram;
	uint64_t high = ram - low;
	/* The high part starts at 4 GiB, so the low part must end at or below it. */
	if (low - 1 > UINT64_MAX - base || (high > 0 && base + low > FOUR_GIB))
		return SEVMON_EINVAL;

	struct mem_seg *segs = calloc(2, sizeof(*segs));
	if (!segs)
		return SEVMON_ENOMEM;
	segs[0] = (struct mem_seg){ .addr = base, .size = low, .off = 0 };
	segs[1] = (struct mem_seg){ .addr = FOUR_GIB, .size = high, .off = low };
	return mem_map_build(&s->phys, segs, 2);
}

int mem_ramfile_open(const char *args, struct mem_source **out)
{
	char path[PATH_MAX];
	const char *opts;
	static const char *const keys[] = { "base", "lowmem", "machine", NULL };
	struct stat st;
	int rc;

	if (!args || mem_spec_path(args, path, sizeof(path), &opts) < 0 ||
	    mem_spec_check_keys(opts, keys) < 0)
		return SEVMON_EINVAL;

	struct ramfile_source *s = calloc(1, sizeof(*s));
	if (!s)
		return SEVMON_ENOMEM;
	s->base.ops = &ramfile_ops;
	s->map = MAP_FAILED;
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
	if (!S_ISREG(st.st_mode) || st.st_size <= 0 || (uint64_t)st.st_size > SIZE_MAX) {
		rc = SEVMON_EINVAL;
		goto fail;
	}
	s->map_len = (size_t)st.st_size;
	rc = build_layout(s, opts, (uint64_t)st.st_size);
	if (rc < 0)
		goto fail;
	s->map = mmap(NULL, s->map_len, PROT_READ, MAP_SHARED, s->fd, 0);
	if (s->map == MAP_FAILED) {
		rc = SEVMON_ESYS;
		goto fail;
	}
	rc = mem_map_regions(&s->phys, &s->base.regions, &s->base.nregions);
	if (rc < 0)
		goto fail;
	*out = &s->base;
	return 0;
fail:
	if (s->map != MAP_FAILED)
		munmap((void *)s->map, s->map_len);
	mem_map_free(&s->phys);
	close(s->fd);
	free(s);
	return rc;
}
