/*
 * xlate.c — a gmem serving kernel-virtual ranges over a physical-only gmem (placement (b):
 * the agent reads guest RAM and knows nothing of the guest's page tables).
 * The kernel image is mapped linearly: pa = va - __START_KERNEL_map + phys_base
 * (arch/x86/include/asm/page_64.h __phys_addr_symbol); anything else goes through the walker,
 * page by page, since virtually contiguous memory need not be physically contiguous.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "introspect.h"
#include "err.h"

#define XLATE_PAGE 4096ull

struct piece {
	size_t range; /* index of the caller's range */
	size_t slot;  /* index in the physical gather, or SIZE_MAX if it faulted */
	int walk;     /* translated through the page tables (else pa is already known) */
	uint64_t va;
	uint64_t pa;
	uint32_t len;
	uint8_t *out;
};

static int in_image(uint64_t va, uint64_t len)
{
	return va >= X86_START_KERNEL_MAP && len <= X86_KERNEL_IMAGE_SIZE &&
	       va - X86_START_KERNEL_MAP <= X86_KERNEL_IMAGE_SIZE - len;
}

static int xlate_gather(void *ctx, struct gmem_range *r, size_t n)
{
	struct xlate *x = ctx;
	size_t np = 0, nwalk = 0;
	for (size_t i = 0; i < n; i++) {
		if (r[i].space != GMEM_VIRT || in_image(r[i].addr, r[i].len) || !r[i].len)
			np++;
		else
			np += (size_t)(((r[i].addr & (XLATE_PAGE - 1)) + r[i].len + XLATE_PAGE - 1) / XLATE_PAGE);
	}
	struct piece *p = calloc(np ? np : 1, sizeof *p);
	struct gmem_range *pr = calloc(np ? np : 1, sizeof *pr);
	uint64_t *va = calloc(np ? np : 1, sizeof *va), *pa = calloc(np ? np : 1, sizeof *pa);
	int *st = calloc(np ? np : 1, sizeof *st);
	int rc = SEVMON_ENOMEM;
	if (!p || !pr || !va || !pa || !st)
		goto out;
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		r[i].status = 0;
		if (r[i].space != GMEM_VIRT) {
			p[k++] = (struct piece){ .range = i, .pa = r[i].addr, .len = r[i].len, .out = r[i].out };
		} else if (in_image(r[i].addr, r[i].len) || !r[i].len) {
			uint64_t a = r[i].addr - X86_START_KERNEL_MAP + (uint64_t)x->phys_base;
			p[k++] = (struct piece){ .range = i, .pa = a, .len = r[i].len, .out = r[i].out };
		} else {
			uint64_t a = r[i].addr, left = r[i].len;
			uint8_t *o = r[i].out;
			while (left) {
				uint64_t in = XLATE_PAGE - (a & (XLATE_PAGE - 1));
				uint32_t l = (uint32_t)(in < left ? in : left);
				p[k] = (struct piece){ .range = i, .va = a, .len = l, .out = o, .walk = 1 };
				va[nwalk++] = a;
				k++;
				a += l;
				o += l;
				left -= l;
			}
		}
	}
	if (nwalk && (rc = pw_translate(x->pw, va, pa, st, nwalk)) < 0)
		goto out;
	size_t w = 0, nr = 0;
	for (size_t j = 0; j < k; j++) {
		if (p[j].walk) {
			size_t t = w++;
			if (st[t] < 0) {
				r[p[j].range].status = st[t];
				p[j].slot = SIZE_MAX;
				continue;
			}
			p[j].pa = pa[t];
		}
		p[j].slot = nr;
		pr[nr++] = (struct gmem_range){ .addr = p[j].pa, .len = p[j].len, .space = GMEM_PHYS,
			.out = p[j].out };
	}
	rc = gmem_gather(x->pw->phys, pr, nr);
	if (rc < 0)
		goto out;
	for (size_t j = 0; j < k; j++)
		if (p[j].slot != SIZE_MAX && pr[p[j].slot].status < 0 && r[p[j].range].status == 0)
			r[p[j].range].status = pr[p[j].slot].status;
out:
	free(p);
	free(pr);
	free(va);
	free(pa);
	free(st);
	return rc;
}

static const struct gmem_ops xlate_ops = { .gather = xlate_gather };

void xlate_gmem(struct gmem *out, struct xlate *x)
{
	*out = (struct gmem){ .ops = &xlate_ops, .ctx = x, .virt = 1,
		/* Ranges are split into pages inside: keep the outer batches moderate. */
		.max_ranges = 1024 };
}

int xlate_from_vmci(struct xlate *x, struct pagewalk *pw, struct gmem *phys,
	const struct vmcoreinfo *vi)
{
	uint64_t top;
	int64_t pb, l5 = 0, sme = 0;
	if (vmci_symbol(vi, "init_top_pgt", &top) < 0 || vmci_number(vi, "NUMBER", "phys_base", &pb) < 0 ||
	    top < X86_START_KERNEL_MAP || top - X86_START_KERNEL_MAP >= X86_KERNEL_IMAGE_SIZE)
		return SEVMON_EDECODE;
	(void)vmci_number(vi, "NUMBER", "pgtable_l5_enabled", &l5);
	(void)vmci_number(vi, "NUMBER", "sme_mask", &sme);
	memset(pw, 0, sizeof *pw);
	pw->phys = phys;
	pw->top_pa = top - X86_START_KERNEL_MAP + (uint64_t)pb;
	pw->levels = l5 ? 5 : 4;
	pw->sme_mask = (uint64_t)sme;
	*x = (struct xlate){ .pw = pw, .phys_base = pb };
	return 0;
}
