/*
 * replay_main.c — a harness without libFuzzer: `replay_NAME FILE...` runs each input once
 * through LLVMFuzzerTestOneInput. The normal suite (gcc, and again under ASan+UBSan) replays
 * every regression input with it, so a crash once found stays fixed in every build.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
	int bad = 0;
	for (int i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		if (!f) {
			perror(argv[i]);
			bad = 1;
			continue;
		}
		size_t cap = 1 << 16, n = 0, r;
		uint8_t *b = malloc(cap);
		while (b && (r = fread(b + n, 1, cap - n, f)) > 0)
			if ((n += r) == cap)
				b = realloc(b, cap *= 2);
		fclose(f);
		if (!b)
			return 2;
		LLVMFuzzerTestOneInput(b, n);
		free(b);
		printf("ok %d - %s\n", i, argv[i]);
	}
	printf("1..%d\n", argc - 1);
	return bad;
}
