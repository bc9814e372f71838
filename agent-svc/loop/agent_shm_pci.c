/*
 * agent_shm_pci.c — finding the guest's ivshmem-plain device, so that a guest image can be
 * built with "--listen shm+pci://auto" before anyone knows the device's PCI address.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent_loop.h"
#include "err.h"

#define PCI_DEVICES "/sys/bus/pci/devices"
/* Red Hat, Inc. / Inter-VM shared memory (QEMU's ivshmem and ivshmem-plain). */
#define IVSHMEM_VENDOR 0x1af4u
#define IVSHMEM_DEVICE 0x1110u

static long read_hex_file(const char *dir, const char *name)
{
	char path[512], buf[32];
	unsigned long v;
	ssize_t n;
	int fd;

	snprintf(path, sizeof path, "%s/%s/%s", PCI_DEVICES, dir, name);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	if (sscanf(buf, "%lx", &v) != 1 || v > 0xffff)
		return -1;
	return (long)v;
}

int agent_shm_find_ivshmem(char *bdf, size_t cap)
{
	DIR *d = opendir(PCI_DEVICES);
	struct dirent *e;
	char best[64] = "";

	if (!d)
		return SEVMON_ENOENT;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || strlen(e->d_name) >= sizeof best)
			continue;
		if (read_hex_file(e->d_name, "vendor") != IVSHMEM_VENDOR ||
		    read_hex_file(e->d_name, "device") != IVSHMEM_DEVICE)
			continue;
		/* the lowest address: the same device on every boot of the same machine */
		if (!best[0] || strcmp(e->d_name, best) < 0)
			snprintf(best, sizeof best, "%s", e->d_name);
	}
	closedir(d);
	if (!best[0])
		return SEVMON_ENOENT;
	if (strlen(best) >= cap)
		return SEVMON_ETOOBIG;
	/* BAR2 is only mapped by the kernel once the device is enabled (idempotent) */
	char path[512];
	snprintf(path, sizeof path, "%s/%s/enable", PCI_DEVICES, best);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (write(fd, "1", 1) < 0) {
			/* already enabled, or not root: mapping resource2 will tell */
		}
		close(fd);
	}
	snprintf(bdf, cap, "%s", best);
	return 0;
}
