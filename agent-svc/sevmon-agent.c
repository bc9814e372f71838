/*
 * sevmon-agent — serves guest memory to an IDS, read-only, within fixed bounds.
 * One thread, one poll loop; this file only turns the command line into a running loop
 * and library errors into messages and exit codes.
 */
#include <errno.h>
#include <sodium.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "agent_channel.h"
#include "agent_loop.h"
#include "clock.h"
#include "err.h"
#include "shm.h"
#include "evidence_verify.h"
#include "mem.h"
#include "session.h"
#include "snp_provider.h"
#include "xport.h"

#ifndef SEVMON_VERSION
#define SEVMON_VERSION "0"
#endif

enum { EXIT_USAGE = 2, EXIT_SETUP = 3 };

static const char usage_text[] =
	"usage: sevmon-agent --memory SOURCE --listen URI [--listen URI ...] --key FILE\n"
	"                    --allow PUBFILE [--allow PUBFILE ...] --attest PROVIDER [options]\n"
	"\n"
	"Serves guest memory to a sevmon IDS: physical and kernel-virtual reads, batched\n"
	"reads (Gather), list walks (WalkList) and pattern scans (Scan); kernel-virtual\n"
	"addresses of a physical-only source through page tables the IDS names. Read-only;\n"
	"every request is bounded.\n"
	"\n"
	"  -m, --memory SOURCE   kcore              /proc/kcore (in the guest, as root)\n"
	"                        image:PATH         raw physical image or ELF core (QEMU dump-guest-memory)\n"
	"                        ramfile:PATH[,lowmem=SIZE][,base=ADDR][,machine=pc|q35]\n"
	"                                           a live QEMU guest-RAM file (share=on)\n"
	"  -l, --listen URI      unix:///path | tcp://ADDR:PORT (numeric) | vsock://CID:PORT\n"
	"                        (CID any/local/host or a number) | shm:///dev/shm/NAME[?size=1M]\n"
	"                        | shm+ivshmem:///SOCK (the region and doorbells of sevmon\n"
	"                        ivshmem-server) | shm+pci://BDF | shm+pci://auto (an ivshmem\n"
	"                        device; ?wake=doorbell: ivshmem-doorbell through vfio-pci,\n"
	"                        interrupts instead of polling); &spin=US; repeatable\n"
	"      --adopt-fd N      also serve the already-connected socket N (tests, inetd-style)\n"
	"\n"
	"Every connection is a Noise_XX session bound to this VM's SEV-SNP attestation:\n"
	"  -k, --key FILE        this agent's private key (sevmon keygen --out FILE)\n"
	"  -A, --allow PUBFILE   an IDS public key allowed to connect; repeatable; required\n"
	"  -a, --attest PROVIDER snp                 configfs-tsm, else /dev/sev-guest\n"
	"                        sim:DIR[,measurement=HEX][,policy=N][,vmpl=N]\n"
	"                                            simulated (sevmon attest sim-init DIR)\n"
	"      --ids-trust PEM   require evidence from the IDS, chained to this ARK (repeatable;\n"
	"                        AMD roots: --ids-trust-dir DIR)\n"
	"      --ids-trust-dir DIR  AMD roots amd-{milan,genoa,turin}.pem for IDS evidence\n"
	"      --ids-measurement HEX  accepted IDS launch measurement (repeatable)\n"
	"      --max-handshakes N  connections in the handshake at once; a newer one evicts\n"
	"                        the one with the least progress, oldest first (default %u)\n"
	"      --max-handshakes-per-source N  of them from one address (default %u)\n"
	"      --handshake-timeout MS  a handshake not done by then is closed (default %u)\n"
	"      --max-conns N     connections served at once (default %u)\n"
	"      --idle-timeout MS close connections idle this long (default %u)\n"
	"  -v, --verbose         log every request, not only connections and rejections\n"
	"  -q, --quiet           log nothing but fatal errors\n"
	"  -h, --help            this text\n"
	"      --version         print the version\n"
	"\n"
	"Exit status: 0 stopped by SIGINT/SIGTERM, 2 usage error, 3 cannot set up (memory\n"
	"source or listener), 1 the loop failed.\n";

static int log_verbosity = 1; /* 0 quiet, 1 info, 2 debug */

static void log_line(void *ctx, enum agent_log_level level, const char *msg)
{
	(void)ctx;
	if ((level == AGENT_LOG_DEBUG && log_verbosity < 2) || log_verbosity < 1)
		return;
	struct timespec ts = clock_real_ts();
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	fprintf(stderr, "%02d:%02d:%02d.%03ld sevmon-agent: %s%s\n", tm.tm_hour, tm.tm_min,
		tm.tm_sec, ts.tv_nsec / 1000000, level == AGENT_LOG_WARN ? "warning: " : "", msg);
}

static void die(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "sevmon-agent: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(code);
}

static struct agent_loop *the_loop;


static void on_stop_signal(int sig)
{
	(void)sig;
	if (the_loop)
		agent_loop_stop(the_loop);
}

static unsigned long parse_num(const char *s, const char *what, unsigned long max)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 0);
	if (errno || end == s || *end || v > max || s[0] == '-')
		die(EXIT_USAGE, "bad %s: '%s'", what, s);
	return v;
}

int main(int argc, char **argv)
{
	const char *memory = NULL;
	const char *listen_uris[AGENT_MAX_LISTENERS];
	size_t nlisten = 0;
	int adopt_fds[AGENT_MAX_LISTENERS];
	size_t nadopt = 0;
	struct agent_loop_config cfg;
	agent_loop_config_init(&cfg);

	const char *key_file = NULL, *attest = NULL;
	static struct agent_channel_cfg chan; /* static: outlives the loop, and 0-filled */
	static struct evidence_policy ids_pol;
	const char *ids_trust[8];
	size_t n_ids_trust = 0;
	enum { OPT_VERSION = 256, OPT_ADOPT, OPT_MAXCONNS, OPT_IDLE, OPT_MAXHS, OPT_MAXHS_SRC, OPT_HSTIMEOUT,
	       OPT_IDS_TRUST, OPT_IDS_TRUST_DIR, OPT_IDS_MEAS };
	static const struct option opts[] = {
		{ "memory", required_argument, NULL, 'm' },
		{ "listen", required_argument, NULL, 'l' },
		{ "adopt-fd", required_argument, NULL, OPT_ADOPT },
		{ "max-conns", required_argument, NULL, OPT_MAXCONNS },
		{ "idle-timeout", required_argument, NULL, OPT_IDLE },
		{ "key", required_argument, NULL, 'k' },
		{ "allow", required_argument, NULL, 'A' },
		{ "attest", required_argument, NULL, 'a' },
		{ "max-handshakes", required_argument, NULL, OPT_MAXHS },
		{ "max-handshakes-per-source", required_argument, NULL, OPT_MAXHS_SRC },
		{ "ids-trust", required_argument, NULL, OPT_IDS_TRUST },
		{ "ids-trust-dir", required_argument, NULL, OPT_IDS_TRUST_DIR },
		{ "ids-measurement", required_argument, NULL, OPT_IDS_MEAS },
		{ "handshake-timeout", required_argument, NULL, OPT_HSTIMEOUT },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "m:l:k:A:a:vqh", opts, NULL)) != -1) {
		int rc;
		switch (c) {
		case 'k':
			key_file = optarg;
			break;
		case 'A':
			if (chan.nallow == SESSION_MAX_ALLOW)
				die(EXIT_USAGE, "at most %u --allow", SESSION_MAX_ALLOW);
			rc = session_pub_load(optarg, chan.allow[chan.nallow]);
			if (rc < 0)
				die(EXIT_USAGE, "--allow %s: %s (expected a .pub file from sevmon keygen)",
				    optarg, sevmon_strerror(rc));
			chan.nallow++;
			break;
		case 'a':
			attest = optarg;
			break;
		case OPT_IDS_TRUST:
			if (n_ids_trust == 8)
				die(EXIT_USAGE, "at most 8 --ids-trust");
			ids_trust[n_ids_trust++] = optarg;
			break;
		case OPT_IDS_TRUST_DIR:
			ids_pol.trust_dir = optarg;
			break;
		case OPT_IDS_MEAS:
			if (ids_pol.n_measurements == EVIDENCE_MAX_MEASUREMENTS)
				die(EXIT_USAGE, "at most %u --ids-measurement", EVIDENCE_MAX_MEASUREMENTS);
			if (session_hex_decode(optarg, ids_pol.measurements[ids_pol.n_measurements],
					       SNP_MEASUREMENT_LEN) < 0)
				die(EXIT_USAGE, "--ids-measurement needs %d hex digits",
				    2 * SNP_MEASUREMENT_LEN);
			ids_pol.n_measurements++;
			break;
		case OPT_MAXHS:
			cfg.max_unauth = (unsigned)parse_num(optarg, "--max-handshakes", 4096);
			if (cfg.max_unauth == 0)
				die(EXIT_USAGE, "--max-handshakes must be at least 1");
			break;
		case OPT_MAXHS_SRC:
			cfg.max_unauth_per_source =
				(unsigned)parse_num(optarg, "--max-handshakes-per-source", 4096);
			if (cfg.max_unauth_per_source == 0)
				die(EXIT_USAGE, "--max-handshakes-per-source must be at least 1");
			break;
		case OPT_HSTIMEOUT:
			chan.handshake_timeout_ms =
				(uint32_t)parse_num(optarg, "--handshake-timeout", 600000);
			break;
		case 'm':
			memory = optarg;
			break;
		case 'l':
			if (nlisten == AGENT_MAX_LISTENERS)
				die(EXIT_USAGE, "at most %u --listen", AGENT_MAX_LISTENERS);
			listen_uris[nlisten++] = optarg;
			break;
		case OPT_ADOPT:
			if (nadopt == AGENT_MAX_LISTENERS)
				die(EXIT_USAGE, "at most %u --adopt-fd", AGENT_MAX_LISTENERS);
			adopt_fds[nadopt++] = (int)parse_num(optarg, "fd", 65535);
			break;
		case OPT_MAXCONNS:
			cfg.max_conns = (unsigned)parse_num(optarg, "--max-conns", 4096);
			break;
		case OPT_IDLE:
			cfg.idle_timeout_ms = (uint32_t)parse_num(optarg, "--idle-timeout", UINT32_MAX);
			break;
		case 'v':
			log_verbosity = 2;
			break;
		case 'q':
			log_verbosity = 0;
			break;
		case 'h':
			printf(usage_text, AGENT_MAX_UNAUTH, AGENT_MAX_UNAUTH_PER_SOURCE, AGENT_HANDSHAKE_TIMEOUT_MS, AGENT_MAX_CONNS,
			       AGENT_IDLE_TIMEOUT_MS);
			return 0;
		case OPT_VERSION:
			printf("sevmon-agent %s\n", SEVMON_VERSION);
			return 0;
		default:
			fprintf(stderr, usage_text, AGENT_MAX_UNAUTH, AGENT_MAX_UNAUTH_PER_SOURCE,
				AGENT_HANDSHAKE_TIMEOUT_MS,
				AGENT_MAX_CONNS, AGENT_IDLE_TIMEOUT_MS);
			return EXIT_USAGE;
		}
	}
	if (optind < argc)
		die(EXIT_USAGE, "unexpected argument '%s' (see --help)", argv[optind]);
	if (!memory)
		die(EXIT_USAGE, "--memory is required (see --help)");
	if (nlisten == 0 && nadopt == 0)
		die(EXIT_USAGE, "give at least one --listen URI (see --help)");
	if (!key_file)
		die(EXIT_USAGE, "--key is required: every connection is authenticated (see --help)");
	if (chan.nallow == 0)
		die(EXIT_USAGE, "no --allow: an agent with no allowed IDS key would serve no one; "
				"refusing to start");
	if (!attest)
		die(EXIT_USAGE, "--attest is required: snp on SEV-SNP hardware, sim:DIR for tests");
	int krc = session_key_load(key_file, &chan.key);
	if (krc < 0)
		die(EXIT_SETUP, "cannot load --key %s: %s%s", key_file, sevmon_strerror(krc),
		    krc == SEVMON_EDENIED ? " (the file is readable by others: chmod 600)" : "");
	struct snp_provider *provider;
	char why[256] = "";
	krc = snp_provider_open(attest, &provider, why, sizeof why);
	if (krc < 0)
		die(EXIT_SETUP, "--attest %s: %s", attest, why[0] ? why : sevmon_strerror(krc));
	chan.attest = snp_provider_attest;
	chan.attest_ctx = provider;
	chan.log = log_line;
	if (n_ids_trust || ids_pol.trust_dir || ids_pol.n_measurements) {
		ids_pol.trust = snp_trust_new();
		if (!ids_pol.trust)
			die(EXIT_SETUP, "out of memory");
		if (ids_pol.trust_dir && snp_trust_add_amd(ids_pol.trust, ids_pol.trust_dir) < 1)
			die(EXIT_SETUP, "--ids-trust-dir %s: no AMD root found", ids_pol.trust_dir);
		for (size_t i = 0; i < n_ids_trust; i++) {
			krc = snp_trust_add_file(ids_pol.trust, ids_trust[i]);
			if (krc < 0)
				die(EXIT_SETUP, "--ids-trust %s: %s", ids_trust[i], sevmon_strerror(krc));
		}
		chan.verify = evidence_verify;
		chan.verify_ctx = &ids_pol;
	}

	struct mem_source *mem;
	int rc = mem_open(memory, &mem);
	if (rc < 0)
		die(EXIT_SETUP, "cannot open memory source '%s': %s", memory, sevmon_strerror(rc));

	/* Stream listeners become fds for the loop; shared-memory regions are served by the
	 * loop itself (agent_loop_listen_shm) once it exists. */
	int lfds[AGENT_MAX_LISTENERS];
	size_t nfds = 0;
	for (size_t i = 0; i < nlisten; i++) {
		struct xport_addr addr;
		if (shm_uri_is(listen_uris[i]))
			continue;
		rc = xport_parse(listen_uris[i], &addr);
		if (rc == 0)
			rc = xport_listen(&addr, 64, &lfds[nfds]);
		if (rc < 0)
			die(EXIT_SETUP, "cannot listen on '%s': %s", listen_uris[i], sevmon_strerror(rc));
		char buf[XPORT_URI_MAX];
		struct xport_addr bound;
		if (xport_sockname(lfds[nfds], &bound) == 0 && xport_format(&bound, buf, sizeof buf) > 0)
			fprintf(stderr, "sevmon-agent: listening on %s\n", buf);
		nfds++;
	}

	struct agent agent;
	rc = agent_init(&agent, mem);
	if (rc < 0)
		die(EXIT_SETUP, "cannot start: %s", sevmon_strerror(rc));

	cfg.listen_fds = lfds;
	cfg.nlisten = nfds;
	cfg.stop_fd = -1;
	cfg.dispatch = agent_serve_request;
	cfg.dispatch_ctx = &agent;
	cfg.log = log_line;
	cfg.hooks = agent_channel_hooks(&chan);
	rc = agent_loop_new(&the_loop, &cfg);
	if (rc < 0)
		die(EXIT_SETUP, "cannot start the loop: %s", sevmon_strerror(rc));
	for (size_t i = 0; i < nlisten; i++) {
		if (!shm_uri_is(listen_uris[i]))
			continue;
		rc = agent_loop_listen_shm(the_loop, listen_uris[i]);
		if (rc < 0)
			die(EXIT_SETUP, "cannot serve '%s': %s", listen_uris[i], sevmon_strerror(rc));
		fprintf(stderr, "sevmon-agent: serving %s\n", listen_uris[i]);
	}
	for (size_t i = 0; i < nadopt; i++) {
		rc = agent_loop_adopt(the_loop, adopt_fds[i], "adopted");
		if (rc < 0)
			die(EXIT_SETUP, "cannot serve fd %d: %s", adopt_fds[i], sevmon_strerror(rc));
	}

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_stop_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	rc = agent_loop_run(the_loop);
	agent_loop_free(the_loop);
	agent_fini(&agent);
	mem_close(mem);
	snp_provider_free(provider);
	evidence_policy_free(&ids_pol);
	sodium_memzero(&chan.key, sizeof chan.key);
	for (size_t i = 0; i < nfds; i++)
		close(lfds[i]);
	for (size_t i = 0; i < nlisten; i++) {
		struct xport_addr addr;
		if (!shm_uri_is(listen_uris[i]) && xport_parse(listen_uris[i], &addr) == 0 &&
		    addr.kind == XPORT_UNIX)
			unlink(addr.path);
	}
	if (rc < 0) {
		fprintf(stderr, "sevmon-agent: %s\n", sevmon_strerror(rc));
		return 1;
	}
	return 0;
}
