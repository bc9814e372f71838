/* svd_source.c — the table of target sources (svd_source.h). */
#include "svd_source.h"

static int file_configured(const struct svd_config *c) { return c->targets_file[0] != 0; }
static uint32_t file_poll(const struct svd_config *c)
{
	(void)c;
	return 0; /* a file changes at a reload (SIGHUP) */
}
static int libvirt_configured(const struct svd_config *c) { return c->libvirt[0] != 0; }
static uint32_t libvirt_poll(const struct svd_config *c) { return c->libvirt_poll_ms; }

const struct svd_source svd_sources[] = {
	{ "file", file_configured, file_poll, svd_source_file_load },
	{ "libvirt", libvirt_configured, libvirt_poll, svd_source_libvirt_load },
};
const size_t svd_nsources = sizeof svd_sources / sizeof svd_sources[0];
_Static_assert(sizeof svd_sources / sizeof svd_sources[0] <= SVD_SOURCES_MAX,
	       "svd_targets_seed holds SVD_SOURCES_MAX listings");
