/*
 * shm_region.c — shm URIs, mapping a region file, formatting and validating its header.
 *
 * The same code maps a host file in /dev/shm and a guest's ivshmem BAR2 exported by sysfs
 * (/sys/bus/pci/devices/BDF/resource2): both are regular mmap()s of a file whose real size
 * fstat() reports, and nothing is ever indexed beyond that size.
 */
#include "shm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "err.h"
#include "ivshmem.h"
#include "xport.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the region layout is little-endian");

#define URI_SHM "shm://"
#define URI_PCI "shm+pci://"
#define URI_IVSHMEM "shm+ivshmem://"
#define SYSFS_PCI "/sys/bus/pci/devices/"

static bool is_hex(char ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

/* DDDD:BB:DD.F exactly, so the BDF cannot name anything but a PCI device directory. */
static bool valid_bdf(const char *s, size_t n)
{
	static const char shape[] = "xxxx:xx:xx.x";
	if (n != sizeof shape - 1)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (shape[i] == 'x' ? !is_hex(s[i]) : s[i] != shape[i])
			return false;
	}
	return true;
}

/* Digits and a suffix of a size no larger than SHM_REGION_MAX (10 digits): more cannot be
 * valid, and a short bound keeps the u64 accumulation below from overflowing. */
#define SIZE_TEXT_MAX 11

/* "1048576", "512K", "1M", "1G" -> bytes; within the region limits. */
static int parse_size(const char *s, size_t n, size_t *out)
{
	if (n == 0 || n > SIZE_TEXT_MAX)
		return SEVMON_EURI;
	uint64_t v = 0;
	size_t i = 0;
	for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
		v = v * 10 + (uint64_t)(s[i] - '0');
	if (i == 0)
		return SEVMON_EURI;
	if (i + 1 == n) {
		switch (s[i]) {
		case 'K': case 'k': v <<= 10; break;
		case 'M': case 'm': v <<= 20; break;
		case 'G': case 'g': v <<= 30; break;
		default: return SEVMON_EURI;
		}
	} else if (i != n) {
		return SEVMON_EURI;
	}
	if (v < SHM_REGION_MIN || v > SHM_REGION_MAX)
		return SEVMON_EURI;
	*out = (size_t)v;
	return 0;
}

/* key=value&key=value after '?'. */
static int parse_query(const char *q, struct shm_uri *u, bool allow_size)
{
	while (*q) {
		const char *amp = strchr(q, '&');
		size_t n = amp ? (size_t)(amp - q) : strlen(q);
		if (n > 5 && memcmp(q, "size=", 5) == 0 && allow_size) {
			if (parse_size(q + 5, n - 5, &u->size) < 0)
				return SEVMON_EURI;
		} else if (n == 10 && memcmp(q, "wake=futex", 10) == 0) {
			u->wake = SHM_WAKE_FUTEX;
		} else if (n == 9 && memcmp(q, "wake=poll", 9) == 0) {
			u->wake = SHM_WAKE_POLL;
		} else if (n > 5 && n <= 11 && memcmp(q, "spin=", 5) == 0) {
			uint32_t v = 0;
			for (size_t i = 5; i < n; i++) {
				if (q[i] < '0' || q[i] > '9')
					return SEVMON_EURI;
				v = v * 10 + (uint32_t)(q[i] - '0');
			}
			if (v > SHM_URI_SPIN_MAX_US)
				return SEVMON_EURI;
			u->spin_us = v;
		} else if (n == 13 && memcmp(q, "wake=doorbell", 13) == 0 && !allow_size) {
			u->wake = SHM_WAKE_BELL; /* shm+pci: the agent's vfio path */
		} else {
			return SEVMON_EURI;
		}
		q += n;
		if (*q == '&')
			q++;
	}
	return 0;
}

int shm_uri_parse(const char *uri, struct shm_uri *out)
{
	memset(out, 0, sizeof *out);
	if (!uri)
		return SEVMON_EURI;
	const char *q;
	if (strncmp(uri, URI_SHM, strlen(URI_SHM)) == 0) {
		const char *path = uri + strlen(URI_SHM);
		q = strchr(path, '?');
		size_t n = q ? (size_t)(q - path) : strlen(path);
		/* an absolute path naming a file: no "..", not a directory */
		if (n < 2 || path[0] != '/' || path[n - 1] == '/' || n >= sizeof out->path)
			return SEVMON_EURI;
		memcpy(out->path, path, n);
		out->path[n] = 0;
		if (strstr(out->path, "/../") || strcmp(out->path + n - 3, "/..") == 0)
			return SEVMON_EURI;
		out->size = SHM_REGION_DEFAULT;
		out->may_create = true;
		out->wake = SHM_WAKE_FUTEX;
		return q ? parse_query(q + 1, out, true) : 0;
	}
	if (strncmp(uri, URI_IVSHMEM, strlen(URI_IVSHMEM)) == 0) {
		/* the server's socket: absolute, no query (the server decides the region) */
		const char *path = uri + strlen(URI_IVSHMEM);
		q = strchr(path, '?');
		size_t n = q ? (size_t)(q - path) : strlen(path);
		if (n < 2 || path[0] != '/' || path[n - 1] == '/' || n >= XPORT_PATH_MAX)
			return SEVMON_EURI;
		memcpy(out->path, path, n);
		out->path[n] = 0;
		if (strstr(out->path, "/../"))
			return SEVMON_EURI;
		out->ivshmem = true;
		out->wake = SHM_WAKE_BELL;
		/* only spin= after '?': the server decides the region's size and wake-up */
		if (q && (strncmp(q + 1, "spin=", 5) != 0 || strchr(q + 1, '&')))
			return SEVMON_EURI;
		return q ? parse_query(q + 1, out, false) : 0;
	}
	if (strncmp(uri, URI_PCI, strlen(URI_PCI)) == 0) {
		const char *bdf = uri + strlen(URI_PCI);
		q = strchr(bdf, '?');
		size_t n = q ? (size_t)(q - bdf) : strlen(bdf);
		if (!valid_bdf(bdf, n))
			return SEVMON_EURI;
		snprintf(out->path, sizeof out->path, SYSFS_PCI "%.*s/resource2", (int)n, bdf);
		out->wake = SHM_WAKE_POLL; /* futexes do not cross the VM boundary */
		return q ? parse_query(q + 1, out, false) : 0;
	}
	return SEVMON_EURI;
}

static int err_from_open(int e)
{
	if (e == ENOENT)
		return SEVMON_ENOENT;
	if (e == ELOOP)
		return SEVMON_EDENIED; /* a symlink where the region should be */
	if (e == EACCES || e == EPERM)
		return SEVMON_EDENIED;
	return SEVMON_ESYS;
}

/* Map all of fd (taken: closed on failure); its size as shm_region_map checks it. */
static int map_fd(struct shm_region *r, int fd)
{
	struct stat st;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return SEVMON_ESYS;
	}
	if (st.st_size < (off_t)SHM_REGION_MIN || (uint64_t)st.st_size > SHM_REGION_MAX) {
		close(fd);
		return st.st_size < (off_t)SHM_REGION_MIN ? SEVMON_EINVAL : SEVMON_ETOOBIG;
	}
	void *p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		close(fd);
		return SEVMON_ESYS;
	}
	r->base = p;
	r->len = (size_t)st.st_size;
	r->fd = fd;
	return 0;
}

/* shm+ivshmem: a new peer of the server at path; the region is the fd it hands out. */
static int map_ivshmem(struct shm_region *r, const char *path)
{
	struct ivshmem_peer *p = malloc(sizeof *p);
	if (!p)
		return SEVMON_ENOMEM;
	int rc = ivshmem_peer_connect(p, path, clock_mono_ns() + SHM_IVSHMEM_CONNECT_MS * 1000000LL);
	if (rc < 0) {
		free(p);
		return rc;
	}
	int fd = p->shm_fd;
	p->shm_fd = -1; /* the region's now */
	if (!(r->bell = shm_bell_ivshmem(p))) {
		ivshmem_peer_close(p);
		free(p);
		close(fd);
		return SEVMON_ENOMEM;
	}
	if ((rc = map_fd(r, fd)) < 0) {
		shm_bell_free(r->bell);
		r->bell = NULL;
	}
	return rc;
}

int shm_region_map(struct shm_region *r, const char *path, size_t create_size, unsigned flags)
{
	r->base = NULL;
	r->len = 0;
	r->fd = -1;
	r->bell = NULL;
	/* O_NOFOLLOW: /dev/shm is shared by all users, so a planted symlink must not redirect
	 * us (the sysfs BDF directory is a symlink too, but only the last component counts);
	 * O_NONBLOCK: a FIFO at that name must not block the open. */
	int oflags = O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK |
		     ((flags & SHM_MAP_CREATE) ? O_CREAT : 0);
	int fd = open(path, oflags, 0600);
	if (fd < 0)
		return err_from_open(errno);
	struct stat st;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return SEVMON_ESYS;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return SEVMON_EINVAL;
	}
	if (st.st_size == 0 && (flags & SHM_MAP_CREATE)) {
		if (create_size < SHM_REGION_MIN || create_size > SHM_REGION_MAX) {
			close(fd);
			return SEVMON_EINVAL;
		}
		if (ftruncate(fd, (off_t)create_size) < 0 || fstat(fd, &st) < 0) {
			close(fd);
			return SEVMON_ESYS;
		}
	}
	if (st.st_size == 0) {
		/* created but not sized yet: side B creates, then sizes (a peer retries) */
		close(fd);
		return SEVMON_ENOENT;
	}
	return map_fd(r, fd);
}

int shm_region_map_uri(struct shm_region *r, const struct shm_uri *u, enum shm_side side)
{
	if (u->ivshmem) {
		r->base = NULL;
		r->len = 0;
		r->fd = -1;
		r->bell = NULL;
		return map_ivshmem(r, u->path);
	}
	unsigned flags = (u->may_create && side == SHM_SIDE_B) ? SHM_MAP_CREATE : 0;
	return shm_region_map(r, u->path, u->size, flags);
}

void shm_region_unmap(struct shm_region *r)
{
	if (r->base)
		munmap(r->base, r->len);
	if (r->fd >= 0)
		close(r->fd);
	shm_bell_free(r->bell);
	r->bell = NULL;
	r->base = NULL;
	r->len = 0;
	r->fd = -1;
}

static _Atomic uint32_t *word(const struct shm_region *r, size_t off)
{
	return (_Atomic uint32_t *)(void *)(r->base + off);
}

/* The largest ring size (power of two, within limits) not above room; room >= SHM_RING_MIN. */
static uint32_t largest_ring(size_t room)
{
	uint32_t ring = SHM_RING_MAX;
	while (ring > SHM_RING_MIN && ring > room)
		ring >>= 1;
	return ring;
}

int shm_region_format(struct shm_region *r)
{
	if (!r->base || r->len < SHM_REGION_MIN)
		return SEVMON_EINVAL;
	size_t len = r->len > SHM_REGION_MAX ? SHM_REGION_MAX : r->len;
	uint32_t ba = largest_ring(len - SHM_HDR_SIZE - SHM_RING_MIN);
	uint32_t ab = largest_ring(len - SHM_HDR_SIZE - ba);
	/* Withdraw the magic first, so nobody validates a half-written header. */
	atomic_store_explicit(word(r, SHM_OFF_MAGIC), 0, memory_order_release);
	memset(r->base + 4, 0, SHM_HDR_SIZE - 4);
	uint8_t *h = r->base;
	uint64_t total = SHM_HDR_SIZE + (uint64_t)ab + ba;
	*(uint32_t *)(void *)(h + SHM_OFF_VERSION) = SHM_VERSION;
	*(uint64_t *)(void *)(h + SHM_OFF_TOTAL) = total;
	*(uint32_t *)(void *)(h + SHM_OFF_HDR_SIZE) = SHM_HDR_SIZE;
	*(uint32_t *)(void *)(h + SHM_OFF_AB_OFF) = SHM_HDR_SIZE;
	*(uint32_t *)(void *)(h + SHM_OFF_AB_SIZE) = ab;
	*(uint32_t *)(void *)(h + SHM_OFF_BA_OFF) = SHM_HDR_SIZE + ab;
	*(uint32_t *)(void *)(h + SHM_OFF_BA_SIZE) = ba;
	atomic_store_explicit(word(r, SHM_OFF_MAGIC), SHM_MAGIC, memory_order_release);
	return 0;
}

static bool ring_ok(uint32_t off, uint32_t size, uint64_t total)
{
	return size >= SHM_RING_MIN && size <= SHM_RING_MAX && (size & (size - 1)) == 0 &&
	       off >= SHM_HDR_SIZE && off % SHM_CACHE_LINE == 0 && (uint64_t)off + size <= total;
}

int shm_region_check(const struct shm_region *r, struct shm_geom *g)
{
	if (!r->base || r->len < SHM_REGION_MIN)
		return SEVMON_EINVAL;
	/* acquire pairs with format's release of the magic: the fields below are complete */
	uint32_t magic = atomic_load_explicit(word(r, SHM_OFF_MAGIC), memory_order_acquire);
	if (magic == 0)
		return SEVMON_ENOENT;
	if (magic != SHM_MAGIC)
		return SEVMON_EPROTO;
	/* Each field read once into a local; the locals are all that is checked and used. */
	const volatile uint8_t *h = r->base;
	uint32_t version = *(const volatile uint32_t *)(const volatile void *)(h + SHM_OFF_VERSION);
	uint64_t total = *(const volatile uint64_t *)(const volatile void *)(h + SHM_OFF_TOTAL);
	uint32_t hdr = *(const volatile uint32_t *)(const volatile void *)(h + SHM_OFF_HDR_SIZE);
	struct shm_geom l;
	l.ab_off = *(const volatile uint32_t *)(const volatile void *)(h + SHM_OFF_AB_OFF);
	l.ab_size = *(const volatile uint32_t *)(const volatile void *)(h + SHM_OFF_AB_SIZE);
	l.ba_off = *(const volatile uint32_t *)(const volatile void *)(h + SHM_OFF_BA_OFF);
	l.ba_size = *(const volatile uint32_t *)(const volatile void *)(h + SHM_OFF_BA_SIZE);
	if (version != SHM_VERSION || hdr != SHM_HDR_SIZE || total > r->len || total < SHM_REGION_MIN)
		return SEVMON_EPROTO;
	if (!ring_ok(l.ab_off, l.ab_size, total) || !ring_ok(l.ba_off, l.ba_size, total))
		return SEVMON_EPROTO;
	/* disjoint: one ends before the other begins (sums fit in u64) */
	if (!((uint64_t)l.ab_off + l.ab_size <= l.ba_off || (uint64_t)l.ba_off + l.ba_size <= l.ab_off))
		return SEVMON_EPROTO;
	if (g)
		*g = l;
	return 0;
}
