/*
 * fuzz_btf.c — type information as a hostile guest supplies it: the kernel's BTF blob
 * (libbpf's btf__new, as ktypes_load calls it on bytes read from guest memory) and every
 * layout the profile takes from it (kprofile_from_btf: offsets, sizes, enum values,
 * struct module's memory shape), each missing or misshapen member an error.
 * Seed: the BTF of the machine's own kernel (/sys/kernel/btf/vmlinux), where there is one.
 */
#include <bpf/btf.h>
#include <stdint.h>

#include "introspect.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct btf *btf = btf__new(data, (__u32)size);
	if (!btf)
		return 0;
	static struct kprofile p;
	char err[160];
	(void)kprofile_from_btf(&p, btf, err, sizeof err);
	uint32_t off, sz;
	int64_t v;
	(void)ktypes_offsetof(btf, "task_struct", "se.vruntime", &off, &sz);
	(void)ktypes_sizeof(btf, "task_struct", &sz);
	(void)ktypes_enum_value(btf, "MODULE_STATE_LIVE", &v);
	btf__free(btf);
	return 0;
}
