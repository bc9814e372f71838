/*
 * svd_source.h — where sevmond's targets come from besides its config file's [target]
 * sections: one row per source in svd_sources (svd_source.c), the one place to add one.
 *
 * At start, at each reload and at each source's poll, svd_targets_seed (svd_fleet.c) asks
 * every configured source for its targets and writes them into the store with the
 * source's origin; a target of that origin the source no longer lists is removed. A
 * source that fails (unreachable, unreadable) changes nothing: its targets stay as they
 * were until it answers again. A name the config file has wins, then the earlier row.
 */
#ifndef SEVMON_SVD_SOURCE_H
#define SEVMON_SVD_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "svd_config.h"

struct svd;

struct svd_source {
	const char *origin; /* the store's origin column and the log's word: "file", "libvirt" */
	/* 1 when the config sets this source up */
	int (*configured)(const struct svd_config *c);
	/* ms between listings (0: only at start and reload) */
	uint32_t (*poll_ms)(const struct svd_config *c);
	/* The source's targets now: *v (calloc'd; the caller frees) and *n. 0, or a negative
	 * SEVMON_E* after a log line saying why. */
	int (*load)(struct svd *d, struct svd_target_cfg **v, size_t *n);
};

/* Rows the table may have (svd_targets_seed holds one listing per row; svd_source.c
 * checks the table against it at compile time). */
#define SVD_SOURCES_MAX 8u

extern const struct svd_source svd_sources[];
extern const size_t svd_nsources;

/* The file source (svd_fleet.c): a `sevmon scan --targets` file, targets_file =. */
int svd_source_file_load(struct svd *d, struct svd_target_cfg **v, size_t *n);
/* Discovery from libvirt (svd_libvirt.c): libvirt = URI. */
int svd_source_libvirt_load(struct svd *d, struct svd_target_cfg **v, size_t *n);

/* One domain's XML as a target (svd_libvirt.c; pure, for tests): name from <name> (made
 * a valid target name), uri vsock://CID:PORT from <devices><vsock><cid address=>, port and
 * measurement / pin from <metadata><sevmon:agent xmlns:sevmon="urn:sevmon:libvirt:1"
 * port= measurement= key=/> when there. 0; ENOENT when the domain has no vsock device
 * with a fixed CID (nothing to reach); EINVAL for XML that does not parse or a bad value
 * (why says which). */
#define SVD_LIBVIRT_NS "urn:sevmon:libvirt:1"
int svd_libvirt_domain_target(const char *xml, size_t len, uint16_t default_port,
			      struct svd_target_cfg *out, char *why, size_t whycap);

#endif
