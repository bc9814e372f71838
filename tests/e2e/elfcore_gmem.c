/* elfcore_gmem.c — see elfcore_gmem.h. */
#include "elfcore_gmem.h"

#include <elf.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"

static int ec_gather(void *ctx, struct gmem_range *r, size_t n)
{
	struct elfcore *ec = ctx;
	for (size_t i = 0; i < n; i++) {
		r[i].status = SEVMON_EFAULT;
		if (r[i].space != GMEM_PHYS)
			continue;
		for (size_t s = 0; s < ec->nload; s++) {
			if (r[i].addr < ec->load[s].pa || r[i].addr - ec->load[s].pa > ec->load[s].len ||
			    r[i].len > ec->load[s].len - (r[i].addr - ec->load[s].pa))
				continue;
			memcpy(r[i].out, ec->map + ec->load[s].off + (r[i].addr - ec->load[s].pa), r[i].len);
			r[i].status = 0;
			break;
		}
	}
	return 0;
}

static const struct gmem_ops ec_ops = { .gather = ec_gather };

int elfcore_open(struct elfcore *ec, const char *path, struct gmem *g)
{
	memset(ec, 0, sizeof *ec);
	int fd = open(path, O_RDONLY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		if (fd >= 0)
			close(fd);
		return SEVMON_ENOENT;
	}
	ec->size = (size_t)st.st_size;
	void *m = mmap(NULL, ec->size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return SEVMON_ESYS;
	ec->map = m;
	const Elf64_Ehdr *eh = m;
	if (ec->size < sizeof *eh || memcmp(eh->e_ident, ELFMAG, SELFMAG) || eh->e_type != ET_CORE ||
	    eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_phoff > ec->size ||
	    (ec->size - eh->e_phoff) / sizeof(Elf64_Phdr) < eh->e_phnum)
		goto bad;
	const Elf64_Phdr *ph = (const Elf64_Phdr *)(ec->map + eh->e_phoff);
	for (size_t i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type != PT_LOAD)
			continue;
		if (ec->nload == ELFCORE_MAX_LOADS || ph[i].p_offset > ec->size ||
		    ph[i].p_filesz > ec->size - ph[i].p_offset)
			goto bad;
		ec->load[ec->nload].pa = ph[i].p_paddr;
		ec->load[ec->nload].len = ph[i].p_filesz;
		ec->load[ec->nload].off = ph[i].p_offset;
		ec->nload++;
	}
	*g = (struct gmem){ .ops = &ec_ops, .ctx = ec };
	return 0;
bad:
	elfcore_close(ec);
	return SEVMON_EDECODE;
}

void elfcore_close(struct elfcore *ec)
{
	if (ec->map)
		munmap((void *)ec->map, ec->size);
	memset(ec, 0, sizeof *ec);
}
