/* elfcore_gmem.h — test-only: a physical gmem over a QEMU dump-guest-memory ELF core
 * (PT_LOAD p_paddr -> file offset). The agent's real image reader lives in agent-svc/. */
#ifndef SEVMON_TEST_ELFCORE_GMEM_H
#define SEVMON_TEST_ELFCORE_GMEM_H

#include <stddef.h>
#include <stdint.h>

#include "gmem.h"

#define ELFCORE_MAX_LOADS 64

struct elfcore {
	const uint8_t *map;
	size_t size;
	size_t nload;
	struct { uint64_t pa, len, off; } load[ELFCORE_MAX_LOADS];
};

int elfcore_open(struct elfcore *ec, const char *path, struct gmem *g);
void elfcore_close(struct elfcore *ec);

#endif
