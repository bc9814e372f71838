/*
 * ksyms_image.c — the kernel image's symbols kept beside a cached profile
 * (<build-id>.ksyms), so that checks on a cached profile name what an address lands in
 * without reading kallsyms from the guest again.
 *
 * Format, one symbol a line in address order: "OFFSET TYPE NAME", OFFSET hex from _stext,
 * TYPE one letter, NAME [!-~]{1,KSYMS_NAME_LEN-1}; a first line "ksyms 1 COUNT". The file is
 * ours, but read as untrusted all the same: counts, lengths and order are checked.
 */
#include <errno.h>
#include <stdatomic.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "introspect.h"

/* A 6.1 image has ~90k symbols between _stext and _end; twice the kallsyms bound keeps a
 * damaged file from making us allocate without limit. */
#define KSYMS_IMAGE_MAX KSYMS_MAX_SYMS
#define KSYMS_IMAGE_PATH 4096

static int image_path(char *buf, const char *dir, const char *id)
{
	if (!*id || strspn(id, "0123456789abcdef") != strlen(id))
		return SEVMON_EINVAL;
	int n = snprintf(buf, KSYMS_IMAGE_PATH, "%s/%s.ksyms", dir, id);
	return n < 0 || n >= KSYMS_IMAGE_PATH ? SEVMON_ETOOBIG : 0;
}

static uint64_t image_end(const struct kprofile *p)
{
	return p->sym__end ? p->sym__end : p->sym__stext + X86_KERNEL_IMAGE_SIZE;
}

int ksyms_save_image(const struct ksyms *ks, const struct kprofile *p, const char *dir)
{
	char path[KSYMS_IMAGE_PATH], tmp[KSYMS_IMAGE_PATH + 32];
	int rc = image_path(path, dir, p->build_id);
	if (rc < 0)
		return rc;
	static atomic_uint seq; /* a name per process and call (sevmond's workers) */
	snprintf(tmp, sizeof tmp, "%s.%ld.%u.tmp", path, (long)getpid(), atomic_fetch_add(&seq, 1u));
	FILE *f = fopen(tmp, "w");
	if (!f)
		return sevmon_from_errno(errno);
	size_t n = 0;
	uint64_t end = image_end(p);
	for (size_t i = 0; i < ks->n; i++)
		n += ks->sym[i].addr >= p->sym__stext && ks->sym[i].addr < end;
	fprintf(f, "ksyms 1 %zu\n", n);
	for (size_t i = 0; i < ks->n; i++) {
		const struct ksym *s = &ks->sym[i];
		if (s->addr >= p->sym__stext && s->addr < end)
			fprintf(f, "%" PRIx64 " %c %s\n", s->addr - p->sym__stext, s->type,
				ks->strtab + s->name);
	}
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		rc = sevmon_from_errno(errno);
		remove(tmp);
		return rc;
	}
	return 0;
}

static int name_cmp(const void *a, const void *b, void *ctx)
{
	const struct ksyms *ks = ctx;
	int c = strcmp(ks->strtab + ks->sym[*(const uint32_t *)a].name,
		       ks->strtab + ks->sym[*(const uint32_t *)b].name);
	if (c)
		return c;
	return *(const uint32_t *)a < *(const uint32_t *)b ? -1 : 1;
}

int ksyms_load_image(struct ksyms *ks, const struct kprofile *p, const char *dir)
{
	char path[KSYMS_IMAGE_PATH], line[KSYMS_NAME_LEN + 64];
	size_t n, used = 0, cap = 1u << 20;
	int rc = image_path(path, dir, p->build_id);
	memset(ks, 0, sizeof *ks);
	if (rc < 0)
		return rc;
	FILE *f = fopen(path, "r");
	if (!f)
		return errno == ENOENT ? SEVMON_ENOENT : sevmon_from_errno(errno);
	rc = SEVMON_EDECODE;
	if (!fgets(line, sizeof line, f) || sscanf(line, "ksyms 1 %zu", &n) != 1 ||
	    n > KSYMS_IMAGE_MAX)
		goto fail;
	rc = SEVMON_ENOMEM;
	ks->sym = calloc(n ? n : 1, sizeof *ks->sym);
	ks->by_name = calloc(n ? n : 1, sizeof *ks->by_name);
	ks->strtab = malloc(cap);
	if (!ks->sym || !ks->by_name || !ks->strtab)
		goto fail;
	uint64_t last = 0, end = image_end(p) - p->sym__stext;
	for (size_t i = 0; i < n; i++) {
		char type, name[KSYMS_NAME_LEN];
		uint64_t off;
		rc = SEVMON_EDECODE;
		if (!fgets(line, sizeof line, f) || !strchr(line, '\n') ||
		    sscanf(line, "%" SCNx64 " %c %511s", &off, &type, name) != 3 || off < last ||
		    off >= end)
			goto fail;
		size_t l = strlen(name) + 1;
		if (used + l > cap) {
			if (cap >= KSYMS_MAX_NAMES_BYTES)
				goto fail;
			char *t = realloc(ks->strtab, cap * 2);
			rc = SEVMON_ENOMEM;
			if (!t)
				goto fail;
			ks->strtab = t;
			cap *= 2;
		}
		memcpy(ks->strtab + used, name, l);
		ks->sym[i] = (struct ksym){ .addr = p->sym__stext + off, .name = (uint32_t)used, .type = type };
		ks->by_name[i] = (uint32_t)i;
		used += l;
		last = off;
	}
	ks->n = n;
	qsort_r(ks->by_name, n, sizeof *ks->by_name, name_cmp, ks);
	fclose(f);
	return 0;
fail:
	fclose(f);
	ksyms_free(ks);
	return rc;
}

const struct ksyms *kintro_ksyms(struct kintro *k)
{
	if (k->ks.n)
		return &k->ks;
	if (!k->img_syms_tried) {
		char dir[512];
		k->img_syms_tried = 1;
		if (kprofile_cache_dir(dir, sizeof dir) < 0 ||
		    ksyms_load_image(&k->img_syms, &k->p, dir) < 0)
			memset(&k->img_syms, 0, sizeof k->img_syms);
	}
	return k->img_syms.n ? &k->img_syms : NULL;
}

void kintro_symbolize(struct kintro *k, uint64_t addr, char *buf, size_t cap)
{
	const struct ksyms *ks = kintro_ksyms(k);
	uint64_t off = 0;
	long i = ks ? ksym_at(ks, addr, &off) : -1;
	/* past the image, or far past a symbol (padding, freed init memory): no name */
	if (i < 0 || addr >= image_end(&k->p) || off >= (1u << 20))
		snprintf(buf, cap, "0x%" PRIx64, addr);
	else if (off)
		snprintf(buf, cap, "%s+0x%" PRIx64, ksym_name(ks, (size_t)i), off);
	else
		snprintf(buf, cap, "%s", ksym_name(ks, (size_t)i));
}
