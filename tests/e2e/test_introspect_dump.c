/*
 * test_introspect_dump.c — the introspection library against a real memory image of a booted
 * Debian 6.1 kernel (with KASLR, 5-level paging under TCG's `max` CPU), compared with what the
 * guest itself said before the dump: /proc/kallsyms, /proc/PID/status, /proc/modules, uname -r,
 * /sys/kernel/vmcoreinfo. make_guest_dump.sh produces them in $INTROSPECT_DUMP_DIR.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dump_gmem.h"
#include "err.h"
#include "harness.h"
#include "introspect.h"
#include "kchecks.h"

#include <bpf/btf.h>

/* Test-only bounds on the ground-truth files. */
#define TRUTH_MAX_PROCS 1024
#define TRUTH_MAX_MODS 256

struct env {
	struct dump_gmem dg; /* the image, read as physical only (placement (b)): dg.g */
	struct pagewalk pw;
	struct xlate x;
	struct gmem virt;   /* kernel-virtual over the image */
	struct gmem agent;  /* virt + a local WalkList: what a real agent costs in round trips */
	uint64_t vmci_pa;
	uint32_t vmci_size;
	struct kintro k;
};

static const char *dir(void)
{
	const char *d = getenv("INTROSPECT_DUMP_DIR");
	if (!d) {
		fprintf(stderr, "INTROSPECT_DUMP_DIR not set\n");
		exit(1);
	}
	return d;
}

static FILE *truth(const char *name)
{
	char p[4096];
	snprintf(p, sizeof p, "%s/%s", dir(), name);
	FILE *f = fopen(p, "r");
	if (!f) {
		fprintf(stderr, "cannot open %s\n", p);
		exit(1);
	}
	return f;
}

/* The QEMU ELF core through lib/mem's image reader, as physical memory only: placement (b)
 * has no kernel-virtual view but the one it builds from the page tables. */
static int dump_open_phys(struct dump_gmem *d, const char *path)
{
	char spec[4200];
	snprintf(spec, sizeof spec, "image:%s", path);
	int rc = dump_gmem_open(d, spec);
	d->g.virt = 0;
	return rc;
}

static int agent_gather(void *ctx, struct gmem_range *r, size_t n)
{
	struct env *e = ctx;
	return gmem_gather(&e->virt, r, n);
}

static int agent_walk(void *ctx, const struct gmem_walk_req *req, struct gmem_walk_out *out)
{
	struct env *e = ctx;
	return gmem_walk_generic(&e->virt, req, out);
}

static const struct gmem_ops agent_ops = { .gather = agent_gather, .walk = agent_walk };

static void env_vmci_location(struct env *e)
{
	FILE *f = truth("vmcoreinfo.txt"); /* /sys/kernel/vmcoreinfo: "%pa %x" */
	ASSERT_EQ(fscanf(f, "%" SCNx64 " %" SCNx32, &e->vmci_pa, &e->vmci_size), 2);
	fclose(f);
}

/* Open the image, read VMCOREINFO where the guest said it is, build the profile. */
static struct env *env_open(void)
{
	struct env *e = calloc(1, sizeof *e);
	struct vmcoreinfo vi;
	char path[4096];
	ASSERT(e != NULL);
	snprintf(path, sizeof path, "%s/guest.elf", dir());
	ASSERT_EQ(dump_open_phys(&e->dg, path), 0);
	env_vmci_location(e);
	ASSERT_EQ(vmci_read(&vi, &e->dg.g, e->vmci_pa, e->vmci_size), 0);
	ASSERT_EQ(xlate_from_vmci(&e->x, &e->pw, &e->dg.g, &vi), 0);
	int64_t l5 = 0;
	ASSERT_EQ(vmci_number(&vi, "NUMBER", "pgtable_l5_enabled", &l5), 0);
	ASSERT_EQ(e->pw.levels, l5 ? 5 : 4);
	xlate_gmem(&e->virt, &e->x);
	e->agent = (struct gmem){ .ops = &agent_ops, .ctx = e, .virt = 1 };
	int rc = kintro_open(&e->k, &e->agent, &vi);
	if (rc)
		fprintf(stderr, "kintro_open: %s\n", sevmon_errname(rc));
	ASSERT_EQ(rc, 0);
	return e;
}

TEST(introspect_vmci_scan_finds_guest_note)
{
	struct env e = { 0 };
	struct vmcoreinfo vi;
	uint64_t pa = 0;
	char path[4096];
	snprintf(path, sizeof path, "%s/guest.elf", dir());
	ASSERT_EQ(dump_open_phys(&e.dg, path), 0);
	env_vmci_location(&e);
	const struct mem_region *reg;
	size_t nreg;
	ASSERT_EQ(mem_regions(e.dg.src, &reg, &nreg), 0);
	uint64_t *start = calloc(nreg, sizeof *start), *size = calloc(nreg, sizeof *size);
	ASSERT(start && size);
	for (size_t i = 0; i < nreg; i++) {
		start[i] = reg[i].start;
		size[i] = reg[i].size;
	}
	ASSERT_EQ(vmci_scan(&vi, &e.dg.g, start, size, nreg, &pa), 0);
	free(start);
	free(size);
	ASSERT_UEQ(pa, e.vmci_pa);
	FILE *f = truth("release.txt");
	char rel[128] = "";
	ASSERT(fgets(rel, sizeof rel, f) != NULL);
	fclose(f);
	rel[strcspn(rel, "\n")] = '\0';
	ASSERT_STREQ(vmci_get(&vi, "OSRELEASE"), rel);
	printf("# vmci scan: %" PRIu64 " trips, %" PRIu64 " bytes\n", e.dg.g.trips, e.dg.g.bytes);
	vmci_free(&vi);
	dump_gmem_close(&e.dg);
}

TEST(introspect_ksyms_match_proc_kallsyms)
{
	struct env *e = env_open();
	FILE *f = truth("kallsyms.txt");
	char line[1024], name[600], type;
	uint64_t addr;
	size_t i = 0, mismatches = 0;
	while (fgets(line, sizeof line, f)) {
		if (strchr(line, '['))
			continue; /* module, bpf and ftrace symbols are not in the core table */
		ASSERT_EQ(sscanf(line, "%" SCNx64 " %c %599s", &addr, &type, name), 3);
		ASSERT(i < e->k.ks.n);
		if (e->k.ks.sym[i].addr != addr || e->k.ks.sym[i].type != type ||
		    strcmp(ksym_name(&e->k.ks, i), name)) {
			if (mismatches++ < 5)
				fprintf(stderr, "#%zu: truth %s %c %" PRIx64 ", decoded %s %c %" PRIx64 "\n",
					i, name, type, addr, ksym_name(&e->k.ks, i), e->k.ks.sym[i].type,
					e->k.ks.sym[i].addr);
		}
		i++;
	}
	fclose(f);
	ASSERT_UEQ(mismatches, 0);
	ASSERT_UEQ(i, e->k.ks.n);
	printf("# %zu symbols decoded\n", e->k.ks.n);
	const char *want[] = { "init_task", "linux_banner", "modules", "init_uts_ns" };
	for (size_t w = 0; w < 4; w++) {
		uint64_t a = 0;
		ASSERT_EQ(ksym_lookup(&e->k.ks, want[w], &a), 0);
		ASSERT(a >= X86_START_KERNEL_MAP);
	}
	ASSERT_EQ(ksym_lookup(&e->k.ks, "no_such_symbol_anywhere", &addr), SEVMON_ENOENT);
}

TEST(introspect_profile_matches_guest)
{
	struct env *e = env_open();
	const struct kprofile *p = &e->k.p;
	FILE *f = truth("release.txt");
	char rel[128] = "";
	ASSERT(fgets(rel, sizeof rel, f) != NULL);
	fclose(f);
	rel[strcspn(rel, "\n")] = '\0';
	ASSERT_STREQ(p->release, rel);
	ASSERT(strncmp(p->banner, "Linux version ", 14) == 0);
	ASSERT_UEQ(p->slide % KASLR_ALIGN, 0);
	ASSERT(p->slide != 0); /* booted with KASLR */
	/* init_task.comm read through the BTF offset (kintro_open also checks it). */
	char comm[KPROC_COMM_LEN] = "";
	ASSERT_EQ(gmem_read(&e->agent, p->sym_init_task + p->task_comm.off, GMEM_VIRT, comm,
		sizeof comm), 0);
	ASSERT_STREQ(comm, "swapper/0");
	ASSERT_UEQ(p->list_head_next.off, 0);
	kprofile_print(p, stderr); /* not TAP: keep it off stdout */
}

TEST(introspect_profile_cache_roundtrip)
{
	struct env *e = env_open();
	char d[] = "/tmp/sevmon-profile-XXXXXX";
	ASSERT(mkdtemp(d) != NULL);
	struct kprofile back;
	ASSERT_EQ(kprofile_load(&back, d, e->k.p.build_id), SEVMON_ENOENT);
	ASSERT_EQ(kprofile_save(&e->k.p, d), 0);
	ASSERT_EQ(kprofile_load(&back, d, e->k.p.build_id), 0);
	ASSERT_STREQ(back.banner, e->k.p.banner);
	ASSERT_UEQ(back.slide, e->k.p.slide);
	ASSERT_UEQ(back.task_comm.off, e->k.p.task_comm.off);
	ASSERT_UEQ(back.cred_uid.off, e->k.p.cred_uid.off);
	ASSERT_UEQ(back.nsyms, e->k.p.nsyms);
	ASSERT_UEQ(back.sym_sys_call_table, e->k.p.sym_sys_call_table);
	ASSERT_UEQ(back.sym_runqueues, e->k.p.sym_runqueues);
	ASSERT_UEQ(back.module_nregions, e->k.p.module_nregions);
	/* the tables the profile's build read: syscalls (the x64 one in every 6.x kernel)
	 * and the IDT, each entry an offset into kernel text */
	ASSERT(e->k.p.systab[KPROFILE_SYSTAB_X64].n > 400);
	ASSERT_UEQ(e->k.p.idt_n, KPROFILE_IDT_ENTRIES);
	ASSERT_MEMEQ(&back.systab, &e->k.p.systab, sizeof back.systab);
	ASSERT_MEMEQ(back.idt, e->k.p.idt, sizeof back.idt);
	/* the image's symbols beside it: the same names at the same addresses */
	struct ksyms img;
	ASSERT_EQ(ksyms_save_image(&e->k.ks, &e->k.p, d), 0);
	ASSERT_EQ(ksyms_load_image(&img, &back, d), 0);
	uint64_t a, b, off;
	ASSERT_EQ(ksym_lookup(&img, "sys_call_table", &a), 0);
	ASSERT_EQ(ksym_lookup(&e->k.ks, "sys_call_table", &b), 0);
	ASSERT_UEQ(a, b);
	long i = ksym_at(&img, e->k.p.sym__stext + back.systab[0].off[0] + 1, &off);
	ASSERT(i >= 0);
	ASSERT_UEQ(off, 1);
	ASSERT(!strncmp(ksym_name(&img, (size_t)i), "__x64_sys_", 10)); /* entry 0: read */
	ksyms_free(&img);
	char path[4096];
	snprintf(path, sizeof path, "%s/%s.profile", d, e->k.p.build_id);
	remove(path);
	snprintf(path, sizeof path, "%s/%s.ksyms", d, e->k.p.build_id);
	remove(path);
	rmdir(d);
}

TEST(introspect_pagewalk_agrees_with_image_mapping)
{
	struct env *e = env_open();
	const char *names[] = { "init_task", "linux_banner", "modules", "init_uts_ns", "_stext",
		"__start_BTF", "__stop_BTF" };
	enum { N = sizeof names / sizeof names[0] };
	uint64_t va[N], pa[N];
	int st[N];
	for (size_t i = 0; i < N; i++)
		ASSERT_EQ(ksym_lookup(&e->k.ks, names[i], &va[i]), 0);
	pw_reset(&e->pw);
	uint64_t t0 = e->dg.g.trips;
	ASSERT_EQ(pw_translate(&e->pw, va, pa, st, N), 0);
	ASSERT(e->dg.g.trips - t0 <= (uint64_t)e->pw.levels); /* one trip per level */
	for (size_t i = 0; i < N; i++) {
		ASSERT_EQ(st[i], 0);
		ASSERT_UEQ(pa[i], va[i] - X86_START_KERNEL_MAP + (uint64_t)e->k.p.phys_base);
		uint8_t a[64], b[64];
		ASSERT_EQ(gmem_read(&e->dg.g, pa[i], GMEM_PHYS, a, sizeof a), 0);
		ASSERT_EQ(gmem_read(&e->agent, va[i], GMEM_VIRT, b, sizeof b), 0);
		ASSERT_MEMEQ(a, b, sizeof a);
	}
	/* A user-space / unmapped address faults instead of inventing bytes. */
	uint64_t bad = 0x1000, bpa;
	int bst;
	ASSERT_EQ(pw_translate(&e->pw, &bad, &bpa, &bst, 1), 0);
	ASSERT_EQ(bst, SEVMON_EFAULT);
	uint64_t noncanon = 0x8000000000000000ull;
	ASSERT_EQ(pw_translate(&e->pw, &noncanon, &bpa, &bst, 1), 0);
	ASSERT_EQ(bst, SEVMON_EFAULT);
}

TEST(introspect_kaslr_probe_finds_slide)
{
	struct env *e = env_open();
	uint64_t link = e->k.p.sym_linux_banner - e->k.p.slide, slides[4];
	uint64_t t0 = e->agent.trips;
	int n = kaslr_probe(&e->agent, link, slides, 4);
	ASSERT_EQ(n, 1);
	ASSERT_UEQ(slides[0], e->k.p.slide);
	ASSERT_UEQ(e->agent.trips - t0, 1);
}

struct tproc {
	int pid, tgid, ppid;
	unsigned uid;
	char name[64];
};

TEST(introspect_ps_matches_guest)
{
	struct env *e = env_open();
	static struct tproc t[TRUTH_MAX_PROCS];
	size_t nt = 0;
	FILE *f = truth("ps.txt");
	while (nt < TRUTH_MAX_PROCS && fscanf(f, "%d %d %d %u %63s", &t[nt].pid, &t[nt].tgid,
		&t[nt].ppid, &t[nt].uid, t[nt].name) == 5)
		nt++;
	fclose(f);
	ASSERT(nt > 10);
	static struct kproc p[TRUTH_MAX_PROCS];
	int partial = -1;
	uint64_t t0 = e->agent.trips, b0 = e->agent.bytes, p0 = e->dg.g.trips, pb0 = e->dg.g.bytes;
	int n = kcheck_ps(&e->k, p, TRUTH_MAX_PROCS, &partial);
	ASSERT(n > 0);
	ASSERT_EQ(partial, 0);
	printf("# ps: %d tasks, %" PRIu64 " agent round trips, %" PRIu64 " bytes; over the "
	       "physical image: %" PRIu64 " trips, %" PRIu64 " bytes\n", n, e->agent.trips - t0,
		e->agent.bytes - b0, e->dg.g.trips - p0, e->dg.g.bytes - pb0);
	ASSERT_UEQ(e->agent.trips - t0, 1); /* one WalkList: parent tgid and uid are derefs */
	/* Every process the guest listed (the listing shell itself excluded) is in the dump,
	 * with the same tgid, parent, uid and name (status Name of a kworker = comm + "-wq"). */
	size_t matched = 0, transient = 0;
	for (size_t i = 0; i < nt; i++) {
		int found = 0;
		/* deploy/testvm's exec server wraps each command in `timeout`: those come and go
		 * with every exec the capture made, so they are not ground truth for the dump. */
		if (strcmp(t[i].name, "timeout") == 0) {
			transient++;
			continue;
		}
		for (int j = 0; j < n && !found; j++) {
			if (p[j].pid != t[i].pid)
				continue;
			found = 1;
			ASSERT_EQ(p[j].tgid, t[i].tgid);
			ASSERT_EQ(p[j].ppid, t[i].ppid);
			ASSERT_UEQ(p[j].uid, t[i].uid);
			ASSERT(strncmp(t[i].name, p[j].comm, strlen(p[j].comm)) == 0);
			if (p[j].kthread != (p[j].ppid == 2 || p[j].pid == 2))
				fprintf(stderr, "kthread? pid %d %s ppid %d\n", p[j].pid, p[j].comm, p[j].ppid);
			ASSERT_EQ(p[j].kthread, p[j].ppid == 2 || p[j].pid == 2);
		}
		if (!found)
			fprintf(stderr, "missing pid %d (%s)\n", t[i].pid, t[i].name);
		matched += (size_t)found;
	}
	/* The capture shell's children (awk, a subshell) and the exec server's job may have
	 * come and gone between the listing and the dump. */
	ASSERT(matched + transient + 2 >= nt);
	ASSERT((size_t)n <= nt + 2);
}

TEST(introspect_modules_match_guest)
{
	struct env *e = env_open();
	static struct kmod m[TRUTH_MAX_MODS];
	int partial = -1;
	uint64_t t0 = e->agent.trips;
	int n = kcheck_modules(&e->k, m, TRUTH_MAX_MODS, &partial);
	ASSERT(n > 0);
	ASSERT_EQ(partial, 0);
	ASSERT_UEQ(e->agent.trips - t0, 1);
	FILE *f = truth("modules.txt");
	char line[512], name[128];
	int nt = 0;
	while (fgets(line, sizeof line, f)) {
		ASSERT_EQ(sscanf(line, "%127s", name), 1);
		int found = 0;
		for (int j = 0; j < n; j++)
			if (!strcmp(m[j].name, name)) {
				found = 1;
				ASSERT_STREQ(ktypes_enum_name(e->k.btf, "module_state", m[j].state),
					"MODULE_STATE_LIVE");
			}
		ASSERT_EQ(found, 1);
		nt++;
	}
	fclose(f);
	ASSERT_EQ(n, nt);
}

TEST(introspect_banner_costs_one_trip)
{
	struct env *e = env_open();
	char b[KPROFILE_MAX_BANNER];
	uint64_t t0 = e->agent.trips, b0 = e->agent.bytes;
	ASSERT_EQ(kintro_banner(&e->k, b, sizeof b), 0);
	ASSERT_UEQ(e->agent.trips - t0, 1);
	ASSERT_STREQ(b, e->k.p.banner);
	printf("# banner: 1 trip, %" PRIu64 " bytes: %s\n", e->agent.bytes - b0, b);
	printf("# profile build: agent %" PRIu64 " trips / %" PRIu64 " bytes\n", t0, b0);
}

TEST(introspect_btf_from_vmlinuz_matches_guest_btf)
{
	struct env *e = env_open();
	char path[4096];
	snprintf(path, sizeof path, "%s/vm/vmlinuz", dir()); /* the booted kernel's image */
	struct btf *b = NULL;
	int rc = ktypes_load_vmlinuz(&b, path);
	if (rc)
		fprintf(stderr, "ktypes_load_vmlinuz: %s\n", sevmon_errname(rc));
	ASSERT_EQ(rc, 0);
	/* a member this kernel does not have (vmap_node before 6.9) is absent from both */
#define SAME(name, type, mpath)                                                            \
	do {                                                                               \
		uint32_t o = 0, sz = 0;                                                    \
		int missing = kprofile_missing(&e->k.p, KPROFILE_OFF_##name);            \
		ASSERT_EQ(ktypes_offsetof(b, type, mpath, &o, &sz), missing ? SEVMON_ENOENT : 0); \
		ASSERT_UEQ(o, e->k.p.name.off);                                            \
		ASSERT_UEQ(sz, e->k.p.name.size);                                          \
	} while (0);
	KPROFILE_OFFSETS(SAME)
#undef SAME
	btf__free(b);
	ASSERT_EQ(ktypes_load_vmlinuz(&b, "/nonexistent/vmlinuz"), SEVMON_ENOENT);
}

/* VMCOREINFO text with some keys dropped or replaced (the rest kept in order). */
static void vmci_edit(struct vmcoreinfo *out, const struct vmcoreinfo *in, const char *drop_prefix,
	const char *key, const char *val)
{
	size_t cap = VMCI_MAX_BYTES, n = 0;
	char *t = malloc(cap);
	ASSERT(t != NULL);
	for (size_t i = 0; i < in->n; i++) {
		if (drop_prefix && !strncmp(in->e[i].key, drop_prefix, strlen(drop_prefix)))
			continue;
		const char *v = key && !strcmp(in->e[i].key, key) ? val : in->e[i].val;
		n += (size_t)snprintf(t + n, cap - n, "%s=%s\n", in->e[i].key, v);
		ASSERT(n < cap);
	}
	ASSERT_EQ(vmci_parse(out, t, n), 0);
	free(t);
}

TEST(introspect_ksyms_structural_locator_matches_vmcoreinfo)
{
	struct env *e = env_open();
	struct ksyms_loc want, got;
	ASSERT_EQ(ksyms_loc_vmci(&want, &e->k.vi), 0);
	struct vmcoreinfo stripped;
	vmci_edit(&stripped, &e->k.vi, "SYMBOL(kallsyms_", NULL, NULL);
	ASSERT_EQ(ksyms_loc_vmci(&got, &stripped), SEVMON_ENOENT);
	uint64_t t0 = e->agent.trips, b0 = e->agent.bytes;
	struct kintro k2;
	ASSERT_EQ(kintro_open(&k2, &e->agent, &stripped), 0);
	printf("# structural kallsyms: %" PRIu64 " trips, %" PRIu64 " bytes (whole open)\n",
		e->agent.trips - t0, e->agent.bytes - b0);
	ASSERT_EQ(k2.p.ksyms_via, KSYMS_VIA_STRUCTURE);
	ASSERT_UEQ(k2.ks.n, e->k.ks.n);
	ASSERT_UEQ(k2.p.sym_init_task, e->k.p.sym_init_task);
	uint64_t stext = 0;
	ASSERT_EQ(vmci_symbol(&e->k.vi, "_stext", &stext), 0);
	ASSERT_EQ(ksyms_loc_scan(&got, &e->agent, stext, KSYMS_SCAN_MAX), 0);
	ASSERT_UEQ(got.names, want.names);
	ASSERT_UEQ(got.num_syms, want.num_syms);
	ASSERT_UEQ(got.token_table, want.token_table);
	ASSERT_UEQ(got.token_index, want.token_index);
	ASSERT_UEQ(got.offsets, want.offsets);
	ASSERT_UEQ(got.relative_base, want.relative_base);
	kintro_close(&k2);
}

TEST(introspect_open_rejects_wrong_slide)
{
	struct env *e = env_open();
	struct vmcoreinfo bad;
	char v[32];
	snprintf(v, sizeof v, "%" PRIx64, (uint64_t)(e->k.p.slide + KASLR_ALIGN));
	vmci_edit(&bad, &e->k.vi, NULL, "KERNELOFFSET", v);
	struct kintro k2;
	ASSERT_EQ(kintro_open(&k2, &e->agent, &bad), SEVMON_EDECODE);
	/* A release string the kernel's own data does not carry is refused too. */
	vmci_edit(&bad, &e->k.vi, NULL, "OSRELEASE", "6.1.0-99-amd64");
	ASSERT_EQ(kintro_open(&k2, &e->agent, &bad), SEVMON_EDECODE);
}

/* The real kernel's BTF with one member of task_struct renamed away (its name_off made to
 * point at "task_struct", which is no member's name): the BTF of a kernel that lacks it. */
static struct btf *btf_without(const struct btf *real, const char *type, const char *member)
{
	uint32_t size = 0;
	const void *raw = btf__raw_data(real, &size);
	ASSERT(raw != NULL);
	struct btf *c = btf__new(raw, size); /* its own copy of the data */
	ASSERT(c != NULL);
	int id = btf__find_by_name_kind(c, type, BTF_KIND_STRUCT);
	ASSERT(id > 0);
	/* a test edits libbpf's copy in place, which it owns */
	struct btf_type *t = (struct btf_type *)btf__type_by_id(c, (uint32_t)id);
	struct btf_member *m = btf_members(t);
	int hit = 0;
	for (uint16_t i = 0; i < btf_vlen(t); i++, m++)
		if (!strcmp(btf__name_by_offset(c, m->name_off), member)) {
			m->name_off = t->name_off;
			hit = 1;
		}
	ASSERT(hit);
	return c;
}

TEST(introspect_btf_without_a_member_fails_that_check_by_name)
{
	struct env *e = env_open();
	struct kprofile p;
	char err[256] = "";
	/* task_struct.cred is what ps reads a uid through: without it ps fails, naming it */
	struct btf *b = btf_without(e->k.btf, "task_struct", "cred");
	memset(&p, 0, sizeof p);
	ASSERT_EQ(kprofile_from_btf(&p, b, err, sizeof err), 0);
	ASSERT(kprofile_missing(&p, KPROFILE_OFF_task_cred));
	ASSERT_EQ(check_ready(&check_ps, &p, err, sizeof err), SEVMON_ENOTSUP);
	ASSERT(strstr(err, "struct task_struct member cred") != NULL);
	ASSERT_EQ(check_ready(&check_modules, &p, err, sizeof err), 0);
	/* and through a whole run: an error naming it, no list */
	struct kintro k = e->k;
	k.p = p;
	char *json = NULL;
	struct check_env env = { .k = &k };
	ASSERT_EQ(check_run_json(&check_ps, &env, &json, NULL, NULL, err, sizeof err), SEVMON_ENOTSUP);
	ASSERT(json == NULL && strstr(err, "cred") != NULL);
	btf__free(b);
	/* task_struct.comm is one the profile itself reads: no profile, and the error says so */
	b = btf_without(e->k.btf, "task_struct", "comm");
	memset(&p, 0, sizeof p);
	err[0] = 0;
	ASSERT_EQ(kprofile_from_btf(&p, b, err, sizeof err), SEVMON_ENOTSUP);
	ASSERT(strstr(err, "struct task_struct member comm") != NULL);
	btf__free(b);
	printf("# %s\n", err);
}

/* struct module's memory shape is read from BTF and says where a module's text is. */
TEST(introspect_profile_names_the_module_memory_shape)
{
	struct env *e = env_open();
	const struct kprofile *p = &e->k.p;
	int is612 = !strncmp(p->release, "6.12", 4) || strncmp(p->release, "6.1.", 4) != 0;
	ASSERT_EQ(p->module_mem, is612 ? KPROFILE_MODMEM_ARRAY : KPROFILE_MODMEM_LAYOUT);
	ASSERT_UEQ(p->module_text_base.size, 8);
	printf("# %s: module memory %s, text base at +%" PRIu32 "\n", p->release,
	       p->module_mem == KPROFILE_MODMEM_ARRAY ? "mem[]" : "core_layout",
	       p->module_text_base.off);
}

TEST_MAIN()
