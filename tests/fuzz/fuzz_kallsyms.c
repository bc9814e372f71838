/*
 * fuzz_kallsyms.c — the kernel's own symbol tables as a hostile guest lays them out: the
 * decoder (ksyms_load) on tables at addresses the input gives, and the structural locator
 * (ksyms_loc_scan) over the same memory.
 * Input: 7 x u32 LE table offsets from FUZZ_KBASE (token_table, token_index, names,
 * num_syms, offsets, relative_base, markers), then the memory.
 */
#include <stdint.h>

#include "fuzz_gmem.h"
#include "introspect.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t at(const uint8_t *p) /* an offset, as an address in the input's memory */
{
	uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
	return FUZZ_KBASE + v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 28)
		return 0;
	struct ksyms_loc loc = { at(data), at(data + 4), at(data + 8), at(data + 12), at(data + 16),
				 at(data + 20), at(data + 24) };
	struct fuzz_mem m;
	struct gmem g;
	fuzz_gmem_init(&g, &m, data + 28, size - 28);
	struct ksyms ks;
	if (ksyms_load(&ks, &g, &loc) == 0) {
		uint64_t a;
		(void)ksym_lookup(&ks, "init_task", &a);
		for (size_t i = 0; i < ks.n && i < 16; i++)
			(void)ksym_name(&ks, i);
		ksyms_free(&ks);
	}
	if (ksyms_loc_scan(&loc, &g, FUZZ_KBASE, size - 28) == 0 && ksyms_load(&ks, &g, &loc) == 0)
		ksyms_free(&ks);
	return 0;
}
