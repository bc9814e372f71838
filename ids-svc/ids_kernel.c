#include "ids_kernel.h"

#include <stdio.h>
#include <string.h>

#include "err.h"
#include "rbuf.h"

/* Notes found by Scan that are tried: the kernel keeps one VMCOREINFO note; a few more
 * hits allow for stale copies in freed memory. */
#define VMCI_SCAN_MAX_HITS 16u

/* The note as it sits in memory: namesz 11, descsz, type 0, "VMCOREINFO\0" (padded to 12).
 * The pattern starts at the type, so a hit is 8 bytes into the note header. */
static const uint8_t vmci_pattern[] = { 0, 0, 0, 0, 'V', 'M', 'C', 'O', 'R', 'E', 'I', 'N', 'F', 'O', 0 };

static int scan_for_vmcoreinfo(struct ids_kernel *kk, struct vmcoreinfo *vi, char *err, size_t cap);

static int find_vmcoreinfo(struct ids_kernel *kk, struct vmcoreinfo *vi, struct ids_kmemo *m,
			   char *err, size_t cap)
{
	if (kk->info.vmci_phys) {
		kk->vmci_phys = kk->info.vmci_phys;
		int rc = vmci_read(vi, &kk->agent.g, kk->info.vmci_phys, kk->info.vmci_size);
		if (rc < 0)
			snprintf(err, cap, "VMCOREINFO at 0x%llx: %s",
				 (unsigned long long)kk->info.vmci_phys, sevmon_strerror(rc));
		return rc;
	}
	int scanner = 0; /* this thread holds m->vmci_scanning */
	if (m) {
		pthread_mutex_lock(&m->mu);
		while (!m->vmci_hint && m->vmci_scanning)
			pthread_cond_wait(&m->cv, &m->mu);
		uint64_t hint = m->vmci_hint;
		uint32_t hint_size = m->vmci_hint_size;
		if (!hint)
			scanner = m->vmci_scanning = 1;
		pthread_mutex_unlock(&m->mu);
		if (hint && vmci_read(vi, &kk->agent.g, hint, hint_size) == 0) {
			if (vmci_get(vi, "OSRELEASE")) {
				kk->vmci_phys = hint;
				pthread_mutex_lock(&m->mu);
				m->hint_hits++;
				pthread_mutex_unlock(&m->mu);
				return 0;
			}
			vmci_free(vi);
		}
	}
	int rc = scan_for_vmcoreinfo(kk, vi, err, cap);
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

static int scan_for_vmcoreinfo(struct ids_kernel *kk, struct vmcoreinfo *vi, char *err, size_t cap)
{
	uint64_t hits[VMCI_SCAN_MAX_HITS];
	int n = ids_gmem_scan(&kk->agent, &kk->info, vmci_pattern, sizeof vmci_pattern, 4, hits,
			      VMCI_SCAN_MAX_HITS);
	if (n < 0) {
		snprintf(err, cap, "scanning for VMCOREINFO: %s", sevmon_strerror(n));
		return n;
	}
	for (int i = 0; i < n; i++) {
		uint8_t hdr[12];
		uint64_t note = hits[i] - 8;
		if (hits[i] < 8 || gmem_read(&kk->agent.g, note, GMEM_PHYS, hdr, sizeof hdr) < 0)
			continue;
		uint32_t namesz = load_le32(hdr), descsz = load_le32(hdr + 4);
		if (namesz != 11 || descsz == 0 || descsz > VMCI_MAX_BYTES)
			continue;
		if (vmci_read(vi, &kk->agent.g, note, VMCI_NOTE_HDR + descsz) == 0) {
			kk->vmci_phys = note;
			kk->vmci_size = VMCI_NOTE_HDR + descsz;
			return 0;
		}
	}
	snprintf(err, cap, "no VMCOREINFO note in guest memory (%d candidates): is this a Linux guest?", n);
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
	uint64_t delta = (uint64_t)slide - p.slide;
	p.sym_init_task += delta;
	p.sym_linux_banner += delta;
	p.sym_modules += delta;
	p.sym_init_uts_ns += delta;
	p.slide = slide;
	int64_t l5 = 0;
	uint64_t top = 0;
	if (vmci_number(vi, "NUMBER", "phys_base", &phys_base) == 0)
		p.phys_base = phys_base;
	if (vmci_number(vi, "NUMBER", "pgtable_l5_enabled", &l5) == 0)
		p.pgtable_l5 = l5 != 0;
	if (vmci_symbol(vi, "init_top_pgt", &top) == 0)
		p.init_top_pgt = top;
	kk->k.p = p;
	kk->k.g = kk->translated ? &kk->virt : &kk->agent.g;
	char banner[KPROFILE_MAX_BANNER];
	if (kcheck_banner(&kk->k, banner, sizeof banner) < 0 || strncmp(banner, "Linux version ", 14) ||
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

int ids_kernel_open(struct ids_kernel *kk, struct ids_conn *c, char *err, size_t errcap)
{
	return ids_kernel_open_memo(kk, c, NULL, err, errcap);
}

int ids_kernel_open_memo(struct ids_kernel *kk, struct ids_conn *c, struct ids_kmemo *m,
			 char *err, size_t errcap)
{
	struct vmcoreinfo vi;
	struct ids_kmemo_ent *mine = NULL;
	int rc;

	memset(kk, 0, sizeof *kk);
	err[0] = 0;
	if ((rc = ids_agent_get_info(c, &kk->info, err, errcap)) < 0)
		return rc;
	ids_gmem_init(&kk->agent, c, &kk->info);
	if ((rc = find_vmcoreinfo(kk, &vi, m, err, errcap)) < 0)
		return rc;
	if (!kk->info.virt) {
		rc = xlate_from_vmci(&kk->x, &kk->pw, &kk->agent.g, &vi);
		if (rc < 0) {
			snprintf(err, errcap, "page-table walk set-up from VMCOREINFO: %s", sevmon_strerror(rc));
			vmci_free(&vi);
			return rc;
		}
		xlate_gmem(&kk->virt, &kk->x);
		kk->translated = 1;
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
	rc = kintro_open(&kk->k, kk->translated ? &kk->virt : &kk->agent.g, &vi);
	if (rc < 0) {
		snprintf(err, errcap, "building the kernel profile: %s", sevmon_strerror(rc));
		if (kk->translated)
			pw_reset(&kk->pw);
		if (m)
			memo_settle(m, mine, NULL, NULL);
		return rc;
	}
	char dir[512];
	if (kprofile_cache_dir(dir, sizeof dir) == 0)
		(void)kprofile_save(&kk->k.p, dir); /* a cache that cannot be written only costs time */
	if (m)
		memo_settle(m, mine, &kk->k.p, &m->built);
	return 0;
}

void ids_kernel_close(struct ids_kernel *kk)
{
	kintro_close(&kk->k);
	if (kk->translated)
		pw_reset(&kk->pw);
}
