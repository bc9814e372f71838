/*
 * fuzz_vmcoreinfo.c — a VMCOREINFO note as a hostile guest plants it: the ELF note
 * (vmci_from_note), its key=value text, every getter the set-up uses (the release, the
 * page-table root and phys_base, KERNELOFFSET, the kallsyms table addresses), and the
 * placement-(b) translation set-up from it.
 */
#include <stdint.h>

#include "introspect.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vmcoreinfo vi;
	if (vmci_from_note(&vi, data, size) < 0)
		return 0;
	uint64_t v;
	int64_t n;
	(void)vmci_get(&vi, "OSRELEASE");
	(void)vmci_get(&vi, "BUILD-ID");
	(void)vmci_get(&vi, "KERNELOFFSET");
	(void)vmci_symbol(&vi, "init_top_pgt", &v);
	(void)vmci_number(&vi, "NUMBER", "phys_base", &n);
	(void)vmci_number(&vi, "NUMBER", "pgtable_l5_enabled", &n);
	(void)vmci_number(&vi, "OFFSET", "list_head.next", &n);
	struct ksyms_loc loc;
	(void)ksyms_loc_vmci(&loc, &vi);
	struct xlate x;
	struct pagewalk pw;
	struct gmem none = { 0 };
	(void)xlate_from_vmci(&x, &pw, &none, &vi);
	vmci_free(&vi);
	return 0;
}
