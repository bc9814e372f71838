/*
 * sevmon acquire URI --out FILE — the guest's physical memory through the channel into a
 * LiME (or ELF core) image, sealed to this IDS's key unless --plain (forensics/acquire.h);
 * and `sevmon dump unseal`, which turns a sealed image back into the plain file.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acquire.h"
#include "cli.h"
#include "cli_conn.h"
#include "err.h"
#include "ids_gmem.h"
#include "mem_seal.h"
#include "session.h"

static const char acquire_usage[] =
	"usage: sevmon acquire URI --out FILE [--format lime|elf] [--plain] [--resume] [--quiet]\n"
	"                      [channel options]\n"
	"Copy every physical range the agent's memory source has into FILE, through the channel:\n"
	"  --format lime     LiME (default: what Volatility 3 and other memory forensics tools read)\n"
	"  --format elf      an ELF core like QEMU's dump-guest-memory, with the VMCOREINFO note\n"
	"  --plain           write the image as it is; by default it is sealed to this IDS's key\n"
	"                    (`sevmon dump unseal` gives the plain file; sevmon reads either)\n"
	"  --resume          continue an acquisition that was interrupted (FILE.acq is its journal)\n"
	"  --quiet           no progress bar\n"
	"FILE.manifest.json gets each range's SHA-256, the image's and the file's, and the pages\n"
	"the agent could not read (zeros in the image, never silently).\n";

static const char unseal_usage[] =
	"usage: sevmon dump unseal SEALED --out FILE [--key FILE]\n"
	"Write the plain image a sealed one holds (this IDS's key opens it: --key or $SEVMON_KEY).\n"
	"Any altered byte of SEALED is refused; nothing is written then.\n";

struct bar {
	int on;
};

static void human(uint64_t b, char *out, size_t cap)
{
	if (b >= (1ull << 30))
		snprintf(out, cap, "%.2f GiB", (double)b / (1 << 30));
	else
		snprintf(out, cap, "%.1f MiB", (double)b / (1 << 20));
}

static void draw(void *ctx, uint64_t done, uint64_t total, double s)
{
	struct bar *b = ctx;
	if (!b->on)
		return;
	enum { WIDTH = 30 };
	char bar[WIDTH + 1], d[32], t[32];
	size_t fill = total ? (size_t)(done * WIDTH / total) : WIDTH;
	for (size_t i = 0; i < WIDTH; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[WIDTH] = 0;
	double rate = s > 0 ? (double)done / s : 0;
	double eta = rate > 0 ? (double)(total - done) / rate : 0;
	human(done, d, sizeof d);
	human(total, t, sizeof t);
	fprintf(stderr, "\r[%s] %s / %s  %.0f MiB/s  ETA %.0f s   ", bar, d, t, rate / (1 << 20), eta);
	fflush(stderr);
}

int cmd_acquire(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "format", required_argument, NULL, 'f' },
		{ "plain", no_argument, NULL, 'p' },
		{ "resume", no_argument, NULL, 'r' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		CLI_CONN_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	struct cli_conn_opts copts;
	cli_conn_opts_init(&copts);
	struct acquire_opts ao = { .format = IMAGE_LIME, .sealed = 1 };
	int quiet = 0, c;
	while ((c = getopt_long(argc, argv, "o:f:prqh", opts, NULL)) != -1) {
		int r = cli_conn_opt(&copts, c, optarg);
		if (r < 0)
			return CLI_EUSAGE;
		if (r > 0)
			continue;
		switch (c) {
		case 'o':
			ao.out = optarg;
			break;
		case 'f':
			if (!strcmp(optarg, "lime"))
				ao.format = IMAGE_LIME;
			else if (!strcmp(optarg, "elf"))
				ao.format = IMAGE_ELF;
			else {
				fprintf(stderr, "sevmon acquire: --format lime or elf\n");
				return CLI_EUSAGE;
			}
			break;
		case 'p':
			ao.sealed = 0;
			break;
		case 'r':
			ao.resume = 1;
			break;
		case 'q':
			quiet = 1;
			break;
		case 'h':
			printf("%s%s", acquire_usage, cli_conn_usage);
			return CLI_OK;
		default:
			fprintf(stderr, "%s", acquire_usage);
			return CLI_EUSAGE;
		}
	}
	if (argc - optind != 1 || !ao.out) {
		fprintf(stderr, "%s", acquire_usage);
		return CLI_EUSAGE;
	}
	const char *uri = argv[optind];
	struct ids_conn conn;
	struct ids_policy pol;
	int ex = cli_connect("acquire", uri, &copts, &pol, &conn);
	if (ex != CLI_OK)
		return ex;
	struct ids_agent_info info;
	char err[320] = "";
	int rc = ids_agent_get_info(&conn, &info, err, sizeof err);
	struct bar bar = { .on = !quiet && isatty(STDERR_FILENO) };
	struct acquire_result res;
	char *ev = NULL;
	if (rc == 0) {
		ev = acquire_evidence_json(&pol.peer.last);
		ao.key = &pol.key;
		ao.progress = draw;
		ao.progress_ctx = &bar;
		ao.source_uri = uri;
		ao.evidence_json = ev;
		rc = acquire_run(&conn, &info, &ao, &res, err, sizeof err);
	}
	if (bar.on)
		fputc('\n', stderr);
	free(ev);
	ids_conn_close(&conn);
	ids_policy_free(&pol);
	if (rc < 0) {
		cli_error("acquire", ao.out, rc, err);
		return rc == SEVMON_EEXIST || rc == SEVMON_EINVAL ? CLI_EUSAGE
		       : rc == SEVMON_EIO || rc == SEVMON_ENOMEM  ? CLI_ELOCAL
								  : cli_exit_for_request(rc);
	}
	char img[32];
	human(res.image_bytes, img, sizeof img);
	fprintf(stderr, "sevmon acquire: %s: %s %s image (%" PRIu64 " bytes of memory, %" PRIu64
			" unreadable) in %.2f s, %.0f MiB/s, %" PRIu64 " requests%s\n", ao.out, img,
		ao.format == IMAGE_ELF ? "ELF" : "LiME", res.memory_bytes, res.unreadable_bytes,
		res.seconds,
		res.seconds > 0 ? (double)(res.image_bytes - res.resumed_from) / res.seconds / (1 << 20) : 0,
		res.requests, res.resumed_from ? " (resumed)" : "");
	fprintf(stderr, "sevmon acquire: image sha256 %s%s; manifest %s\n", res.image_sha256,
		ao.sealed ? " (sealed to this IDS's key)" : "", res.manifest);
	return CLI_OK;
}

static int unseal(const char *in, const char *out, const char *keyfile)
{
	struct noise_keypair kp;
	const char *k = keyfile ? keyfile : getenv("SEVMON_KEY");
	if (!k || !*k) {
		fprintf(stderr, "sevmon dump unseal: no key: give --key FILE or set SEVMON_KEY\n");
		return CLI_EUSAGE;
	}
	int rc = session_key_load(k, &kp);
	if (rc < 0) {
		cli_error("dump unseal", k, rc, "cannot load the private key");
		return CLI_EUSAGE;
	}
	int fd = open(in, O_RDONLY | O_CLOEXEC), ofd = -1;
	struct seal_reader *r = NULL;
	char why[256] = "";
	uint8_t *buf = malloc(SEAL_CHUNK_DEFAULT);
	int ex = CLI_ELOCAL;
	if (fd < 0) {
		cli_error("dump unseal", in, sevmon_from_errno(errno), NULL);
		goto out;
	}
	if ((rc = seal_reader_open(fd, kp.priv, kp.pub, &r, why, sizeof why)) < 0) {
		cli_error("dump unseal", in, rc, why);
		ex = CLI_EREMOTE;
		goto out;
	}
	if (!buf || (ofd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
		cli_error("dump unseal", out, buf ? sevmon_from_errno(errno) : SEVMON_ENOMEM,
			  errno == EEXIST ? "exists" : NULL);
		goto out;
	}
	uint64_t size = seal_reader_size(r);
	for (uint64_t off = 0; off < size;) {
		size_t n = size - off < SEAL_CHUNK_DEFAULT ? (size_t)(size - off) : SEAL_CHUNK_DEFAULT;
		if ((rc = seal_reader_pread(r, off, buf, n)) < 0) {
			cli_error("dump unseal", in, rc, "a chunk does not authenticate: altered");
			ex = CLI_EREMOTE;
			goto out;
		}
		if (write(ofd, buf, n) != (ssize_t)n) {
			cli_error("dump unseal", out, SEVMON_EIO, strerror(errno));
			goto out;
		}
		off += n;
	}
	if (fsync(ofd) == 0)
		ex = CLI_OK;
out:
	if (ex != CLI_OK && ofd >= 0)
		unlink(out); /* never half an image */
	if (ofd >= 0)
		close(ofd);
	if (fd >= 0)
		close(fd);
	seal_reader_close(r);
	free(buf);
	sodium_memzero(&kp, sizeof kp);
	return ex;
}

int cmd_dump(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "key", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *out = NULL, *key = NULL;
	if (argc < 2 || strcmp(argv[1], "unseal")) {
		fprintf(stderr, "%s", unseal_usage);
		return argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) ? CLI_OK
											   : CLI_EUSAGE;
	}
	argc--;
	argv++;
	int c;
	while ((c = getopt_long(argc, argv, "o:k:h", opts, NULL)) != -1) {
		if (c == 'o')
			out = optarg;
		else if (c == 'k')
			key = optarg;
		else {
			fprintf(c == 'h' ? stdout : stderr, "%s", unseal_usage);
			return c == 'h' ? CLI_OK : CLI_EUSAGE;
		}
	}
	if (argc - optind != 1 || !out) {
		fprintf(stderr, "%s", unseal_usage);
		return CLI_EUSAGE;
	}
	return unseal(argv[optind], out, key);
}
