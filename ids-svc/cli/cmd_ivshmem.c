/*
 * sevmon ivshmem-server — QEMU's ivshmem server protocol (lib/xport/ivshmem.h) for one
 * shared-memory region: ivshmem-doorbell guests (-chardev socket,path=SOCK) and host
 * processes (shm+ivshmem:///SOCK) get the region and each other's doorbells from it.
 * Runs in the foreground until SIGTERM / SIGINT.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "err.h"
#include "ivshmem.h"
#include "shm.h"

static const char ivs_usage[] =
	"usage: sevmon ivshmem-server --socket PATH [--shm FILE] [--size N[K|M|G]]\n"
	"                             [--vectors N] [--max-peers N]\n"
	"Serve one shared-memory region over QEMU's ivshmem server protocol: each peer (an\n"
	"ivshmem-doorbell device, or sevmon / sevmon-agent with shm+ivshmem://PATH) gets the\n"
	"region, an id and eventfds to ring the others. The region is FILE (created mode 0600\n"
	"if missing; its size kept if it has one) or, without --shm, anonymous memory.\n"
	"  --size N       region size, a power of two (default 1M; QEMU maps it as a BAR)\n"
	"  --vectors N    interrupt vectors per peer (default 1; at most 64)\n"
	"  --max-peers N  peers at once (default 16; at most 64); more are closed at once\n"
	"A peer that sends anything, or stops reading, is dropped; the others go on.\n";

static int stop_pipe[2] = { -1, -1 };

static void on_signal(int sig)
{
	(void)sig;
	int e = errno;
	if (write(stop_pipe[1], "s", 1) < 0) {
		/* the loop is stopping anyway */
	}
	errno = e;
}

static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || s[0] == '-')
		return -1;
	unsigned shift = 0;
	switch (*end) {
	case 'K': case 'k': shift = 10; end++; break;
	case 'M': case 'm': shift = 20; end++; break;
	case 'G': case 'g': shift = 30; end++; break;
	}
	if (*end || v > (UINT64_MAX >> shift))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

/* The region: FILE opened (or created) and sized, or a memfd. Returns an fd or -1. */
static int open_region(const char *path, uint64_t size, int size_given)
{
	int fd;
	if (!path) {
		if ((fd = memfd_create("sevmon-ivshmem", MFD_CLOEXEC)) < 0 ||
		    ftruncate(fd, (off_t)size) < 0) {
			fprintf(stderr, "sevmon ivshmem-server: memfd: %s\n", strerror(errno));
			if (fd >= 0)
				close(fd);
			return -1;
		}
		return fd;
	}
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600)) < 0) {
		fprintf(stderr, "sevmon ivshmem-server: %s: %s\n", path, strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		fprintf(stderr, "sevmon ivshmem-server: %s: not a regular file\n", path);
		close(fd);
		return -1;
	}
	if (st.st_size == 0) {
		if (ftruncate(fd, (off_t)size) < 0) {
			fprintf(stderr, "sevmon ivshmem-server: %s: %s\n", path, strerror(errno));
			close(fd);
			return -1;
		}
	} else if (size_given && (uint64_t)st.st_size != size) {
		fprintf(stderr, "sevmon ivshmem-server: %s has %lld bytes, not --size %llu\n", path,
			(long long)st.st_size, (unsigned long long)size);
		close(fd);
		return -1;
	} else if (((uint64_t)st.st_size & ((uint64_t)st.st_size - 1)) ||
		   (uint64_t)st.st_size < SHM_REGION_MIN || (uint64_t)st.st_size > SHM_REGION_MAX) {
		fprintf(stderr, "sevmon ivshmem-server: %s: size %lld is not a power of two in %zu..%zu\n",
			path, (long long)st.st_size, SHM_REGION_MIN, SHM_REGION_MAX);
		close(fd);
		return -1;
	}
	return fd;
}

int cmd_ivshmem_server(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' }, { "shm", required_argument, NULL, 'f' },
		{ "size", required_argument, NULL, 'z' },   { "vectors", required_argument, NULL, 'v' },
		{ "max-peers", required_argument, NULL, 'p' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sock = NULL, *file = NULL;
	uint64_t size = SHM_REGION_DEFAULT, vectors = 1, peers = IVSHMEM_DEFAULT_PEERS;
	int size_given = 0, c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's': sock = optarg; break;
		case 'f': file = optarg; break;
		case 'z':
			if (parse_size(optarg, &size) < 0 || (size & (size - 1)) ||
			    size < SHM_REGION_MIN || size > SHM_REGION_MAX) {
				fprintf(stderr, "sevmon ivshmem-server: --size: a power of two in %zu..%zu\n",
					SHM_REGION_MIN, SHM_REGION_MAX);
				return CLI_EUSAGE;
			}
			size_given = 1;
			break;
		case 'v':
			if (cli_parse_u64(optarg, IVSHMEM_MAX_VECTORS, &vectors) < 0 || vectors < 1) {
				fprintf(stderr, "sevmon ivshmem-server: --vectors: 1..%u\n", IVSHMEM_MAX_VECTORS);
				return CLI_EUSAGE;
			}
			break;
		case 'p':
			if (cli_parse_u64(optarg, IVSHMEM_MAX_PEERS, &peers) < 0 || peers < 1) {
				fprintf(stderr, "sevmon ivshmem-server: --max-peers: 1..%u\n", IVSHMEM_MAX_PEERS);
				return CLI_EUSAGE;
			}
			break;
		case 'h': fputs(ivs_usage, stdout); return CLI_OK;
		default: fputs(ivs_usage, stderr); return CLI_EUSAGE;
		}
	}
	if (!sock || optind != argc) {
		fputs(ivs_usage, stderr);
		return CLI_EUSAGE;
	}
	int shm = open_region(file, size, size_given);
	if (shm < 0)
		return CLI_ELOCAL;
	struct stat st;
	(void)fstat(shm, &st);
	if (pipe2(stop_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		close(shm);
		return CLI_ELOCAL;
	}
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct ivshmem_server_cfg cfg = { sock, shm, (unsigned)vectors, (unsigned)peers };
	struct ivshmem_server *s;
	int rc = ivshmem_server_new(&cfg, &s);
	if (rc < 0) {
		cli_error("ivshmem-server", sock, rc, NULL);
		close(shm);
		return rc == SEVMON_EEXIST ? CLI_EUSAGE : CLI_ELOCAL;
	}
	fprintf(stderr, "sevmon ivshmem-server: listening on %s (region %lld bytes, %u vector%s, %u peers)\n",
		sock, (long long)st.st_size, cfg.vectors, cfg.vectors == 1 ? "" : "s", cfg.max_peers);
	rc = ivshmem_server_run(s, stop_pipe[0]);
	struct ivshmem_server_stats ss;
	ivshmem_server_get_stats(s, &ss);
	fprintf(stderr, "sevmon ivshmem-server: stopping: %llu peers served, %llu refused, %llu dropped\n",
		(unsigned long long)ss.accepted, (unsigned long long)ss.refused,
		(unsigned long long)ss.dropped);
	ivshmem_server_free(s);
	close(shm);
	return rc < 0 ? CLI_ELOCAL : CLI_OK;
}
