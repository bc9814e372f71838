/*
 * The image and ramfile sources against a real QEMU (paused with -S, no guest: the layout
 * and formats come from QEMU itself). A loader device puts a known pattern into guest RAM;
 * what the source reads must equal both the pattern and QEMU's own pmemsave of that range.
 * Takes well under a second per case; skipped (with a note) where QEMU is not installed.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>

#include "err.h"
#include "harness.h"
#include "mem.h"
#include "mem_testutil.h"

#define QEMU "qemu-system-x86_64"
#define PAT_LEN 8192u
/* QEMU starts paused in a fraction of a second; 10 s leaves room for a loaded CI machine. */
#define QMP_WAIT_MS 10000
#define GIB (1ull << 30)

struct qemu {
	pid_t pid;
	int qmp;
	char dir[128];
	char line[16384];
};

static bool have_qemu(void)
{
	const char *path = getenv("PATH");
	char buf[4096], cand[4200];
	snprintf(buf, sizeof(buf), "%s", path ? path : "/usr/bin:/bin");
	for (char *save, *d = strtok_r(buf, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		snprintf(cand, sizeof(cand), "%s/%s", d, QEMU);
		if (access(cand, X_OK) == 0)
			return true;
	}
	return false;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One line from QMP into q->line (without the newline). */
static void qmp_line(struct qemu *q)
{
	size_t n = 0;
	int64_t end = now_ms() + QMP_WAIT_MS;
	for (;;) {
		struct pollfd p = { .fd = q->qmp, .events = POLLIN };
		int64_t left = end - now_ms();
		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			FAIL_AT("QMP: no answer");
		char c;
		if (read(q->qmp, &c, 1) != 1)
			FAIL_AT("QMP: connection closed");
		if (c == '\n')
			break;
		if (n + 1 < sizeof(q->line))
			q->line[n++] = c;
	}
	q->line[n] = '\0';
}

/* Send one command and wait for its answer; events in between are skipped. */
static void qmp(struct qemu *q, const char *json)
{
	size_t n = strlen(json);
	ASSERT_EQ(write(q->qmp, json, n), (ssize_t)n);
	ASSERT_EQ(write(q->qmp, "\n", 1), 1);
	for (;;) {
		qmp_line(q);
		if (strstr(q->line, "\"error\""))
			FAIL_AT("QMP %s: %s", json, q->line);
		if (strstr(q->line, "\"return\""))
			return;
	}
}

/* Start QEMU paused with extra args (NULL-terminated) and connect QMP; q->dir exists. */
static void qemu_start(struct qemu *q, const char *const *extra)
{
	char sock[200];
	const char *argv[64];
	size_t k = 0;
	char qmparg[256];

	snprintf(sock, sizeof(sock), "%s/qmp.sock", q->dir);
	snprintf(qmparg, sizeof(qmparg), "unix:%s,server=on,wait=off", sock);
	const char *base[] = { QEMU, "-nodefaults", "-nographic", "-S", "-accel", "tcg",
			       "-qmp", qmparg };
	for (size_t i = 0; i < sizeof(base) / sizeof(base[0]); i++)
		argv[k++] = base[i];
	for (size_t i = 0; extra[i]; i++)
		argv[k++] = extra[i];
	argv[k] = NULL;

	q->pid = fork();
	ASSERT(q->pid >= 0);
	if (q->pid == 0) {
		/* A failed assertion ends the case process: QEMU must not outlive it. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		int null = open("/dev/null", O_RDWR);
		dup2(null, 0);
		dup2(null, 1);
		execvp(QEMU, (char *const *)argv);
		_exit(127);
	}
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	ASSERT(strlen(sock) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, sock, strlen(sock) + 1);
	int64_t end = now_ms() + QMP_WAIT_MS;
	for (;;) {
		q->qmp = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		ASSERT(q->qmp >= 0);
		if (connect(q->qmp, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			break;
		close(q->qmp);
		if (now_ms() > end || waitpid(q->pid, NULL, WNOHANG) == q->pid)
			FAIL_AT("QEMU did not come up (see its stderr above)");
		usleep(20000);
	}
	qmp_line(q); /* greeting */
	qmp(q, "{\"execute\":\"qmp_capabilities\"}");
}

static void qemu_stop(struct qemu *q)
{
	qmp(q, "{\"execute\":\"quit\"}");
	close(q->qmp);
	int64_t end = now_ms() + QMP_WAIT_MS;
	while (waitpid(q->pid, NULL, WNOHANG) != q->pid) {
		if (now_ms() > end) {
			kill(q->pid, SIGKILL);
			waitpid(q->pid, NULL, 0);
			break;
		}
		usleep(10000);
	}
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", q->dir);
	ASSERT_EQ(system(cmd), 0);
}

/* QEMU's own copy of guest-physical [addr, addr+len), via pmemsave. */
static uint8_t *pmemsave(struct qemu *q, uint64_t addr, size_t len)
{
	char path[256], cmd[512];
	snprintf(path, sizeof(path), "%s/pmem-%llx.bin", q->dir, (unsigned long long)addr);
	snprintf(cmd, sizeof(cmd),
		 "{\"execute\":\"pmemsave\",\"arguments\":{\"val\":%llu,\"size\":%zu,"
		 "\"filename\":\"%s\"}}",
		 (unsigned long long)addr, len, path);
	qmp(q, cmd);
	uint8_t *b = malloc(len);
	ASSERT(b != NULL);
	int fd = open(path, O_RDONLY);
	ASSERT(fd >= 0);
	ASSERT_EQ(read(fd, b, len), (ssize_t)len);
	close(fd);
	return b;
}

/* A pattern file for the loader device, and its -device argument. */
static void loader(struct qemu *q, char *arg, size_t cap, uint64_t addr)
{
	char path[256];
	uint8_t b[PAT_LEN];
	snprintf(path, sizeof(path), "%s/pat-%llx.bin", q->dir, (unsigned long long)addr);
	tpat_fill(b, addr, sizeof(b));
	twrite_file(path, b, sizeof(b));
	snprintf(arg, cap, "loader,file=%s,addr=0x%llx,force-raw=on", path,
		 (unsigned long long)addr);
}

static void expect_same(struct qemu *q, struct mem_source *m, uint64_t addr, size_t len,
			bool pattern)
{
	uint8_t *got = malloc(len);
	ASSERT(got != NULL);
	int rc = mem_read_phys(m, addr, got, len);
	if (rc != 0)
		FAIL_AT("read 0x%llx+%zu: %s", (unsigned long long)addr, len, sevmon_errname(rc));
	uint8_t *want = pmemsave(q, addr, len);
	ASSERT_MEMEQ(got, want, len);
	if (pattern)
		ASSERT(tpat_ok(got, addr, len));
	free(want);
	free(got);
}

/* The case's own directory: QMP socket, pattern files, dump, pmemsave output. */
static void prepare_dir(struct qemu *q)
{
	snprintf(q->dir, sizeof(q->dir), "%s/sevmon-qemu-XXXXXX",
		 getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	ASSERT(mkdtemp(q->dir) != NULL);
}

TEST(mem_image_qemu_elf_dump_matches_pmemsave)
{
	if (!have_qemu()) {
		printf("# skipped: %s not installed\n", QEMU);
		return;
	}
	struct qemu q = { 0 };
	char l1[512], l2[512];
	prepare_dir(&q);
	loader(&q, l1, sizeof(l1), 0x100000);
	loader(&q, l2, sizeof(l2), 0x4000000 - 0x10000); /* near the top of 64 MiB */
	const char *extra[] = { "-M", "pc", "-m", "64", "-device", l1, "-device", l2, NULL };
	qemu_start(&q, extra);

	char cmd[512], dump[256], spec[300];
	snprintf(dump, sizeof(dump), "%s/dump.elf", q.dir);
	snprintf(cmd, sizeof(cmd),
		 "{\"execute\":\"dump-guest-memory\",\"arguments\":{\"paging\":false,"
		 "\"protocol\":\"file:%s\"}}", dump);
	qmp(&q, cmd);
	snprintf(spec, sizeof(spec), "image:%s", dump);
	struct mem_source *m = NULL;
	ASSERT_EQ(mem_open(spec, &m), 0);

	expect_same(&q, m, 0x100000, PAT_LEN, true);
	expect_same(&q, m, 0x4000000 - 0x10000, PAT_LEN, true);
	expect_same(&q, m, 0, 0x1000, false);
	expect_same(&q, m, 0xfffc0000, 0x40000, false); /* the BIOS ROM is in the dump too */

	const struct mem_region *r;
	size_t n;
	ASSERT_EQ(mem_regions(m, &r, &n), 0);
	ASSERT(n >= 2);
	ASSERT_UEQ(r[0].start, 0);
	ASSERT_UEQ(r[0].size, 0x4000000); /* QEMU's pieces of low RAM merge into one */
	ASSERT_UEQ(r[n - 1].start + r[n - 1].size, 1ull << 32);
	uint8_t b[8];
	ASSERT_EQ(mem_read_phys(m, 0x4000000, b, 8), SEVMON_EFAULT);
	const uint8_t *d;
	size_t dl;
	ASSERT_EQ(mem_vmcoreinfo_note(m, &d, &dl), SEVMON_ENOENT); /* no guest kernel */
	mem_close(m);
	qemu_stop(&q);
}

static const char *shm_dir(void)
{
	struct stat st;
	return stat("/dev/shm", &st) == 0 && access("/dev/shm", W_OK) == 0 ? "/dev/shm" : NULL;
}

TEST(mem_ramfile_qemu_q35_layout_matches_pmemsave)
{
	if (!have_qemu()) {
		printf("# skipped: %s not installed\n", QEMU);
		return;
	}
	struct qemu q = { 0 };
	char l1[512], l2[512], obj[512], ram[256];
	prepare_dir(&q);
	loader(&q, l1, sizeof(l1), 0x100000);
	loader(&q, l2, sizeof(l2), 1ull << 32); /* the first byte of high RAM */
	/* 3 GiB on q35: 2 GiB below the PCI hole, 1 GiB at 4 GiB. The file is sparse. */
	if (shm_dir())
		snprintf(ram, sizeof(ram), "/dev/shm/%s-ram", strrchr(q.dir, '/') + 1);
	else
		snprintf(ram, sizeof(ram), "%s/ram", q.dir);
	snprintf(obj, sizeof(obj), "memory-backend-file,id=mem,size=3G,mem-path=%s,share=on", ram);
	const char *extra[] = { "-M", "q35,memory-backend=mem", "-m", "3G", "-object", obj,
				"-device", l1, "-device", l2, NULL };
	qemu_start(&q, extra);

	const char *opts[] = { ",machine=q35", "" };
	for (size_t i = 0; i < 2; i++) {
		char spec[400];
		snprintf(spec, sizeof(spec), "ramfile:%s%s", ram, opts[i]);
		struct mem_source *m = NULL;
		ASSERT_EQ(mem_open(spec, &m), 0);
		expect_same(&q, m, 0x100000, PAT_LEN, true);
		expect_same(&q, m, 1ull << 32, PAT_LEN, true);
		expect_same(&q, m, 2 * GIB - 0x1000, 0x1000, false);
		expect_same(&q, m, 5 * GIB - 0x1000, 0x1000, false);
		uint8_t b[8];
		ASSERT_EQ(mem_read_phys(m, 2 * GIB, b, 8), SEVMON_EFAULT);
		ASSERT_EQ(mem_read_phys(m, 5 * GIB, b, 8), SEVMON_EFAULT);
		mem_close(m);
	}
	qemu_stop(&q);
	unlink(ram);
}

TEST_MAIN()
