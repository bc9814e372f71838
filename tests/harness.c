#include "harness.h"

#include <errno.h>
#include <time.h>

static int run_case(const struct harness_case *c, int timeout_s)
{
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		alarm((unsigned)timeout_s);
		c->fn();
		fflush(NULL);
		_exit(0);
	}
	int st = 0;
	while (waitpid(pid, &st, 0) < 0) {
		if (errno != EINTR)
			return -1;
	}
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	if (WIFEXITED(st) && WEXITSTATUS(st) == HARNESS_SKIP_STATUS)
		return 2;
	if (WIFSIGNALED(st))
		fprintf(stderr, "# killed by signal %d%s\n", WTERMSIG(st),
			WTERMSIG(st) == SIGALRM ? " (time limit)" : "");
	return 1;
}

int harness_main(int argc, char **argv)
{
	const char *only = argc > 1 ? argv[1] : NULL;
	const char *t = getenv("HARNESS_TIMEOUT_S");
	int timeout_s = t ? atoi(t) : 60;
	int n = 0, failed = 0;

	/* Writes to a closed socket must come back as EPIPE, not kill the case. */
	signal(SIGPIPE, SIG_IGN);
	for (int i = 0; i < harness_ncases; i++)
		if (!only || strcmp(only, harness_cases[i].name) == 0)
			n++;
	printf("1..%d\n", n);
	int k = 0;
	for (int i = 0; i < harness_ncases; i++) {
		const struct harness_case *c = &harness_cases[i];
		if (only && strcmp(only, c->name) != 0)
			continue;
		int rc = run_case(c, timeout_s);
		k++;
		if (rc == 0) {
			printf("ok %d - %s\n", k, c->name);
		} else if (rc == 2) {
			printf("ok %d - %s # SKIP\n", k, c->name);
		} else {
			printf("not ok %d - %s\n", k, c->name);
			failed++;
		}
		fflush(stdout);
	}
	return failed ? 1 : 0;
}
