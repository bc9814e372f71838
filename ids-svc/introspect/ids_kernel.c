#include "ids_kernel.h"

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "mem.h"
#include "rbuf.h"

/* Notes found by Scan that are tried: the kernel keeps one VMCOREINFO note; a few more
 * hits allow for stale copies in freed memory. */
#define VMCI_SCAN_MAX_HITS 16u

/* The note as it sits in memory: namesz 11, descsz, type 0, "VMCOREINFO\0" (padded to 12).
 * The pattern starts at the type, so a hit is 8 bytes into the note header. */
static const uint8_t vmci_pattern[] = { 0, 0, 0, 0, 'V', 'M', 'C', 'O', 'R', 'E', 'I', 'N', 'F', 'O', 0 };

/* Where VMCOREINFO was last found behind this agent URI: an agent that cannot say where
 * it is (a RAM file, an image) would otherwise cost a Scan of all guest RAM per command.
 * The note never moves while the guest runs; after a reboot the hint misses (the note at
 * the old address no longer parses, or a stale one is refuted by the banner check of the
 * profile) and the Scan runs again. The hint is only a place to look: nothing read there is
 * trusted more than anything else in guest memory. */
static void vmci_hint_path(const char *uri, char *buf, size_t cap)
{
	char dir[512];
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
	for (const char *p = uri; *p; p++)
		h = (h ^ (uint8_t)*p) * 0x100000001b3ull;
	if (kprofile_cache_dir(dir, sizeof dir) < 0)
		buf[0] = 0;
	else
		snprintf(buf, cap, "%s/vmci-%016llx.hint", dir, (unsigned long long)h);
}

/* A note at phys that parses and carries what the set-up needs (the release, the page-table
 * root and phys_base): a stale hint, a half-written or planted copy that lacks them is not
 * the kernel's note, and the caller moves on (the next candidate, or a scan). */
static int vmci_read_usable(struct vmcoreinfo *vi, struct gmem *mem, uint64_t phys, uint32_t size)
{
	uint64_t top;
	int64_t pb;
	int rc = vmci_read(vi, mem, phys, size);
	if (rc < 0)
		return rc;
	if (!vmci_get(vi, "OSRELEASE") || vmci_symbol(vi, "init_top_pgt", &top) < 0 ||
	    vmci_number(vi, "NUMBER", "phys_base", &pb) < 0) {
		vmci_free(vi);
		return SEVMON_EDECODE;
	}
	return 0;
}

static int vmci_from_hint(struct ids_kernel *kk, const char *uri, struct vmcoreinfo *vi)
{
	char path[640];
	unsigned long long phys = 0;
	unsigned size = 0;
	vmci_hint_path(uri, path, sizeof path);
	FILE *f = path[0] ? fopen(path, "r") : NULL;
	if (!f)
		return SEVMON_ENOENT;
	int n = fscanf(f, "%llx %x", &phys, &size);
	fclose(f);
	if (n != 2 || size < VMCI_NOTE_HDR || size > VMCI_NOTE_HDR + VMCI_MAX_BYTES)
		return SEVMON_ENOENT;
	if (vmci_read_usable(vi, kk->mem, phys, size) < 0)
		return SEVMON_ENOENT;
	kk->vmci_phys = phys;
	return 0;
}

static void vmci_hint_save(const char *uri, uint64_t phys, uint32_t size)
{
	char path[640], tmp[660];
	vmci_hint_path(uri, path, sizeof path);
	if (!path[0])
		return;
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f)
		return; /* no cache directory yet: kprofile_save makes it; the hint only saves time */
	fprintf(f, "%llx %x\n", (unsigned long long)phys, size);
	if (fclose(f) == 0)
		rename(tmp, path);
}

static int scan_for_vmcoreinfo(struct ids_kernel *kk, const char *uri, struct vmcoreinfo *vi,
			       char *err, size_t cap);

/* The memo's hint (ids_kernel.h): where a thread of this process found the note last,
 * behind any agent. The first thread without a hint scans; the others wait for its hint. */
static int vmci_from_memo(struct ids_kernel *kk, struct ids_kmemo *m, struct vmcoreinfo *vi,
			  int *scanner)
{
	pthread_mutex_lock(&m->mu);
	while (!m->vmci_hint && m->vmci_scanning)
		pthread_cond_wait(&m->cv, &m->mu);
	uint64_t hint = m->vmci_hint;
	uint32_t hint_size = m->vmci_hint_size;
	if (!hint)
		*scanner = m->vmci_scanning = 1;
	pthread_mutex_unlock(&m->mu);
	if (!hint || vmci_read_usable(vi, kk->mem, hint, hint_size) < 0)
		return SEVMON_ENOENT;
	kk->vmci_phys = hint;
	pthread_mutex_lock(&m->mu);
	m->hint_hits++;
	pthread_mutex_unlock(&m->mu);
	return 0;
}

static int find_vmcoreinfo(struct ids_kernel *kk, const char *uri, int use_hint,
			   struct ids_kmemo *m, struct vmcoreinfo *vi, char *err, size_t cap)
{
	if (kk->info.vmci_phys) {
		kk->vmci_phys = kk->info.vmci_phys;
		int rc = vmci_read_usable(vi, kk->mem, kk->info.vmci_phys, kk->info.vmci_size);
		if (rc < 0)
			snprintf(err, cap, "VMCOREINFO at 0x%llx: %s",
				 (unsigned long long)kk->info.vmci_phys, sevmon_strerror(rc));
		return rc;
	}
	if (use_hint && vmci_from_hint(kk, uri, vi) == 0) {
		kk->used_hint = 1;
		return 0;
	}
	int scanner = 0; /* this thread holds m->vmci_scanning */
	if (use_hint && m && vmci_from_memo(kk, m, vi, &scanner) == 0) {
		kk->used_hint = 1;
		return 0;
	}
	int rc = scan_for_vmcoreinfo(kk, uri, vi, err, cap);
	if (m) {
		pthread_mutex_lock(&m->mu);
		if (rc == 0) {
			m->scans++;
			/* a first finder, or a miss at the hint: the newest address is the hint */
			m->vmci_hint = kk->vmci_phys;
			m->vmci_hint_size = kk->vmci_size;
		}
		if (scanner)
			m->vmci_scanning = 0;
		pthread_cond_broadcast(&m->cv);
		pthread_mutex_unlock(&m->mu);
	}
	return rc;
}

/* The first note the scan finds that parses, in address order. An agent's Scan returns up
 * to VMCI_SCAN_MAX_HITS candidates in one round trip; a dump is scanned here, where every
 * byte scanned costs (a sealed image decrypts it), so it asks for one candidate at a time
 * and stops at the first good one: the same note either way, since candidates are tried
 * in address order. At most VMCI_SCAN_MAX_HITS candidates are tried. */
static int scan_for_vmcoreinfo(struct ids_kernel *kk, const char *uri, struct vmcoreinfo *vi,
			       char *err, size_t cap)
{
	uint64_t hits[VMCI_SCAN_MAX_HITS], from = 0;
	size_t batch = kk->offline ? 1 : VMCI_SCAN_MAX_HITS;
	int tried = 0;
	while (tried < (int)VMCI_SCAN_MAX_HITS) {
		int n = gmem_scan(kk->mem, from, vmci_pattern, sizeof vmci_pattern, 4, hits, batch);
		if (n < 0) {
			snprintf(err, cap, "scanning for VMCOREINFO: %s", sevmon_strerror(n));
			return n;
		}
		for (int i = 0; i < n; i++, tried++) {
			uint8_t hdr[12];
			uint64_t note = hits[i] - 8;
			if (hits[i] < 8 || gmem_read(kk->mem, note, GMEM_PHYS, hdr, sizeof hdr) < 0)
				continue;
			uint32_t namesz = load_le32(hdr), descsz = load_le32(hdr + 4);
			if (namesz != 11 || descsz == 0 || descsz > VMCI_MAX_BYTES)
				continue;
			if (vmci_read_usable(vi, kk->mem, note, VMCI_NOTE_HDR + descsz) == 0) {
				kk->vmci_phys = note;
				kk->vmci_size = VMCI_NOTE_HDR + descsz;
				vmci_hint_save(uri, note, VMCI_NOTE_HDR + descsz);
				return 0;
			}
		}
		if ((size_t)n < batch || batch == VMCI_SCAN_MAX_HITS)
			break; /* the memory ended, or the agent's one answer held all we try */
		from = hits[n - 1] + 1;
	}
	snprintf(err, cap, "no VMCOREINFO note in guest memory (%d candidates): is this a Linux guest?",
		 tried);
	return SEVMON_ENOENT;
}

/* A profile of this build (from the disk cache or the memo), re-based on this boot's slide
 * and checked against the kernel itself (linux_banner must carry the release). */
static int profile_apply(struct ids_kernel *kk, const struct vmcoreinfo *vi, const struct kprofile *cached)
{
	const char *koff = vmci_get(vi, "KERNELOFFSET");
	unsigned long long slide = 0;
	int64_t phys_base = 0;
	if (!koff || sscanf(koff, "%llx", &slide) != 1)
		return SEVMON_ENOENT;
	struct kprofile p = *cached;
	kprofile_rebase(&p, slide);
	int64_t l5 = 0;
	uint64_t top = 0;
	if (vmci_number(vi, "NUMBER", "phys_base", &phys_base) == 0)
		p.phys_base = phys_base;
	if (vmci_number(vi, "NUMBER", "pgtable_l5_enabled", &l5) == 0)
		p.pgtable_l5 = l5 != 0;
	if (vmci_symbol(vi, "init_top_pgt", &top) == 0)
		p.init_top_pgt = top;
	kk->k.p = p;
	kk->k.g = kk->translated ? &kk->virt : kk->mem;
	char banner[KPROFILE_MAX_BANNER];
	if (kintro_banner(&kk->k, banner, sizeof banner) < 0 || strncmp(banner, "Linux version ", 14) ||
	    !strstr(banner, p.release)) {
		memset(&kk->k, 0, sizeof kk->k);
		return SEVMON_ENOENT;
	}
	return 0;
}

static int profile_from_disk(struct ids_kernel *kk, const struct vmcoreinfo *vi)
{
	char dir[512];
	const char *build_id = vmci_get(vi, "BUILD-ID");
	struct kprofile p;
	if (!build_id || kprofile_cache_dir(dir, sizeof dir) < 0 || kprofile_load(&p, dir, build_id) < 0)
		return SEVMON_ENOENT;
	return profile_apply(kk, vi, &p);
}

/* ---- the memo ---- */

int ids_kmemo_init(struct ids_kmemo *m)
{
	memset(m, 0, sizeof *m);
	if (pthread_mutex_init(&m->mu, NULL))
		return SEVMON_ENOMEM;
	if (pthread_cond_init(&m->cv, NULL)) {
		pthread_mutex_destroy(&m->mu);
		return SEVMON_ENOMEM;
	}
	return 0;
}

void ids_kmemo_destroy(struct ids_kmemo *m)
{
	pthread_cond_destroy(&m->cv);
	pthread_mutex_destroy(&m->mu);
}

/* Under m->mu. A free slot has an empty build_id; slots never move, so a builder's
 * pointer to its own slot stays valid. */
static struct ids_kmemo_ent *memo_find(struct ids_kmemo *m, const char *build_id)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->e[i].build_id[0] && !strcmp(m->e[i].build_id, build_id))
			return &m->e[i];
	return NULL;
}

static struct ids_kmemo_ent *memo_claim(struct ids_kmemo *m, const char *build_id)
{
	if (strlen(build_id) >= KPROFILE_MAX_BUILD_ID)
		return NULL;
	struct ids_kmemo_ent *e = NULL;
	for (size_t i = 0; i < m->n && !e; i++)
		if (!m->e[i].build_id[0])
			e = &m->e[i];
	if (!e && m->n < IDS_KMEMO_MAX)
		e = &m->e[m->n++];
	if (e) {
		memset(e, 0, sizeof *e);
		strcpy(e->build_id, build_id);
	}
	return e;
}

/* The builder's outcome: p (NULL: failed, the slot is freed), counted in *counter. */
static void memo_settle(struct ids_kmemo *m, struct ids_kmemo_ent *e, const struct kprofile *p,
			unsigned long *counter)
{
	if (!m || !e)
		return;
	pthread_mutex_lock(&m->mu);
	if (p) {
		e->p = *p;
		e->ready = 1;
		(*counter)++;
	} else {
		e->build_id[0] = 0;
	}
	pthread_cond_broadcast(&m->cv);
	pthread_mutex_unlock(&m->mu);
}

/* The kernel behind kk->mem (set up by the caller: an agent's gmem or a dump's), named
 * name for the VMCOREINFO hint. */
static int kernel_setup(struct ids_kernel *kk, const char *name, int use_hint, struct ids_kmemo *m,
			char *err, size_t errcap)
{
	struct vmcoreinfo vi;
	struct ids_kmemo_ent *mine = NULL;
	int rc;

	if ((rc = find_vmcoreinfo(kk, name, use_hint, m, &vi, err, errcap)) < 0)
		return rc;
	if (!kk->info.virt) {
		rc = xlate_from_vmci(&kk->x, &kk->pw, kk->mem, &vi);
		if (rc < 0) {
			snprintf(err, errcap, "page-table walk set-up from VMCOREINFO: %s", sevmon_strerror(rc));
			vmci_free(&vi);
			return rc;
		}
		/* An agent that walks page tables itself gets the root and serves kernel-virtual
		 * reads and walks in one round trip each; otherwise translate here (xlate). */
		if (ids_gmem_use_pagetables(&kk->agent, &kk->info, kk->pw.top_pa,
					    (uint32_t)kk->pw.levels, kk->pw.sme_mask) == 0) {
			kk->agent_pt = 1;
		} else {
			xlate_gmem(&kk->virt, &kk->x);
			kk->translated = 1;
		}
	}
	const char *build_id = vmci_get(&vi, "BUILD-ID");
	if (m && build_id) {
		struct ids_kmemo_ent *e;
		struct kprofile p;
		pthread_mutex_lock(&m->mu);
		while ((e = memo_find(m, build_id)) && !e->ready)
			pthread_cond_wait(&m->cv, &m->mu);
		if (e) {
			p = e->p;
			m->reused++;
		} else {
			mine = memo_claim(m, build_id);
		}
		pthread_mutex_unlock(&m->mu);
		if (e && profile_apply(kk, &vi, &p) == 0) {
			kk->from_cache = 1;
			kk->k.vi = vi; /* kintro_close frees it */
			return 0;
		}
	}
	if (profile_from_disk(kk, &vi) == 0) {
		kk->from_cache = 1;
		kk->k.vi = vi;
		if (m)
			memo_settle(m, mine, &kk->k.p, &m->loaded);
		return 0;
	}
	rc = kintro_open(&kk->k, kk->translated ? &kk->virt : kk->mem, &vi);
	if (rc < 0) {
		if (kk->k.err[0])
			snprintf(err, errcap, "building the kernel profile: %s (%s)", sevmon_strerror(rc),
				 kk->k.err);
		else
			snprintf(err, errcap, "building the kernel profile: %s", sevmon_strerror(rc));
		if (kk->translated)
			pw_reset(&kk->pw);
		if (m)
			memo_settle(m, mine, NULL, NULL);
		return rc;
	}
	char dir[512];
	/* a cache that cannot be written only costs time (without the image symbols, checks
	 * on the cached profile show addresses where they would show names) */
	if (kprofile_cache_dir(dir, sizeof dir) == 0 && kprofile_save(&kk->k.p, dir) == 0)
		(void)ksyms_save_image(&kk->k.ks, &kk->k.p, dir);
	if (m)
		memo_settle(m, mine, &kk->k.p, &m->built);
	return 0;
}

/* kk reset, reading through the agent behind c (GetInfo first). */
static int agent_attach(struct ids_kernel *kk, struct ids_conn *c, char *err, size_t errcap)
{
	memset(kk, 0, sizeof *kk);
	err[0] = 0;
	int rc = ids_agent_get_info(c, &kk->info, err, errcap);
	if (rc < 0)
		return rc;
	ids_gmem_init(&kk->agent, c, &kk->info);
	kk->mem = &kk->agent.g;
	return 0;
}

static int kernel_open(struct ids_kernel *kk, struct ids_conn *c, int use_hint, struct ids_kmemo *m,
		       char *err, size_t errcap)
{
	int rc = agent_attach(kk, c, err, errcap);
	return rc < 0 ? rc : kernel_setup(kk, c->uri, use_hint, m, err, errcap);
}

/* What an agent would say in GetInfo about this source. */
static void dump_info(struct mem_source *src, struct ids_agent_info *info)
{
	const struct mem_region *reg;
	size_t n = 0;
	memset(info, 0, sizeof *info);
	info->virt = mem_has_virt(src);
	if (mem_vmcoreinfo(src, &info->vmci_phys, &info->vmci_size) < 0)
		info->vmci_phys = info->vmci_size = 0;
	if (mem_regions(src, &reg, &n) < 0)
		n = 0;
	for (size_t i = 0; i < n && info->nregions < 64; i++, info->nregions++) {
		info->region_start[i] = reg[i].start;
		info->region_size[i] = reg[i].size;
	}
	snprintf(info->source, sizeof info->source, "%s", mem_kind(src));
}

static int dump_open(struct ids_kernel *kk, const char *spec, int use_hint, char *err, size_t errcap)
{
	memset(kk, 0, sizeof *kk);
	err[0] = 0;
	int rc = dump_gmem_open(&kk->dump, spec);
	if (rc < 0) {
		snprintf(err, errcap, "%s",
			 rc == SEVMON_EDENIED ? "sealed: it opens only with the private key it was sealed to (--key)"
			 : rc == SEVMON_EDECODE ? "sealed, and altered: a chunk or the header does not authenticate"
			 : rc == SEVMON_ENOENT  ? "no such file"
			 : rc == SEVMON_ENOTSUP ? "not a format sevmon reads (LiME, ELF core, raw; kdump-compressed is not)"
						: "cannot open the memory image");
		return rc;
	}
	kk->offline = 1;
	dump_info(kk->dump.src, &kk->info);
	kk->mem = &kk->dump.g;
	rc = kernel_setup(kk, spec, use_hint, NULL, err, errcap);
	if (rc < 0 && kk->dump.altered) {
		snprintf(err, errcap, "the sealed image was altered: %llu reads did not authenticate",
			 (unsigned long long)kk->dump.altered);
		rc = SEVMON_EDECODE;
	}
	return rc;
}

int ids_kernel_open_dump(struct ids_kernel *kk, const char *spec, char *err, size_t errcap)
{
	int rc = dump_open(kk, spec, 1, err, errcap);
	if (rc < 0 && kk->used_hint) {
		/* the file at this path is not the dump the hint was saved for */
		ids_kernel_close(kk);
		rc = dump_open(kk, spec, 0, err, errcap);
	}
	if (rc < 0)
		ids_kernel_close(kk);
	return rc;
}

int ids_kernel_open(struct ids_kernel *kk, struct ids_conn *c, char *err, size_t errcap)
{
	return ids_kernel_open_memo(kk, c, NULL, err, errcap);
}

int ids_kernel_open_memo(struct ids_kernel *kk, struct ids_conn *c, struct ids_kmemo *m,
			 char *err, size_t errcap)
{
	int rc = kernel_open(kk, c, 1, m, err, errcap);
	if (rc < 0 && kk->used_hint && !c->lost) {
		/* A note left at the hinted address by an earlier boot: look for the live one. */
		ids_kernel_close(kk);
		rc = kernel_open(kk, c, 0, m, err, errcap);
	}
	return rc;
}

/* Re-base p onto slide and check it against the kernel: linux_banner carries p's release
 * and init_task is "swapper/0". */
static int profile_try_slide(struct ids_kernel *kk, const struct kprofile *cached, uint64_t slide)
{
	struct kprofile p = *cached;
	char banner[KPROFILE_MAX_BANNER], comm[KPROC_COMM_LEN + 1] = { 0 };
	kprofile_rebase(&p, slide);
	kk->k.p = p;
	kk->k.g = kk->mem;
	if (kintro_banner(&kk->k, banner, sizeof banner) < 0 || !strstr(banner, p.release) ||
	    gmem_read(kk->mem, p.sym_init_task + p.task_comm.off, GMEM_VIRT, comm,
		      KPROC_COMM_LEN) < 0 ||
	    strcmp(comm, "swapper/0") != 0) {
		memset(&kk->k, 0, sizeof kk->k);
		return SEVMON_ENOENT;
	}
	kk->k.p.slide_source = KPROFILE_SLIDE_PROBE;
	return 0;
}

int ids_kernel_open_probing(struct ids_kernel *kk, struct ids_conn *c, char *err, size_t errcap)
{
	char dir[512];
	int rc;

	if ((rc = agent_attach(kk, c, err, errcap)) < 0)
		return rc;
	if (!kk->info.virt) {
		snprintf(err, errcap, "KASLR probing needs an agent that reads kernel-virtual memory");
		return SEVMON_ENOTSUP;
	}
	DIR *d = kprofile_cache_dir(dir, sizeof dir) == 0 ? opendir(dir) : NULL;
	if (!d) {
		snprintf(err, errcap, "no cached kernel profile to probe with (%s)", dir);
		return SEVMON_ENOENT;
	}
	/* Each cached build is one Gather of the 512 candidate slides; the first build whose
	 * banner appears, and whose init_task checks out, wins. */
	struct dirent *e;
	rc = SEVMON_ENOENT;
	while (rc < 0 && (e = readdir(d)) != NULL) {
		size_t n = strlen(e->d_name);
		char id[KPROFILE_MAX_BUILD_ID];
		struct kprofile p;
		uint64_t slides[4];
		if (n <= 8 || n - 8 >= sizeof id || strcmp(e->d_name + n - 8, ".profile"))
			continue;
		memcpy(id, e->d_name, n - 8);
		id[n - 8] = 0;
		if (kprofile_load(&p, dir, id) < 0)
			continue;
		int hits = kaslr_probe(kk->mem, p.sym_linux_banner - p.slide, slides, 4);
		for (int i = 0; i < hits && rc < 0; i++)
			rc = profile_try_slide(kk, &p, slides[i]);
	}
	closedir(d);
	if (rc < 0)
		snprintf(err, errcap, "no cached kernel profile matches this kernel at any KASLR slide");
	else
		kk->from_cache = 1;
	return rc;
}

void ids_kernel_close(struct ids_kernel *kk)
{
	kintro_close(&kk->k);
	if (kk->translated)
		pw_reset(&kk->pw);
	if (kk->offline)
		dump_gmem_close(&kk->dump);
	kk->offline = 0;
}
