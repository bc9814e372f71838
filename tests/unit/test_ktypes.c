/* test_ktypes.c — member offsets from BTF: nested paths, anonymous unions and structs,
 * typedefs, bitfield rejection, enums. The BTF is written with libbpf's own writer and read
 * back from its raw bytes, as the guest's .BTF would be. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/btf.h>

#include "err.h"
#include "harness.h"
#include "rbuf.h"
#include "introspect.h"

/* struct task {            // 48 bytes
 *   int state;             // 0
 *   union {                // 4, anonymous
 *     int pid;             // 4
 *     struct { int x; int y; };  // 4, 8
 *   };
 *   int flags:3;           // 12, a bitfield
 *   char comm[16];         // 16
 *   kuid_t uid;            // 32, typedef struct { int val; } kuid_t
 *   struct list_head tasks;// 40 (next at 40)
 * };                        */
static struct btf *make_btf(void)
{
	struct btf *w = btf__new_empty();
	ASSERT(w != NULL);
	int i32 = btf__add_int(w, "int", 4, BTF_INT_SIGNED);
	int chr = btf__add_int(w, "char", 1, 0);
	int arr = btf__add_array(w, i32, chr, 16);
	/* Fields attach to the type added last: the pointer refers forward to list_head. */
	int lhp = btf__add_ptr(w, arr + 2);
	int lh = btf__add_struct(w, "list_head", 16);
	ASSERT_EQ(lh, arr + 2);
	ASSERT_EQ(btf__add_field(w, "next", lhp, 0, 0), 0);
	ASSERT_EQ(btf__add_field(w, "prev", lhp, 64, 0), 0);
	int kuid = btf__add_struct(w, NULL, 4);
	ASSERT_EQ(btf__add_field(w, "val", i32, 0, 0), 0);
	int kuid_t = btf__add_typedef(w, "kuid_t", kuid);
	int xy = btf__add_struct(w, NULL, 8);
	ASSERT_EQ(btf__add_field(w, "x", i32, 0, 0), 0);
	ASSERT_EQ(btf__add_field(w, "y", i32, 32, 0), 0);
	int un = btf__add_union(w, NULL, 8);
	ASSERT_EQ(btf__add_field(w, "pid", i32, 0, 0), 0);
	ASSERT_EQ(btf__add_field(w, NULL, xy, 0, 0), 0);
	ASSERT(btf__add_struct(w, "task", 56) > 0);
	ASSERT_EQ(btf__add_field(w, "state", i32, 0, 0), 0);
	ASSERT_EQ(btf__add_field(w, NULL, un, 32, 0), 0);
	ASSERT_EQ(btf__add_field(w, "flags", i32, 96, 3), 0);
	ASSERT_EQ(btf__add_field(w, "comm", arr, 128, 0), 0);
	ASSERT_EQ(btf__add_field(w, "uid", kuid_t, 256, 0), 0);
	ASSERT_EQ(btf__add_field(w, "tasks", lh, 320, 0), 0);
	ASSERT(btf__add_enum(w, "module_state", 4) > 0);
	ASSERT_EQ(btf__add_enum_value(w, "MODULE_STATE_LIVE", 0), 0);
	ASSERT_EQ(btf__add_enum_value(w, "MODULE_STATE_COMING", 1), 0);
	uint32_t size = 0;
	const void *raw = btf__raw_data(w, &size);
	ASSERT(raw != NULL && size > 0);
	struct btf *b = btf__new(raw, size);
	ASSERT(b != NULL);
	btf__free(w);
	return b;
}

static void expect(const struct btf *b, const char *type, const char *path, int rc,
	uint32_t off, uint32_t size)
{
	uint32_t o = 0xffffffff, s = 0xffffffff;
	ASSERT_EQ(ktypes_offsetof(b, type, path, &o, &s), rc);
	if (rc == 0) {
		ASSERT_UEQ(o, off);
		ASSERT_UEQ(s, size);
	}
}

TEST(ktypes_offsetof_direct_members)
{
	struct btf *b = make_btf();
	expect(b, "task", "state", 0, 0, 4);
	expect(b, "task", "comm", 0, 16, 16);
	expect(b, "task", "tasks", 0, 40, 16);
	expect(b, "list_head", "prev", 0, 8, 8);
	btf__free(b);
}

TEST(ktypes_offsetof_through_anonymous_members)
{
	struct btf *b = make_btf();
	expect(b, "task", "pid", 0, 4, 4);
	expect(b, "task", "x", 0, 4, 4);
	expect(b, "task", "y", 0, 8, 4);
	btf__free(b);
}

TEST(ktypes_offsetof_nested_path_and_typedef)
{
	struct btf *b = make_btf();
	expect(b, "task", "uid.val", 0, 32, 4);
	expect(b, "task", "uid", 0, 32, 4);
	expect(b, "task", "tasks.prev", 0, 48, 8);
	btf__free(b);
}

TEST(ktypes_offsetof_rejects_bitfield_and_missing)
{
	struct btf *b = make_btf();
	expect(b, "task", "flags", SEVMON_ENOTSUP, 0, 0);
	expect(b, "task", "nope", SEVMON_ENOENT, 0, 0);
	expect(b, "no_such_struct", "x", SEVMON_ENOENT, 0, 0);
	expect(b, "task", "comm.x", SEVMON_ENOENT, 0, 0); /* an array has no members */
	expect(b, "task", "uid.", SEVMON_EINVAL, 0, 0);
	expect(b, "task", ".uid", SEVMON_EINVAL, 0, 0);
	btf__free(b);
}

TEST(ktypes_enum_lookup)
{
	struct btf *b = make_btf();
	int64_t v = -1;
	ASSERT_EQ(ktypes_enum_value(b, "MODULE_STATE_COMING", &v), 0);
	ASSERT_EQ(v, 1);
	ASSERT_EQ(ktypes_enum_value(b, "NOT_AN_ENUMERATOR", &v), SEVMON_ENOENT);
	ASSERT_STREQ(ktypes_enum_name(b, "module_state", 0), "MODULE_STATE_LIVE");
	ASSERT(ktypes_enum_name(b, "module_state", 7) == NULL);
	ASSERT(ktypes_enum_name(b, "no_enum", 0) == NULL);
	btf__free(b);
}

/* A bzImage-shaped file: setup header with payload_offset/length, then the payload. */
static void write_bz(const char *path, const uint8_t *payload, size_t n, uint32_t claim_off,
		     uint32_t claim_len, int hdrs)
{
	static uint8_t img[8192];
	memset(img, 0, sizeof img);
	img[0x1f1] = 1; /* setup_sects: the payload area starts at (1 + 1) * 512 */
	if (hdrs)
		memcpy(img + 0x202, "HdrS", 4);
	store_le32(img + 0x248, claim_off);
	store_le32(img + 0x24c, claim_len);
	ASSERT(1024 + 16 + n <= sizeof img);
	memcpy(img + 1024 + 16, payload, n);
	FILE *f = fopen(path, "wb");
	ASSERT(f != NULL);
	ASSERT_EQ(fwrite(img, 1, sizeof img, f), sizeof img);
	fclose(f);
}

TEST(ktypes_load_vmlinuz_rejects_junk)
{
	char path[] = "/tmp/sevmon-vmlinuz-XXXXXX";
	int fd = mkstemp(path);
	ASSERT(fd >= 0);
	/* shorter than a setup header */
	static const uint8_t junk[] = { 'M', 'Z', 0xfd, '7', 'z', 'X', 'Z', 0, 1, 2, 3 };
	ASSERT_EQ(write(fd, junk, sizeof junk), (ssize_t)sizeof junk);
	close(fd);
	struct btf *b = (struct btf *)1;
	ASSERT_EQ(ktypes_load_vmlinuz(&b, path), SEVMON_ETRUNC);
	ASSERT(b == NULL);
	/* each payload, with its 4-byte size trailer where it has one */
	static const uint8_t xz_bad[] = { 0xfd, '7', 'z', 'X', 'Z', 0, 9, 9, 9, 9, 0, 0x10, 0, 0 };
	static const uint8_t zstd_bad[] = { 0x28, 0xb5, 0x2f, 0xfd, 1, 2, 3, 4, 0, 0x10, 0, 0 };
	static const uint8_t lz4_bad[] = { 0x02, 0x21, 0x4c, 0x18, 0xff, 0xff, 0xff, 0x7f, 0, 0x10, 0, 0 };
	static const uint8_t gzip[] = { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0x10, 0, 0 };
	static const uint8_t huge[] = { 0x28, 0xb5, 0x2f, 0xfd, 1, 2, 3, 4, 0, 0, 0, 0x40 };
	static const struct {
		const uint8_t *p;
		size_t n;
		uint32_t off, len;
		int hdrs, want;
	} cases[] = {
		{ xz_bad, sizeof xz_bad, 16, sizeof xz_bad, 0, SEVMON_EDECODE }, /* no "HdrS" */
		{ xz_bad, sizeof xz_bad, 16, 1u << 30, 1, SEVMON_EDECODE },     /* past the file */
		{ xz_bad, sizeof xz_bad, 0xfffffff0u, 64, 1, SEVMON_EDECODE },
		{ xz_bad, sizeof xz_bad, 16, sizeof xz_bad, 1, SEVMON_EDECODE },
		{ zstd_bad, sizeof zstd_bad, 16, sizeof zstd_bad, 1, SEVMON_EDECODE },
		{ lz4_bad, sizeof lz4_bad, 16, sizeof lz4_bad, 1, SEVMON_EDECODE },
		{ gzip, sizeof gzip, 16, sizeof gzip, 1, SEVMON_ENOTSUP },
		{ huge, sizeof huge, 16, sizeof huge, 1, SEVMON_ETOOBIG }, /* 1 GiB claimed */
		{ xz_bad, sizeof xz_bad, 16, 7, 1, SEVMON_ETRUNC },       /* payload under 8 bytes */
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		write_bz(path, cases[i].p, cases[i].n, cases[i].off, cases[i].len, cases[i].hdrs);
		b = (struct btf *)1;
		int rc = ktypes_load_vmlinuz(&b, path);
		if (rc != cases[i].want)
			FAIL_AT("case %zu: %s, not %s", i, sevmon_errname(rc), sevmon_errname(cases[i].want));
		ASSERT(b == NULL);
	}
	unlink(path);
	ASSERT_EQ(ktypes_load_vmlinuz(&b, path), SEVMON_ENOENT);
}

TEST_MAIN()
