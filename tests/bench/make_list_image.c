/*
 * make_list_image — write a raw physical-memory image holding a synthetic circular doubly
 * linked list, for the WalkList and Gather benchmarks and end-to-end tests.
 *
 * Layout: a list head at HEAD_ADDR (0x1000); N nodes of NODE_SIZE bytes from NODES_ADDR,
 * shuffled in memory so a walk does not read sequentially. Each node: +0 u64 next, +8 u64 prev
 * (the link, like struct list_head), +16 u32 id, +20 char name[16] "node-<id>", rest pattern.
 * Usage: make_list_image FILE NODES [SIZE_MB]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEAD_ADDR 0x1000u
#define NODES_ADDR 0x100000u
#define NODE_SIZE 256u

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s FILE NODES [SIZE_MB]\n", argv[0]);
		return 2;
	}
	unsigned long n = strtoul(argv[2], NULL, 0);
	unsigned long mb = argc > 3 ? strtoul(argv[3], NULL, 0) : 0;
	uint64_t need = NODES_ADDR + (uint64_t)n * NODE_SIZE;
	uint64_t size = mb ? (uint64_t)mb << 20 : ((need + (1u << 20)) & ~(uint64_t)0xfffff);
	if (n == 0 || n > 1000000 || size < need) {
		fprintf(stderr, "bad node count or size\n");
		return 2;
	}
	uint8_t *img = calloc(1, size);
	uint32_t *slot = malloc(n * sizeof *slot);
	if (!img || !slot)
		return 1;
	for (unsigned long i = 0; i < n; i++)
		slot[i] = (uint32_t)i;
	srand(12345);
	for (unsigned long i = n - 1; i > 0; i--) { /* Fisher-Yates: node i lives in slot[i] */
		unsigned long j = (unsigned long)rand() % (i + 1);
		uint32_t t = slot[i];
		slot[i] = slot[j];
		slot[j] = t;
	}
	for (uint64_t a = 0; a < size; a += 8)
		put64(img + a, 0x5eb0000000000000ull | a);
#define NODE(i) (NODES_ADDR + (uint64_t)slot[i] * NODE_SIZE)
	memset(img + HEAD_ADDR, 0, 16);
	put64(img + HEAD_ADDR, NODE(0));
	put64(img + HEAD_ADDR + 8, NODE(n - 1));
	for (unsigned long i = 0; i < n; i++) {
		uint8_t *p = img + NODE(i);
		put64(p, i + 1 < n ? NODE(i + 1) : HEAD_ADDR);
		put64(p + 8, i > 0 ? NODE(i - 1) : HEAD_ADDR);
		uint32_t id = (uint32_t)i;
		memcpy(p + 16, &id, 4);
		memset(p + 20, 0, 16);
		snprintf((char *)p + 20, 16, "node-%lu", i);
	}
	FILE *f = fopen(argv[1], "wb");
	if (!f || fwrite(img, 1, size, f) != size || fclose(f) != 0) {
		perror(argv[1]);
		return 1;
	}
	free(img);
	free(slot);
	return 0;
}
