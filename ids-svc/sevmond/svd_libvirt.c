/*
 * svd_libvirt.c — targets discovered from libvirt (svd_source.h): every running domain
 * with a vsock device becomes the target vsock://CID:PORT, named after the domain (its
 * XML read by svd_libvirt_xml.c). The connection is read-only and opened anew at each
 * listing, so a libvirtd restart costs one listing at most.
 */
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "svd.h"
#include "svd_source.h"

/* Domains listed at once: a host runs a few hundred VMs at most. */
#define SVD_LIBVIRT_MAX_DOMAINS 4096

/* What a listing has to say (its errors, the domains it skipped), logged only when it
 * differs from what the previous listing said: a poll every few seconds must not repeat
 * the same line forever. */
struct said {
	struct svd *d;
	uint64_t h;
	char lines[8][200];
	unsigned n;
};

static void say(struct said *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct said *s, const char *fmt, ...)
{
	char line[200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	for (const char *p = line; *p; p++)
		s->h = (s->h ^ (uint8_t)*p) * 0x100000001b3ull;
	if (s->n < 8)
		snprintf(s->lines[s->n++], sizeof s->lines[0], "%s", line);
}

static void said_flush(struct said *s)
{
	if (s->h == s->d->libvirt_said)
		return;
	s->d->libvirt_said = s->h;
	for (unsigned i = 0; i < s->n; i++)
		svd_log("%s", s->lines[i]);
}

/* libvirt prints its errors to stderr by default; sevmond logs them its own way. */
static void quiet(void *ud, virErrorPtr e)
{
	(void)ud;
	(void)e;
}

int svd_source_libvirt_load(struct svd *d, struct svd_target_cfg **v, size_t *n)
{
	struct said said = { .d = d, .h = 0xcbf29ce484222325ull };
	*v = NULL;
	*n = 0;
	virSetErrorFunc(NULL, quiet);
	virConnectPtr c = virConnectOpenReadOnly(d->cfg.libvirt);
	if (!c) {
		virErrorPtr e = virGetLastError();
		say(&said, "libvirt %s: %s", d->cfg.libvirt, e && e->message ? e->message : "cannot connect");
		said_flush(&said);
		return SEVMON_ECONNREFUSED;
	}
	virDomainPtr *doms = NULL;
	int nd = virConnectListAllDomains(c, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
	if (nd < 0) {
		virErrorPtr e = virGetLastError();
		say(&said, "libvirt %s: listing domains: %s", d->cfg.libvirt,
		    e && e->message ? e->message : "failed");
		said_flush(&said);
		virConnectClose(c);
		return SEVMON_EIO;
	}
	int rc = 0;
	size_t k = 0, max = nd > SVD_LIBVIRT_MAX_DOMAINS ? SVD_LIBVIRT_MAX_DOMAINS : (size_t)nd;
	if (max && !(*v = calloc(max, sizeof **v)))
		rc = SEVMON_ENOMEM;
	for (int i = 0; i < nd; i++) {
		if (rc == 0 && (size_t)i < max) {
			char *xml = virDomainGetXMLDesc(doms[i], 0);
			char why[160] = "";
			int r = xml ? svd_libvirt_domain_target(xml, strlen(xml), d->cfg.libvirt_port,
								&(*v)[k], why, sizeof why)
				    : SEVMON_EIO;
			if (r == 0)
				k++;
			else if (r != SEVMON_ENOENT) /* a domain without vsock is not a target */
				say(&said, "libvirt %s: domain %s: %s (not a target)", d->cfg.libvirt,
				    virDomainGetName(doms[i]), xml ? why : "no XML");
			free(xml);
		}
		virDomainFree(doms[i]);
	}
	if (nd > SVD_LIBVIRT_MAX_DOMAINS)
		say(&said, "libvirt %s: %d domains, the first %d taken", d->cfg.libvirt, nd,
		    SVD_LIBVIRT_MAX_DOMAINS);
	free(doms);
	virConnectClose(c);
	said_flush(&said);
	if (rc < 0) {
		free(*v);
		*v = NULL;
		return rc;
	}
	*n = k;
	return 0;
}
