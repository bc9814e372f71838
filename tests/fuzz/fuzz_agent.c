/*
 * fuzz_agent.c — the agent's side of every method as a hostile IDS (or anyone past the
 * channel) sends it: the request decoded by the generated table (nanopb, bounded by
 * sevmon.options), the handler run (Gather, WalkList with its deref windows and cycle set,
 * Scan, Hash, the page walker of AddrSpace VIRT_PT over page-table roots the request
 * names), the reply encoded into the one bounded buffer.
 * Memory served: a 4 MiB image made at start whose every word looks like a present page-
 * table entry or a kernel pointer into the image, so walks and page walks go deep.
 * Input: [u16 LE method id] then the request payload.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "agent.h"
#include "agent_loop.h"
#include "mem.h"
#include "rbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define IMG_BYTES (4u << 20)

static struct agent ag;
static uint8_t *reply;

static void setup(void)
{
	char path[] = "/tmp/sevmon-fuzz-agent-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0)
		abort();
	uint64_t *w = malloc(IMG_BYTES);
	if (!w)
		abort();
	uint64_t x = 0x9e3779b97f4a7c15ull;
	for (size_t i = 0; i < IMG_BYTES / 8; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		uint64_t page = (x % (IMG_BYTES >> 12)) << 12;
		switch (x >> 62) {
		case 0: w[i] = page | 0x63; break;                    /* a present PTE */
		case 1: w[i] = 0xffff888000000000ull + page + (x & 0xff8); break; /* direct map */
		case 2: w[i] = 0xffffffff81000000ull + page; break;  /* kernel text */
		default: w[i] = x; break;
		}
	}
	if (write(fd, w, IMG_BYTES) != (ssize_t)IMG_BYTES)
		abort();
	close(fd);
	free(w);
	char spec[64];
	snprintf(spec, sizeof spec, "image:%s", path);
	struct mem_source *m;
	if (mem_open(spec, &m) < 0 || agent_init(&ag, m) < 0)
		abort();
	unlink(path); /* the source holds it open */
	if (!(reply = malloc(AGENT_MAX_REPLY)))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!reply)
		setup();
	if (size < 2)
		return 0;
	struct agent_request req = {
		.id = 1, .method = (uint16_t)(data[0] | data[1] << 8),
		.payload = data + 2, .len = size - 2,
	};
	struct wbuf out = wbuf_make(reply, AGENT_MAX_REPLY);
	char errmsg[256] = "";
	(void)agent_serve_request(&ag, &req, &out, errmsg, sizeof errmsg);
	if (out.len > AGENT_MAX_REPLY)
		abort();
	return 0;
}
