/*
 * shm_test_agent — the agent's loop and real handlers with shm listeners, for the e2e and
 * bench runs until sevmon-agent's own --listen takes shm URIs (it then calls
 * agent_loop_listen_shm exactly as below).
 * usage: shm_test_agent --memory SOURCE --listen URI [--listen URI ...] [-v]
 *   URI: unix:// tcp:// vsock:// as for sevmon-agent, or shm:///dev/shm/NAME?size=1M,
 *   shm+pci://BDF, shm+pci://auto (the guest's ivshmem device).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "agent_loop.h"
#include "err.h"
#include "mem.h"
#include "xport.h"

static struct agent_loop *the_loop;
static int verbose;

static void on_stop(int sig)
{
	(void)sig;
	if (the_loop)
		agent_loop_stop(the_loop);
}

static void log_line(void *ctx, enum agent_log_level lv, const char *msg)
{
	(void)ctx;
	if (lv != AGENT_LOG_DEBUG && (verbose || lv == AGENT_LOG_WARN))
		fprintf(stderr, "shm_test_agent: %s\n", msg);
}

int main(int argc, char **argv)
{
	const char *memory = NULL, *uris[AGENT_MAX_LISTENERS + AGENT_MAX_SHM];
	size_t nuri = 0, nl = 0;
	int lfds[AGENT_MAX_LISTENERS];

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--memory") && i + 1 < argc)
			memory = argv[++i];
		else if (!strcmp(argv[i], "--listen") && i + 1 < argc &&
			 nuri < sizeof uris / sizeof uris[0])
			uris[nuri++] = argv[++i];
		else if (!strcmp(argv[i], "-v"))
			verbose = 1;
		else {
			fprintf(stderr, "usage: shm_test_agent --memory SOURCE --listen URI ... [-v]\n");
			return 2;
		}
	}
	if (!memory || !nuri) {
		fprintf(stderr, "usage: shm_test_agent --memory SOURCE --listen URI ... [-v]\n");
		return 2;
	}
	struct mem_source *mem;
	int rc = mem_open(memory, &mem);
	if (rc < 0) {
		fprintf(stderr, "shm_test_agent: %s: %s\n", memory, sevmon_strerror(rc));
		return 3;
	}
	for (size_t i = 0; i < nuri; i++) {
		struct xport_addr a;
		if (!strncmp(uris[i], "shm", 3))
			continue;
		if (nl == AGENT_MAX_LISTENERS || (rc = xport_parse(uris[i], &a)) < 0 ||
		    (rc = xport_listen(&a, 64, &lfds[nl])) < 0) {
			fprintf(stderr, "shm_test_agent: cannot listen on %s: %s\n", uris[i],
				sevmon_strerror(rc));
			return 3;
		}
		nl++;
	}
	struct agent agent;
	if ((rc = agent_init(&agent, mem)) < 0)
		return 3;
	struct agent_loop_config cfg;
	agent_loop_config_init(&cfg);
	cfg.listen_fds = lfds;
	cfg.nlisten = nl;
	cfg.dispatch = agent_serve_request;
	cfg.dispatch_ctx = &agent;
	cfg.log = log_line;
	if ((rc = agent_loop_new(&the_loop, &cfg)) < 0)
		return 3;
	for (size_t i = 0; i < nuri; i++) {
		if (strncmp(uris[i], "shm", 3))
			continue;
		if ((rc = agent_loop_listen_shm(the_loop, uris[i])) < 0) {
			fprintf(stderr, "shm_test_agent: cannot serve %s: %s\n", uris[i],
				sevmon_strerror(rc));
			return 3;
		}
		fprintf(stderr, "shm_test_agent: serving %s\n", uris[i]);
	}
	signal(SIGINT, on_stop);
	signal(SIGTERM, on_stop);
	signal(SIGPIPE, SIG_IGN);
	rc = agent_loop_run(the_loop);
	agent_loop_free(the_loop);
	agent_fini(&agent);
	mem_close(mem);
	return rc < 0 ? 1 : 0;
}
