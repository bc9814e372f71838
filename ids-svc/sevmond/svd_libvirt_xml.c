/*
 * svd_libvirt_xml.c — one libvirt domain's XML as a sevmond target (svd_source.h), pure:
 * no connection, no daemon, so the unit test feeds it hostile XML directly.
 *
 * The domain XML is the hypervisor's, and what the domain's owner put in <metadata>
 * reaches us through it: libxml2 parses it with no network and no entity expansion, and
 * every value is checked before use (a CID is a number above 2, a port 1..65535, a
 * measurement 96 hex digits, a key 64).
 */
#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "svd_source.h"

/* A domain XML is a few KiB; one far bigger is refused rather than parsed. */
#define SVD_LIBVIRT_MAX_XML (1u << 20)

static int is_hex(const char *s, size_t n)
{
	return strlen(s) == n && strspn(s, "0123456789abcdefABCDEF") == n;
}

/* The string value of an XPath expression, or NULL (caller frees with xmlFree). */
static xmlChar *xp_string(xmlXPathContextPtr ctx, const char *expr)
{
	xmlXPathObjectPtr o = xmlXPathEvalExpression((const xmlChar *)expr, ctx);
	xmlChar *v = NULL;
	if (o && o->type == XPATH_NODESET && o->nodesetval && o->nodesetval->nodeNr > 0)
		v = xmlNodeGetContent(o->nodesetval->nodeTab[0]);
	xmlXPathFreeObject(o);
	if (v && !*v) {
		xmlFree(v);
		v = NULL;
	}
	return v;
}

/* A number in [lo, hi] from decimal text; -1 if it is not one. */
static long long num_in(const xmlChar *s, long long lo, long long hi)
{
	if (!s || !*s || strspn((const char *)s, "0123456789") != strlen((const char *)s) ||
	    strlen((const char *)s) > 10)
		return -1;
	long long v = strtoll((const char *)s, NULL, 10);
	return v < lo || v > hi ? -1 : v;
}

int svd_libvirt_domain_target(const char *xml, size_t len, uint16_t default_port,
			      struct svd_target_cfg *out, char *why, size_t whycap)
{
	memset(out, 0, sizeof *out);
	if (len > SVD_LIBVIRT_MAX_XML || len > (size_t)INT32_MAX) {
		snprintf(why, whycap, "domain XML of %zu bytes", len);
		return SEVMON_EINVAL;
	}
	xmlDocPtr doc = xmlReadMemory(xml, (int)len, "domain.xml", NULL,
				      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (!doc) {
		snprintf(why, whycap, "domain XML does not parse");
		return SEVMON_EINVAL;
	}
	int rc = SEVMON_EINVAL;
	xmlChar *name = NULL, *cid = NULL, *port = NULL, *meas = NULL, *key = NULL;
	xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
	if (!ctx || xmlXPathRegisterNs(ctx, (const xmlChar *)"s", (const xmlChar *)SVD_LIBVIRT_NS)) {
		snprintf(why, whycap, "out of memory");
		rc = SEVMON_ENOMEM;
		goto out;
	}
	name = xp_string(ctx, "/domain/name");
	cid = xp_string(ctx, "/domain/devices/vsock/cid/@address");
	port = xp_string(ctx, "/domain/metadata/s:agent/@port");
	meas = xp_string(ctx, "/domain/metadata/s:agent/@measurement");
	key = xp_string(ctx, "/domain/metadata/s:agent/@key");
	if (!name) {
		snprintf(why, whycap, "domain without a name");
		goto out;
	}
	if (!cid) {
		snprintf(why, whycap, "no vsock device with a fixed CID");
		rc = SEVMON_ENOENT;
		goto out;
	}
	/* CIDs 0..2 are the hypervisor, local and host; 2^32-1 is "any" */
	long long c = num_in(cid, 3, 0xfffffffeLL);
	long long p = port ? num_in(port, 1, 65535) : default_port;
	if (c < 0 || p < 0) {
		snprintf(why, whycap, "bad %s '%s'", c < 0 ? "vsock CID" : "agent port",
			 (const char *)(c < 0 ? cid : port));
		goto out;
	}
	if ((meas && !is_hex((const char *)meas, 96)) || (key && !is_hex((const char *)key, 64))) {
		snprintf(why, whycap, "bad %s in the metadata", meas && !is_hex((const char *)meas, 96)
								 ? "measurement (96 hex digits)"
								 : "key (64 hex digits)");
		goto out;
	}
	/* a target name is [A-Za-z0-9._-]{1,63}: other bytes become '-' */
	size_t n = 0;
	for (const xmlChar *q = name; *q && n < SVD_NAME_MAX; q++, n++) {
		char ch = (char)*q;
		out->name[n] = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
				       (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-'
			       ? ch
			       : '-';
	}
	out->name[n] = 0;
	snprintf(out->uri, sizeof out->uri, "vsock://%lld:%lld", c, p);
	if (meas) {
		memcpy(out->measurements[0], meas, 97);
		out->nmeasurements = 1;
	}
	if (key)
		memcpy(out->key, key, 65);
	rc = 0;
out:
	xmlFree(name);
	xmlFree(cid);
	xmlFree(port);
	xmlFree(meas);
	xmlFree(key);
	xmlXPathFreeContext(ctx);
	xmlFreeDoc(doc);
	return rc;
}

