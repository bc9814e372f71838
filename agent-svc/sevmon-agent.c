/*
 * sevmon-agent — serves guest memory to an IDS, read-only, within fixed bounds.
 * One thread, one poll loop; this file only turns the command line into a running loop
 * and library errors into messages and exit codes.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "agent_loop.h"
#include "err.h"
#include "mem.h"
#include "xport.h"

#ifndef SEVMON_VERSION
#define SEVMON_VERSION "0"
#endif

enum { EXIT_USAGE = 2, EXIT_SETUP = 3 };

static const char usage_text[] =
	"usage: sevmon-agent --memory SOURCE --listen URI [--listen URI ...] [options]\n"
	"\n"
	"Serves guest memory to a sevmon IDS: physical and kernel-virtual reads, batched\n"
	"reads (Gather) and list walks (WalkList). Read-only; every request is bounded.\n"
	"\n"
	"  -m, --memory SOURCE   kcore              /proc/kcore (in the guest, as root)\n"
	"                        image:PATH         raw physical image or ELF core (QEMU dump-guest-memory)\n"
	"                        ramfile:PATH[,lowmem=SIZE]  a live QEMU guest-RAM file (share=on)\n"
	"  -l, --listen URI      unix:///path | tcp://ADDR:PORT (numeric) | vsock://CID:PORT\n"
	"                        (CID any/local/host or a number); repeatable\n"
	"      --adopt-fd N      also serve the already-connected socket N (tests, inetd-style)\n"
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
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
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

	enum { OPT_VERSION = 256, OPT_ADOPT, OPT_MAXCONNS, OPT_IDLE };
	static const struct option opts[] = {
		{ "memory", required_argument, NULL, 'm' },
		{ "listen", required_argument, NULL, 'l' },
		{ "adopt-fd", required_argument, NULL, OPT_ADOPT },
		{ "max-conns", required_argument, NULL, OPT_MAXCONNS },
		{ "idle-timeout", required_argument, NULL, OPT_IDLE },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "m:l:vqh", opts, NULL)) != -1) {
		switch (c) {
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
			printf(usage_text, AGENT_MAX_CONNS, AGENT_IDLE_TIMEOUT_MS);
			return 0;
		case OPT_VERSION:
			printf("sevmon-agent %s\n", SEVMON_VERSION);
			return 0;
		default:
			fprintf(stderr, usage_text, AGENT_MAX_CONNS, AGENT_IDLE_TIMEOUT_MS);
			return EXIT_USAGE;
		}
	}
	if (optind < argc)
		die(EXIT_USAGE, "unexpected argument '%s' (see --help)", argv[optind]);
	if (!memory)
		die(EXIT_USAGE, "--memory is required (see --help)");
	if (nlisten == 0 && nadopt == 0)
		die(EXIT_USAGE, "give at least one --listen URI (see --help)");

	struct mem_source *mem;
	int rc = mem_open(memory, &mem);
	if (rc < 0)
		die(EXIT_SETUP, "cannot open memory source '%s': %s", memory, sevmon_strerror(rc));

	int lfds[AGENT_MAX_LISTENERS];
	for (size_t i = 0; i < nlisten; i++) {
		struct xport_addr addr;
		rc = xport_parse(listen_uris[i], &addr);
		if (rc == 0)
			rc = xport_listen(&addr, 64, &lfds[i]);
		if (rc < 0)
			die(EXIT_SETUP, "cannot listen on '%s': %s", listen_uris[i], sevmon_strerror(rc));
		char buf[XPORT_URI_MAX];
		struct xport_addr bound;
		if (xport_sockname(lfds[i], &bound) == 0 && xport_format(&bound, buf, sizeof buf) > 0)
			fprintf(stderr, "sevmon-agent: listening on %s\n", buf);
	}

	struct agent agent;
	rc = agent_init(&agent, mem);
	if (rc < 0)
		die(EXIT_SETUP, "cannot start: %s", sevmon_strerror(rc));

	cfg.listen_fds = lfds;
	cfg.nlisten = nlisten;
	cfg.stop_fd = -1;
	cfg.dispatch = agent_serve_request;
	cfg.dispatch_ctx = &agent;
	cfg.log = log_line;
	rc = agent_loop_new(&the_loop, &cfg);
	if (rc < 0)
		die(EXIT_SETUP, "cannot start the loop: %s", sevmon_strerror(rc));
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
	for (size_t i = 0; i < nlisten; i++) {
		struct xport_addr addr;
		close(lfds[i]);
		if (xport_parse(listen_uris[i], &addr) == 0 && addr.kind == XPORT_UNIX)
			unlink(addr.path);
	}
	if (rc < 0) {
		fprintf(stderr, "sevmon-agent: %s\n", sevmon_strerror(rc));
		return 1;
	}
	return 0;
}
