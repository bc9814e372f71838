/*
 * sim_fixture.h — one simulated SEV-SNP chain (sevmon attest sim-init) per test file.
 *
 * RSA-4096 key generation is the slow part, so the parent makes the chain once, before the
 * harness forks the cases, in a temporary directory it removes at exit. Include it in one
 * translation unit and define SIM_FIXTURE_PREFIX first ("/tmp/sevmon-NAME-XXXXXX").
 * Cases check fixture_err == 0 and use sim_dir / tmp_root.
 */
#ifndef SEVMON_TEST_SIM_FIXTURE_H
#define SEVMON_TEST_SIM_FIXTURE_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "snp_sim.h"

#ifndef SIM_FIXTURE_PREFIX
#error "define SIM_FIXTURE_PREFIX before including sim_fixture.h"
#endif

static char tmp_root[64];
static char sim_dir[96];
static int fixture_err = SEVMON_EINTERNAL;
static pid_t fixture_parent_pid;

static void fixture_rm_tree(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	char path[512];
	while ((e = readdir(d)) != NULL) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		struct stat st;
		if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
			fixture_rm_tree(path);
		else
			unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

static void fixture_cleanup(void)
{
	if (getpid() == fixture_parent_pid && tmp_root[0])
		fixture_rm_tree(tmp_root);
}

__attribute__((constructor)) static void fixture_init(void)
{
	fixture_parent_pid = getpid();
	snprintf(tmp_root, sizeof tmp_root, "%s", SIM_FIXTURE_PREFIX);
	if (!mkdtemp(tmp_root)) {
		tmp_root[0] = 0;
		return;
	}
	atexit(fixture_cleanup);
	snprintf(sim_dir, sizeof sim_dir, "%s/sim", tmp_root);
	fixture_err = snp_sim_init(sim_dir);
}

#endif
