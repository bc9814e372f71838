/*
 * agent_shm_vfio.c — an ivshmem-doorbell device in the guest, through vfio-pci: BAR2 is
 * the region, MSI-X vector 0 arrives as an eventfd (the bell's fd), and the doorbell
 * register in BAR0 rings the host (lib/xport/shm_bell.h). For "shm+pci://...?wake=doorbell".
 *
 * vfio needs an IOMMU group for the device: a (virtual) IOMMU, or a kernel built with
 * CONFIG_VFIO_NOIOMMU and vfio.enable_unsafe_noiommu_mode=1 (/dev/vfio/noiommu-N). Debian's
 * 6.1 and 6.12 kernels do not enable no-IOMMU mode, so deploy/testvm gives the guest an
 * emulated Intel IOMMU (intel_iommu=on iommu=pt). The device does no DMA, so the container
 * maps nothing; only MSI-X goes through it.
 *
 * Steps: bind the device to vfio-pci (driver_override, drivers_probe) unless it is already;
 * open the container and the group, set the IOMMU type, get the device fd; map BAR2 (and
 * BAR0 when vfio allows mmap of it, else write the register with pwrite); enable bus
 * mastering (MSI-X writes are dropped without it); wire vector 0 to an eventfd; read our
 * id from IVPosition. Every step failing says which one in the log and returns an error:
 * the caller does not fall back to polling.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "agent_loop_int.h"
#include "err.h"
#include "ivshmem.h"

#define PCI_DEVICES "/sys/bus/pci/devices"
#define PCI_COMMAND_REG 4
#define PCI_COMMAND_MASTER 0x4u
/* BAR0 is 256 bytes (QEMU's ivshmem); the registers we use end at 16. */
#define IVSHMEM_BAR0_MIN 16u

struct vfio_bell {
	int container, group, dev, efd;
	volatile uint32_t *bar0; /* mapped registers, or NULL: pwrite at bar0_off */
	size_t bar0_map_len;
	uint64_t bar0_off;
	void *bar2;
	size_t bar2_len;
};

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* The basename of the symlink DIR/NAME into buf, or "" when there is none. */
static void link_base(const char *bdf, const char *name, char *buf, size_t cap)
{
	char path[256], target[PATH_MAX];
	snprintf(path, sizeof path, "%s/%s/%s", PCI_DEVICES, bdf, name);
	ssize_t n = readlink(path, target, sizeof target - 1);
	buf[0] = '\0';
	if (n <= 0)
		return;
	target[n] = '\0';
	const char *b = strrchr(target, '/');
	b = b ? b + 1 : target;
	if (strlen(b) < cap)
		memcpy(buf, b, strlen(b) + 1);
}

static int bind_vfio(struct agent_loop *l, const char *bdf)
{
	char drv[64], path[256];
	link_base(bdf, "driver", drv, sizeof drv);
	if (!strcmp(drv, "vfio-pci"))
		return 0;
	if (drv[0]) {
		snprintf(path, sizeof path, "%s/%s/driver/unbind", PCI_DEVICES, bdf);
		if (write_file(path, bdf) < 0) {
			agent_logf(l, AGENT_LOG_WARN, "vfio: unbind %s from %s: %s", bdf, drv, strerror(errno));
			return SEVMON_ESYS;
		}
	}
	snprintf(path, sizeof path, "%s/%s/driver_override", PCI_DEVICES, bdf);
	if (write_file(path, "vfio-pci") < 0 || write_file("/sys/bus/pci/drivers_probe", bdf) < 0) {
		agent_logf(l, AGENT_LOG_WARN, "vfio: bind %s to vfio-pci (is the module loaded?): %s",
			   bdf, strerror(errno));
		return SEVMON_ESYS;
	}
	link_base(bdf, "driver", drv, sizeof drv);
	if (strcmp(drv, "vfio-pci")) {
		agent_logf(l, AGENT_LOG_WARN, "vfio: %s is not bound to vfio-pci after probing", bdf);
		return SEVMON_ENOTSUP;
	}
	agent_logf(l, AGENT_LOG_INFO, "vfio: %s bound to vfio-pci", bdf);
	return 0;
}

static int vfio_ring(struct shm_bell *b, uint32_t peer_id)
{
	struct vfio_bell *v = b->ctx;
	uint32_t val = (peer_id & 0xffffu) << 16; /* vector 0 */
	if (peer_id > IVSHMEM_ID_MAX)
		return SEVMON_EINVAL;
	if (v->bar0) {
		v->bar0[IVSHMEM_REG_DOORBELL / 4] = val;
		return 0;
	}
	return pwrite(v->dev, &val, sizeof val, (off_t)(v->bar0_off + IVSHMEM_REG_DOORBELL)) ==
			       (ssize_t)sizeof val ? 0 : SEVMON_ESYS;
}

static void vfio_close(struct shm_bell *b)
{
	struct vfio_bell *v = b->ctx;
	if (!v)
		return;
	if (v->bar0)
		munmap((void *)v->bar0, v->bar0_map_len);
	if (v->efd >= 0)
		close(v->efd);
	if (v->dev >= 0)
		close(v->dev);
	if (v->group >= 0)
		close(v->group);
	if (v->container >= 0)
		close(v->container);
	free(v);
	b->ctx = NULL;
}

static int region_info(int dev, unsigned index, struct vfio_region_info *ri)
{
	memset(ri, 0, sizeof *ri);
	ri->argsz = sizeof *ri;
	ri->index = index;
	return ioctl(dev, VFIO_DEVICE_GET_REGION_INFO, ri);
}

#define FAIL(rc_, ...)                                                  \
	do {                                                            \
		agent_logf(l, AGENT_LOG_WARN, "vfio: " __VA_ARGS__);    \
		rc = (rc_);                                             \
		goto out;                                               \
	} while (0)

int agent_shm_vfio_open(struct agent_loop *l, const char *bdf, struct shm_region *r)
{
	struct shm_bell *b = calloc(1, sizeof *b);
	struct vfio_bell *v = calloc(1, sizeof *v);
	char grp[32], path[64];
	int rc;

	memset(r, 0, sizeof *r);
	r->fd = -1;
	if (!b || !v) {
		free(b);
		free(v);
		return SEVMON_ENOMEM;
	}
	v->container = v->group = v->dev = v->efd = -1;
	b->ctx = v;
	b->ring = vfio_ring;
	b->close = vfio_close;

	if ((rc = bind_vfio(l, bdf)) < 0)
		goto out;
	link_base(bdf, "iommu_group", grp, sizeof grp);
	if (!grp[0])
		FAIL(SEVMON_ENOTSUP, "%s has no IOMMU group (no IOMMU, and no vfio no-IOMMU mode)", bdf);
	snprintf(path, sizeof path, "/dev/vfio/%s", grp);
	if ((v->group = open(path, O_RDWR | O_CLOEXEC)) < 0) {
		snprintf(path, sizeof path, "/dev/vfio/noiommu-%s", grp);
		if ((v->group = open(path, O_RDWR | O_CLOEXEC)) < 0)
			FAIL(SEVMON_ESYS, "open group %s: %s", grp, strerror(errno));
	}
	if ((v->container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC)) < 0)
		FAIL(SEVMON_ESYS, "open /dev/vfio/vfio: %s", strerror(errno));
	if (ioctl(v->container, VFIO_GET_API_VERSION) != VFIO_API_VERSION)
		FAIL(SEVMON_ENOTSUP, "unknown vfio API version");
	struct vfio_group_status gs = { .argsz = sizeof gs };
	if (ioctl(v->group, VFIO_GROUP_GET_STATUS, &gs) < 0 || !(gs.flags & VFIO_GROUP_FLAGS_VIABLE))
		FAIL(SEVMON_ENOTSUP, "group %s not viable (another device of it is bound elsewhere)", grp);
	if (ioctl(v->group, VFIO_GROUP_SET_CONTAINER, &v->container) < 0)
		FAIL(SEVMON_ESYS, "set container: %s", strerror(errno));
	static const int types[] = { VFIO_TYPE1v2_IOMMU, VFIO_TYPE1_IOMMU, VFIO_NOIOMMU_IOMMU };
	int set = 0;
	for (size_t i = 0; i < sizeof types / sizeof types[0] && !set; i++)
		if (ioctl(v->container, VFIO_CHECK_EXTENSION, types[i]) > 0 &&
		    ioctl(v->container, VFIO_SET_IOMMU, types[i]) == 0)
			set = 1;
	if (!set)
		FAIL(SEVMON_ENOTSUP, "set IOMMU type: %s (without interrupt remapping, "
			"vfio_iommu_type1.allow_unsafe_interrupts=1)", strerror(errno));
	if ((v->dev = ioctl(v->group, VFIO_GROUP_GET_DEVICE_FD, bdf)) < 0)
		FAIL(SEVMON_ESYS, "get device %s: %s", bdf, strerror(errno));

	/* BAR0: the registers */
	struct vfio_region_info ri;
	if (region_info(v->dev, VFIO_PCI_BAR0_REGION_INDEX, &ri) < 0 || ri.size < IVSHMEM_BAR0_MIN)
		FAIL(SEVMON_ENOTSUP, "%s has no register BAR (not an ivshmem-doorbell device?)", bdf);
	v->bar0_off = ri.offset;
	if (ri.flags & VFIO_REGION_INFO_FLAG_MMAP) {
		size_t len = (size_t)sysconf(_SC_PAGESIZE);
		void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, v->dev, (off_t)ri.offset);
		if (p != MAP_FAILED) {
			v->bar0 = p;
			v->bar0_map_len = len;
		}
	}
	/* BAR2: the region, with no smaller mapping than the header needs */
	if (region_info(v->dev, VFIO_PCI_BAR2_REGION_INDEX, &ri) < 0 || ri.size < SHM_REGION_MIN ||
	    ri.size > SHM_REGION_MAX || !(ri.flags & VFIO_REGION_INFO_FLAG_MMAP))
		FAIL(SEVMON_ENOTSUP, "%s: BAR2 missing, not mappable, or of a size out of range", bdf);
	void *p = mmap(NULL, (size_t)ri.size, PROT_READ | PROT_WRITE, MAP_SHARED, v->dev, (off_t)ri.offset);
	if (p == MAP_FAILED)
		FAIL(SEVMON_ESYS, "map BAR2: %s", strerror(errno));
	r->base = p;
	r->len = (size_t)ri.size;

	/* bus master: QEMU drops the device's MSI-X writes without it */
	if (region_info(v->dev, VFIO_PCI_CONFIG_REGION_INDEX, &ri) < 0)
		FAIL(SEVMON_ESYS, "config region: %s", strerror(errno));
	uint16_t cmd;
	if (pread(v->dev, &cmd, sizeof cmd, (off_t)(ri.offset + PCI_COMMAND_REG)) != (ssize_t)sizeof cmd)
		FAIL(SEVMON_ESYS, "read PCI command: %s", strerror(errno));
	cmd |= PCI_COMMAND_MASTER;
	if (pwrite(v->dev, &cmd, sizeof cmd, (off_t)(ri.offset + PCI_COMMAND_REG)) != (ssize_t)sizeof cmd)
		FAIL(SEVMON_ESYS, "enable bus mastering: %s", strerror(errno));

	/* MSI-X vector 0 -> eventfd */
	struct vfio_irq_info ii = { .argsz = sizeof ii, .index = VFIO_PCI_MSIX_IRQ_INDEX };
	if (ioctl(v->dev, VFIO_DEVICE_GET_IRQ_INFO, &ii) < 0 || ii.count < 1)
		FAIL(SEVMON_ENOTSUP, "%s has no MSI-X vector (ivshmem-plain, not -doorbell?)", bdf);
	if ((v->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
		FAIL(SEVMON_ESYS, "eventfd: %s", strerror(errno));
	/* struct vfio_irq_set ends in a flexible array: the header and one eventfd in a buffer */
	_Alignas(struct vfio_irq_set) uint8_t irqbuf[sizeof(struct vfio_irq_set) + sizeof(int32_t)];
	struct vfio_irq_set *irq = (struct vfio_irq_set *)(void *)irqbuf;
	int32_t efd = v->efd;
	memset(irqbuf, 0, sizeof irqbuf);
	irq->argsz = sizeof irqbuf;
	irq->flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
	irq->index = VFIO_PCI_MSIX_IRQ_INDEX;
	irq->start = 0;
	irq->count = 1;
	memcpy(irq->data, &efd, sizeof efd);
	if (ioctl(v->dev, VFIO_DEVICE_SET_IRQS, irq) < 0)
		FAIL(SEVMON_ESYS, "wire MSI-X vector 0: %s", strerror(errno));

	uint32_t pos;
	if (v->bar0)
		pos = v->bar0[IVSHMEM_REG_IVPOSITION / 4];
	else if (pread(v->dev, &pos, sizeof pos, (off_t)(v->bar0_off + IVSHMEM_REG_IVPOSITION)) !=
		 (ssize_t)sizeof pos)
		FAIL(SEVMON_ESYS, "read IVPosition: %s", strerror(errno));
	if (pos > IVSHMEM_ID_MAX)
		FAIL(SEVMON_EPROTO, "IVPosition %u out of range", pos);
	b->wait_fd = v->efd;
	b->my_id = pos;
	r->bell = b;
	agent_logf(l, AGENT_LOG_INFO, "vfio: %s: region %zu bytes, doorbell id %u, registers %s", bdf,
		   r->len, pos, v->bar0 ? "mapped" : "by pwrite");
	return 0;
out:
	if (r->base)
		munmap(r->base, r->len);
	r->base = NULL;
	r->len = 0;
	shm_bell_free(b);
	return rc;
}
