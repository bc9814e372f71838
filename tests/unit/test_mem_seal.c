/*
 * test_mem_seal.c — the sealed container (lib/mem/mem_seal.h) and LiME images, alone and
 * sealed, through the image memory source: round trips at random offsets, every altered
 * byte detected, cut and grown files refused, the wrong key refused, an interrupted write
 * resumed to the same plaintext.
 */
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "harness.h"
#include "mem.h"
#include "mem_seal.h"
#include "rbuf.h"
#include "session.h"

#define PLAIN (3u * SEAL_CHUNK_DEFAULT + 12345u) /* four chunks, the last one short */

static uint8_t *plain;
static char dir[64];

static void rm_dir(void)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd)) {
	}
}

static const char *path(const char *name)
{
	static char p[4][128];
	static int k;
	if (!dir[0]) {
		snprintf(dir, sizeof dir, "/tmp/sevmon-seal-XXXXXX");
		ASSERT(mkdtemp(dir) != NULL);
		atexit(rm_dir);
	}
	k = (k + 1) % 4;
	snprintf(p[k], sizeof p[k], "%s/%s", dir, name);
	return p[k];
}

static void keys(const char *name, struct noise_keypair *kp)
{
	unlink(path(name));
	char pub[160];
	snprintf(pub, sizeof pub, "%s.pub", path(name));
	unlink(pub);
	ASSERT_EQ(session_key_generate(path(name), NULL, kp), 0);
}

/* Seal plain[0..n) into file name, written in pieces of uneven size. */
static void seal_file(const char *name, const struct noise_keypair *kp, const uint8_t *p, size_t n)
{
	int fd = open(path(name), O_RDWR | O_CREAT | O_TRUNC, 0600);
	ASSERT(fd >= 0);
	struct seal_writer *w;
	ASSERT_EQ(seal_writer_open(fd, kp->pub, &w), 0);
	size_t off = 0, step = 1;
	while (off < n) {
		size_t take = step < n - off ? step : n - off;
		ASSERT_EQ(seal_writer_write(w, p + off, take), 0);
		off += take;
		step = step * 3 + 7;
	}
	ASSERT_EQ(seal_writer_finish(w), 0);
	close(fd);
}

static int read_at(const char *name, const struct noise_keypair *kp, uint64_t off, uint8_t *out,
		   size_t n)
{
	int fd = open(path(name), O_RDONLY);
	ASSERT(fd >= 0);
	struct seal_reader *r;
	int rc = seal_reader_open(fd, kp->priv, kp->pub, &r, NULL, 0);
	if (rc == 0) {
		rc = seal_reader_pread(r, off, out, n);
		seal_reader_close(r);
	}
	close(fd);
	return rc;
}

TEST(seal_roundtrip_random_offsets)
{
	struct noise_keypair kp;
	keys("k1", &kp);
	seal_file("a.seal", &kp, plain, PLAIN);
	static uint8_t buf[SEAL_CHUNK_DEFAULT + 4096];
	for (int i = 0; i < 64; i++) {
		uint64_t off = randombytes_uniform(PLAIN);
		size_t n = randombytes_uniform(sizeof buf);
		if (n > PLAIN - off)
			n = PLAIN - off;
		ASSERT_EQ(read_at("a.seal", &kp, off, buf, n), 0);
		ASSERT(memcmp(buf, plain + off, n) == 0);
	}
	ASSERT_EQ(read_at("a.seal", &kp, PLAIN - 1, buf, 2), SEVMON_EFAULT);
	struct stat st;
	ASSERT_EQ(stat(path("a.seal"), &st), 0);
	ASSERT_UEQ((uint64_t)st.st_size, SEAL_HDR_LEN + 4 * SEAL_CHUNK_OVERHEAD + PLAIN);
}

/* Flip one byte in the header and in each chunk: that part never reads. */
TEST(seal_every_altered_byte_is_detected)
{
	struct noise_keypair kp;
	keys("k2", &kp);
	seal_file("b.seal", &kp, plain, PLAIN);
	int fd = open(path("b.seal"), O_RDWR);
	ASSERT(fd >= 0);
	uint64_t rec = SEAL_CHUNK_DEFAULT + SEAL_CHUNK_OVERHEAD;
	const uint64_t spots[] = { 16, 30, 100, 230, SEAL_HDR_LEN + 3, SEAL_HDR_LEN + 30,
				   SEAL_HDR_LEN + rec + 500, SEAL_HDR_LEN + 3 * rec + 40 };
	for (size_t i = 0; i < sizeof spots / sizeof spots[0]; i++) {
		uint8_t c;
		ASSERT_EQ(pread(fd, &c, 1, (off_t)spots[i]), 1);
		c ^= 0x20;
		ASSERT_EQ(pwrite(fd, &c, 1, (off_t)spots[i]), 1);
		uint8_t out[64];
		uint64_t at = spots[i] < SEAL_HDR_LEN ? 0
			      : ((spots[i] - SEAL_HDR_LEN) / rec) * SEAL_CHUNK_DEFAULT;
		int rc = read_at("b.seal", &kp, at, out, sizeof out);
		/* inside the sealed file key, an alteration reads as a key that does not open it */
		int want = spots[i] >= 84 && spots[i] < 164 ? SEVMON_EDENIED : SEVMON_EDECODE;
		if (rc != want)
			FAIL_AT("byte %llu altered: %s", (unsigned long long)spots[i], sevmon_errname(rc));
		c ^= 0x20;
		ASSERT_EQ(pwrite(fd, &c, 1, (off_t)spots[i]), 1);
	}
	/* cut short, and grown: refused at open */
	struct stat st;
	ASSERT_EQ(fstat(fd, &st), 0);
	ASSERT_EQ(ftruncate(fd, st.st_size - 1), 0);
	uint8_t out[8];
	ASSERT_EQ(read_at("b.seal", &kp, 0, out, 1), SEVMON_ETRUNC);
	ASSERT_EQ(ftruncate(fd, st.st_size + 1), 0);
	ASSERT_EQ(read_at("b.seal", &kp, 0, out, 1), SEVMON_EDECODE);
	ASSERT_EQ(ftruncate(fd, st.st_size), 0);
	ASSERT_EQ(read_at("b.seal", &kp, 0, out, 8), 0);
	close(fd);
}

TEST(seal_wrong_key_is_refused_with_its_reason)
{
	struct noise_keypair kp, other;
	keys("k3", &kp);
	keys("k4", &other);
	seal_file("c.seal", &kp, plain, 5000);
	int fd = open(path("c.seal"), O_RDONLY);
	struct seal_reader *r = NULL;
	char why[256] = "";
	ASSERT_EQ(seal_reader_open(fd, other.priv, other.pub, &r, why, sizeof why), SEVMON_EDENIED);
	ASSERT(strstr(why, "another key") != NULL);
	/* the right public key with a wrong private one does not open the file key */
	ASSERT_EQ(seal_reader_open(fd, other.priv, kp.pub, &r, why, sizeof why), SEVMON_EDENIED);
	ASSERT(r == NULL);
	close(fd);
}

/* A writer killed midway: resume keeps its whole chunks and the result reads the same. */
TEST(seal_resume_after_an_interrupted_write)
{
	struct noise_keypair kp;
	keys("k5", &kp);
	int fd = open(path("d.seal"), O_RDWR | O_CREAT | O_TRUNC, 0600);
	struct seal_writer *w;
	ASSERT_EQ(seal_writer_open(fd, kp.pub, &w), 0);
	ASSERT_EQ(seal_writer_write(w, plain, 2 * SEAL_CHUNK_DEFAULT + 777), 0);
	seal_writer_abandon(w); /* the third chunk was never written */
	/* plus half a chunk record, as a kill mid-pwrite leaves it */
	struct stat st;
	ASSERT_EQ(fstat(fd, &st), 0);
	ASSERT_EQ(ftruncate(fd, st.st_size + 1000), 0);
	uint8_t out[16];
	ASSERT_EQ(read_at("d.seal", &kp, 0, out, 1), SEVMON_EDECODE); /* unfinished */
	uint64_t done = 0;
	char why[256] = "";
	ASSERT_EQ(seal_writer_resume(fd, kp.priv, kp.pub, &w, &done, why, sizeof why), 0);
	ASSERT_UEQ(done, 2 * SEAL_CHUNK_DEFAULT);
	ASSERT_EQ(seal_writer_write(w, plain + done, PLAIN - done), 0);
	ASSERT_EQ(seal_writer_finish(w), 0);
	close(fd);
	static uint8_t all[PLAIN];
	ASSERT_EQ(read_at("d.seal", &kp, 0, all, PLAIN), 0);
	ASSERT(memcmp(all, plain, PLAIN) == 0);
	fd = open(path("d.seal"), O_RDWR);
	ASSERT_EQ(seal_writer_resume(fd, kp.priv, kp.pub, &w, &done, why, sizeof why), SEVMON_EEXIST);
	close(fd);
}

/* A LiME image of two ranges, plain and sealed, read through image: sources. */
static size_t lime(uint8_t *out, uint64_t a0, size_t n0, uint64_t a1, size_t n1)
{
	size_t o = 0;
	const uint64_t starts[2] = { a0, a1 };
	const size_t lens[2] = { n0, n1 };
	for (int i = 0; i < 2; i++) {
		store_le32(out + o, 0x4c694d45u);
		store_le32(out + o + 4, 1);
		store_le64(out + o + 8, starts[i]);
		store_le64(out + o + 16, starts[i] + lens[i] - 1);
		memset(out + o + 24, 0, 8);
		memcpy(out + o + 32, plain + starts[i], lens[i]);
		o += 32 + lens[i];
	}
	return o;
}

TEST(mem_image_reads_lime_plain_and_sealed)
{
	static uint8_t img[2 * 65536 + 64];
	size_t n = lime(img, 0x1000, 65536, 0x100000, 65536);
	int fd = open(path("g.lime"), O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ASSERT_EQ(write(fd, img, n), (ssize_t)n);
	close(fd);
	struct noise_keypair kp;
	keys("k6", &kp);
	seal_file("g.lime.seal", &kp, img, n);
	char spec[3][400];
	snprintf(spec[0], sizeof spec[0], "image:%s", path("g.lime"));
	snprintf(spec[1], sizeof spec[1], "image:%s,key=%s", path("g.lime.seal"), path("k6"));
	snprintf(spec[2], sizeof spec[2], "image:%s", path("g.lime.seal"));
	for (int i = 0; i < 2; i++) {
		struct mem_source *m;
		ASSERT_EQ(mem_open(spec[i], &m), 0);
		const struct mem_region *r;
		size_t nr;
		ASSERT_EQ(mem_regions(m, &r, &nr), 0);
		ASSERT_UEQ(nr, 2);
		ASSERT_UEQ(r[0].start, 0x1000);
		ASSERT_UEQ(r[1].size, 65536);
		uint8_t b[300];
		ASSERT_EQ(mem_read_phys(m, 0x100000 + 65400, b, 300), SEVMON_EFAULT); /* past it */
		ASSERT_EQ(mem_read_phys(m, 0x100000 + 1000, b, 300), 0);
		ASSERT(memcmp(b, plain + 0x100000 + 1000, 300) == 0);
		ASSERT_EQ(mem_read_phys(m, 0x800, b, 16), SEVMON_EFAULT); /* a hole */
		mem_close(m);
	}
	struct mem_source *m = NULL;
	ASSERT_EQ(mem_open(spec[2], &m), SEVMON_EDENIED); /* sealed, no key */
	/* a LiME header claiming more than the file holds */
	store_le64(img + 16, 0x1000 + (1u << 30));
	fd = open(path("h.lime"), O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ASSERT_EQ(write(fd, img, n), (ssize_t)n);
	close(fd);
	char bad[400];
	snprintf(bad, sizeof bad, "image:%s", path("h.lime"));
	ASSERT_EQ(mem_open(bad, &m), SEVMON_EINVAL);
}

struct harness_case harness_cases[HARNESS_MAX_CASES];
int harness_ncases;

int main(int argc, char **argv)
{
	if (sodium_init() < 0 || !(plain = malloc(PLAIN)))
		return 1;
	randombytes_buf(plain, PLAIN);
	int rc = harness_main(argc, argv);
	free(plain);
	return rc;
}
