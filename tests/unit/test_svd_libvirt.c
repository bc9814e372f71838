/*
 * test_svd_libvirt.c — a libvirt domain's XML as a sevmond target (svd_libvirt_xml.c):
 * the vsock CID and the agent port and measurement in sevmond's metadata, names made
 * valid, and XML a hostile domain owner or a broken hypervisor could hand over: no
 * vsock, an automatic CID, reserved and out-of-range CIDs, bad ports, measurements and
 * keys, malformed and oversized documents, an external entity (never fetched).
 */
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "harness.h"
#include "svd_source.h"

#define MEAS "5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e"
#define KEY "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

static int target(const char *xml, struct svd_target_cfg *t, char *why)
{
	return svd_libvirt_domain_target(xml, strlen(xml), 5000, t, why, 160);
}

static char *dom(char *buf, size_t cap, const char *name, const char *devices, const char *meta)
{
	snprintf(buf, cap, "<domain type='kvm'><name>%s</name><memory>1048576</memory>"
			   "<devices>%s</devices>%s</domain>", name, devices, meta);
	return buf;
}

TEST(libvirt_domain_with_vsock_is_a_target_on_the_default_port)
{
	char x[2048], why[160];
	struct svd_target_cfg t;
	ASSERT_EQ(target(dom(x, sizeof x, "cvm1", "<vsock model='virtio'><cid auto='no' address='42'/></vsock>", ""), &t, why), 0);
	ASSERT_STREQ(t.name, "cvm1");
	ASSERT_STREQ(t.uri, "vsock://42:5000");
	ASSERT_EQ(t.nmeasurements, 0);
	ASSERT_STREQ(t.key, "");
}

TEST(libvirt_metadata_gives_port_measurement_and_key)
{
	char x[2048], why[160];
	struct svd_target_cfg t;
	ASSERT_EQ(target(dom(x, sizeof x, "cvm2", "<vsock model='virtio'><cid address='7'/></vsock>",
			     "<metadata><sevmon:agent xmlns:sevmon='" SVD_LIBVIRT_NS "' port='7000' measurement='" MEAS
			     "' key='" KEY "'/></metadata>"), &t, why), 0);
	ASSERT_STREQ(t.uri, "vsock://7:7000");
	ASSERT_EQ(t.nmeasurements, 1);
	ASSERT_STREQ(t.measurements[0], MEAS);
	ASSERT_STREQ(t.key, KEY);
	/* the same element in another namespace is someone else's: ignored */
	ASSERT_EQ(target(dom(x, sizeof x, "cvm2", "<vsock model='virtio'><cid address='7'/></vsock>",
			     "<metadata><x:agent xmlns:x='urn:other' port='9'/></metadata>"), &t, why), 0);
	ASSERT_STREQ(t.uri, "vsock://7:5000");
}

TEST(libvirt_names_made_valid_target_names)
{
	char x[2048], why[160];
	struct svd_target_cfg t;
	ASSERT_EQ(target(dom(x, sizeof x, "web server/01 &amp; more", "<vsock><cid address='9'/></vsock>", ""), &t, why), 0);
	ASSERT_STREQ(t.name, "web-server-01---more");
	char longname[200];
	memset(longname, 'a', 150);
	longname[150] = 0;
	ASSERT_EQ(target(dom(x, sizeof x, longname, "<vsock><cid address='9'/></vsock>", ""), &t, why), 0);
	ASSERT_EQ(strlen(t.name), 63);
}

TEST(libvirt_no_vsock_or_automatic_cid_is_not_a_target)
{
	char x[2048], why[160];
	struct svd_target_cfg t;
	ASSERT_EQ(target(dom(x, sizeof x, "plain", "<disk type='file'/>", ""), &t, why), SEVMON_ENOENT);
	ASSERT_EQ(target(dom(x, sizeof x, "auto", "<vsock model='virtio'><cid auto='yes'/></vsock>", ""), &t, why),
		  SEVMON_ENOENT);
}

TEST(libvirt_bad_values_refused_with_the_reason)
{
	static const char *const cids[] = { "0", "1", "2", "4294967295", "99999999999", "-5", "0x10", "abc", " 4" };
	char x[2048], dev[128], why[160];
	struct svd_target_cfg t;
	for (size_t i = 0; i < sizeof cids / sizeof cids[0]; i++) {
		snprintf(dev, sizeof dev, "<vsock><cid address='%s'/></vsock>", cids[i]);
		why[0] = 0;
		ASSERT_EQ(target(dom(x, sizeof x, "v", dev, ""), &t, why), SEVMON_EINVAL);
		ASSERT(strstr(why, "vsock CID"));
	}
	static const char *const ports[] = { "0", "65536", "x", "" };
	for (size_t i = 0; i < sizeof ports / sizeof ports[0]; i++) {
		char meta[256];
		snprintf(meta, sizeof meta, "<metadata><s:agent xmlns:s='" SVD_LIBVIRT_NS "' port='%s'/></metadata>", ports[i]);
		int rc = target(dom(x, sizeof x, "v", "<vsock><cid address='5'/></vsock>", meta), &t, why);
		if (ports[i][0]) { /* an empty attribute is no attribute: the default port */
			ASSERT_EQ(rc, SEVMON_EINVAL);
			ASSERT(strstr(why, "agent port"));
		} else {
			ASSERT_EQ(rc, 0);
		}
	}
	ASSERT_EQ(target(dom(x, sizeof x, "v", "<vsock><cid address='5'/></vsock>",
			     "<metadata><s:agent xmlns:s='" SVD_LIBVIRT_NS "' measurement='5e5e'/></metadata>"), &t, why),
		  SEVMON_EINVAL);
	ASSERT(strstr(why, "measurement"));
	ASSERT_EQ(target(dom(x, sizeof x, "v", "<vsock><cid address='5'/></vsock>",
			     "<metadata><s:agent xmlns:s='" SVD_LIBVIRT_NS "' key='zz'/></metadata>"), &t, why),
		  SEVMON_EINVAL);
	ASSERT(strstr(why, "key"));
	ASSERT_EQ(target("<domain><devices><vsock><cid address='5'/></vsock></devices></domain>", &t, why),
		  SEVMON_EINVAL); /* no name */
}

TEST(libvirt_malformed_oversized_and_entities)
{
	char why[160];
	struct svd_target_cfg t;
	ASSERT_EQ(target("<domain><name>x</name><devices>", &t, why), SEVMON_EINVAL);
	ASSERT_EQ(target("", &t, why), SEVMON_EINVAL);
	static char big[(1u << 20) + 64];
	memset(big, ' ', sizeof big - 1);
	memcpy(big, "<domain>", 8);
	ASSERT_EQ(svd_libvirt_domain_target(big, sizeof big - 1, 5000, &t, why, sizeof why), SEVMON_EINVAL);
	ASSERT(strstr(why, "bytes"));
	/* an external entity is neither fetched nor expanded into the name */
	const char *xxe = "<?xml version='1.0'?><!DOCTYPE d [<!ENTITY e SYSTEM 'file:///etc/hostname'>]>"
			  "<domain><name>&e;</name><devices><vsock><cid address='5'/></vsock></devices></domain>";
	int rc = target(xxe, &t, why);
	if (rc == 0)
		ASSERT(strchr(t.name, '\n') == NULL && strlen(t.name) <= 1);
	else
		ASSERT_EQ(rc, SEVMON_EINVAL);
}

TEST_MAIN()
