/*
 * fuzz_seeds.c — the seed corpora, made from real data at test time (nothing large is
 * committed): `fuzz_seeds NAME OUTDIR SRCDIR [DUMPDIR]` writes NAME's seeds into OUTDIR.
 *   frame_rpc   framed RPC envelopes: one request, a fragmented one, a cancel
 *   ivshmem     an ivshmem server's set-up for a peer, with peers coming and going
 *   session     a msg1-sized and a msg2-sized frame for each role
 *   evidence    the real AMD reports, VCEKs and chains of tests/data/snp, as evidence
 *   vmcoreinfo  the VMCOREINFO note of the test guest's dump (DUMPDIR/vmcoreinfo.note),
 *               else one with the keys the set-up reads
 *   kallsyms    small tables in the layout ksyms_load decodes
 *   btf         the BTF of this machine's kernel (/sys/kernel/btf/vmlinux) if it has one
 *   config      deploy/sevmond.conf; a targets file
 *   agent       one request per method, encoded by the IDS's own encoder (protobuf-c)
 *   reply       one encoded message per kind
 *   kernel      no patch (the clean guest) and one patch
 *   rest        a request for each kind of route, with and without the token, pipelined
 *   shm         rings holding records, one wrapped
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "rpc_wire.h"
#include "session.h"
#include "sevmon.pb-c.h"
#include "snp_report.h"

static const char *outdir;
static int nseed;

static void put(const void *p, size_t n)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/seed-%03d", outdir, nseed++);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(p, 1, n, f) != n || fclose(f)) {
		fprintf(stderr, "fuzz_seeds: %s: %s\n", path, strerror(errno));
		exit(1);
	}
}

static uint8_t *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 1 << 16, len = 0;
	uint8_t *b = malloc(cap);
	size_t r;
	while (b && (r = fread(b + len, 1, cap - len, f)) > 0) {
		len += r;
		if (len == cap)
			b = realloc(b, cap *= 2);
	}
	fclose(f);
	*n = len;
	return b;
}

/* [u8 prefix] (+ [u8 0]: a u16 LE method id) + the packed message */
static void put_pb(int prefix, const ProtobufCMessage *m, int with_method)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	uint8_t *b = malloc(n + 2);
	if (!b)
		exit(1);
	size_t h = 0;
	b[h++] = (uint8_t)prefix; /* the message index, or a method id's low byte */
	if (with_method)
		b[h++] = 0; /* its high byte */
	protobuf_c_message_pack(m, b + h);
	put(b, n + h);
	free(b);
}

/* fuzz_ivshmem's script: [u8 flags][i64 LE] per message, flags bit 0 = with an fd */
static void ivs_msg(uint8_t *b, size_t *o, int64_t v, int fd)
{
	b[(*o)++] = (uint8_t)(fd ? 1 : 0);
	for (int i = 0; i < 8; i++)
		b[(*o)++] = (uint8_t)((uint64_t)v >> (8 * i));
}

static void seeds_ivshmem(void)
{
	uint8_t b[256];
	size_t o = 0;
	ivs_msg(b, &o, 0, 0);  /* version */
	ivs_msg(b, &o, 3, 0);  /* own id */
	ivs_msg(b, &o, -1, 1); /* the region */
	ivs_msg(b, &o, 1, 1);  /* peer 1, vector 0 */
	ivs_msg(b, &o, 3, 1);  /* own vector 0 */
	put(b, o);
	ivs_msg(b, &o, 5, 1);  /* peer 5 comes */
	ivs_msg(b, &o, 1, 0);  /* peer 1 leaves */
	put(b, o);
}

static void seeds_frame_rpc(void)
{
	uint8_t buf[512], *p = buf + 1;
	struct rpc_hdr h = { .id = 7, .method = 2, .flags = RPC_F_END, .total_len = 12 };
	buf[0] = 16;
	frame_header_write(p, RPC_HDR_LEN + 12);
	rpc_hdr_write(p + 2, &h);
	memset(p + 2 + RPC_HDR_LEN, 0x11, 12);
	put(buf, 1 + 2 + RPC_HDR_LEN + 12);
	/* two fragments of one request, then a cancel of another */
	size_t o = 1;
	struct rpc_hdr a = { .id = 9, .method = 4, .total_len = 40 };
	frame_header_write(buf + o, RPC_HDR_LEN + 20), rpc_hdr_write(buf + o + 2, &a);
	memset(buf + o + 2 + RPC_HDR_LEN, 0x22, 20), o += 2 + RPC_HDR_LEN + 20;
	a.flags = RPC_F_CONT | RPC_F_END;
	frame_header_write(buf + o, RPC_HDR_LEN + 20), rpc_hdr_write(buf + o + 2, &a);
	memset(buf + o + 2 + RPC_HDR_LEN, 0x33, 20), o += 2 + RPC_HDR_LEN + 20;
	struct rpc_hdr c = { .id = 10, .flags = RPC_F_CANCEL | RPC_F_END };
	frame_header_write(buf + o, RPC_HDR_LEN), rpc_hdr_write(buf + o + 2, &c), o += 2 + RPC_HDR_LEN;
	put(buf, o);
}

static void seeds_session(void)
{
	uint8_t b[3 + 2 + 1024];
	for (int role = 0; role < 4; role++) {
		size_t n = role & 1 ? 32 : 96; /* agent meets msg1; the IDS meets msg2 */
		b[0] = (uint8_t)role;
		b[1] = (uint8_t)(n >> 8), b[2] = (uint8_t)n;
		for (size_t i = 0; i < n; i++)
			b[3 + i] = (uint8_t)(i * 37 + role);
		put(b, 3 + n);
	}
}

static int hexval(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static void seeds_evidence(const char *src)
{
	char p[4096];
	size_t hn, vn, cn;
	snprintf(p, sizeof p, "%s/tests/data/snp/virtee-report_milan.hex", src);
	uint8_t *hex = slurp(p, &hn);
	snprintf(p, sizeof p, "%s/tests/data/snp/virtee-vcek_milan.der", src);
	uint8_t *vcek = slurp(p, &vn);
	snprintf(p, sizeof p, "%s/tests/data/snp/virtee-cert_chain_milan", src);
	uint8_t *chain = slurp(p, &cn);
	if (!hex || !vcek || !chain) {
		fprintf(stderr, "fuzz_seeds: tests/data/snp files missing under %s\n", src);
		exit(1);
	}
	uint8_t report[SNP_REPORT_LEN] = { 0 };
	size_t r = 0;
	for (size_t i = 0; i + 1 < hn && r < SNP_REPORT_LEN; i++) {
		int a = hexval(hex[i]), b = hexval(hex[i + 1]);
		if (a >= 0 && b >= 0)
			report[r++] = (uint8_t)(a << 4 | b), i++;
	}
	static uint8_t out[1 << 16];
	struct session_evidence ev = { .kind = 1, .report = report, .vcek = vcek, .vcek_len = vn,
				       .chain = chain, .chain_len = cn };
	long n = session_evidence_encode(&ev, out, sizeof out);
	if (n > 0)
		put(out, (size_t)n);
	ev.chain_len = 0, ev.chain = NULL;
	if ((n = session_evidence_encode(&ev, out, sizeof out)) > 0)
		put(out, (size_t)n);
	put(report, sizeof report);
	free(hex), free(vcek), free(chain);
}

static void seeds_vmcoreinfo(const char *dumpdir)
{
	char p[4096];
	size_t n;
	uint8_t *b = NULL;
	if (dumpdir) {
		snprintf(p, sizeof p, "%s/vmcoreinfo.note", dumpdir);
		b = slurp(p, &n);
	}
	if (b) {
		put(b, n);
		free(b);
	}
	static const char text[] =
		"OSRELEASE=6.1.0-57-amd64\nBUILD-ID=0123456789abcdef0123456789abcdef01234567\n"
		"PAGESIZE=4096\nSYMBOL(init_top_pgt)=ffffffff9a80c000\nNUMBER(phys_base)=-2013265920\n"
		"NUMBER(pgtable_l5_enabled)=0\nSYMBOL(kallsyms_names)=ffffffff9a3c0a28\n"
		"SYMBOL(kallsyms_num_syms)=ffffffff9a3c0a20\nSYMBOL(kallsyms_token_table)=ffffffff9a562e30\n"
		"SYMBOL(kallsyms_token_index)=ffffffff9a5631d0\nSYMBOL(kallsyms_offsets)=ffffffff9a31c918\n"
		"SYMBOL(kallsyms_relative_base)=ffffffff9a3c0a18\nOFFSET(list_head.next)=0\n"
		"NUMBER(sme_mask)=0x0\nKERNELOFFSET=18800000\n";
	uint8_t note[12 + 12 + sizeof text + 4] = { 11, 0, 0, 0 };
	uint32_t d = sizeof text - 1;
	note[4] = (uint8_t)d, note[5] = (uint8_t)(d >> 8);
	memcpy(note + 12, "VMCOREINFO\0\0", 12);
	memcpy(note + 24, text, d);
	put(note, 24 + d);
}

static void seeds_kallsyms(void)
{
	/* a 3-symbol table: tokens "a".."z" as single-byte tokens, names of one token each */
	static uint8_t b[28 + 4096];
	memset(b, 0, sizeof b);
	uint8_t *m = b + 28;
	uint32_t tt = 0x100, ti = 0x300, nm = 0x600, ns = 0x700, of = 0x800, rb = 0x900;
	uint32_t offs[] = { tt, ti, nm, ns, of, rb, 0 };
	for (int i = 0; i < 7; i++)
		for (int k = 0; k < 4; k++)
			b[i * 4 + k] = (uint8_t)(offs[i] >> (8 * k));
	for (int t = 0; t < 256; t++) { /* token t = the letter 'a' + t % 26, NUL-terminated */
		m[tt + 2 * t] = (uint8_t)('a' + t % 26);
		m[ti + 2 * t] = (uint8_t)(2 * t), m[ti + 2 * t + 1] = (uint8_t)((2 * t) >> 8);
	}
	const uint8_t names[] = { 2, 'T' - 'a' + 0, 1, 2, 'T' - 'a', 2, 2, 'D' - 'a', 3 };
	memcpy(m + nm, names, sizeof names);
	m[ns] = 3;
	for (int i = 0; i < 3; i++)
		m[of + 4 * i] = (uint8_t)(0x10 * i);
	m[rb + 7] = 0xff, m[rb + 6] = 0xff, m[rb + 5] = 0xff, m[rb + 4] = 0xff, m[rb + 3] = 0x81;
	put(b, sizeof b);
}

static void seeds_btf(void)
{
	size_t n;
	uint8_t *b = slurp("/sys/kernel/btf/vmlinux", &n);
	if (b) {
		put(b, n);
		free(b);
	}
	/* a header alone: magic, version, flags, hdr_len */
	static const uint8_t hdr[24] = { 0x9f, 0xeb, 1, 0, 24, 0, 0, 0 };
	put(hdr, sizeof hdr);
}

static void seeds_config(const char *src)
{
	char p[4096];
	size_t n;
	snprintf(p, sizeof p, "%s/deploy/sevmond.conf", src);
	uint8_t *c = slurp(p, &n);
	if (c) {
		uint8_t *b = malloc(n + 1);
		b[0] = 1;
		memcpy(b + 1, c, n);
		put(b, n + 1);
		free(b), free(c);
	}
	static const char t[] = "\0# fleet\nvm1 tcp://10.0.0.1:7000 pin=/etc/k.pub\n"
				"vm2 vsock://3:7000 measurement=5e5e\nvm3 unix:///run/a.sock\n";
	put(t, sizeof t - 1);
}

static void seeds_agent(void)
{
	Sevmon__V1__GetInfoRequest gi = SEVMON__V1__GET_INFO_REQUEST__INIT;
	put_pb(1, &gi.base, 1);
	Sevmon__V1__ReadPhysRequest rp = SEVMON__V1__READ_PHYS_REQUEST__INIT;
	rp.addr = 0x1000, rp.len = 64;
	put_pb(2, &rp.base, 1);
	Sevmon__V1__ReadVirtRequest rv = SEVMON__V1__READ_VIRT_REQUEST__INIT;
	rv.addr = 0xffffffff81000000ull, rv.len = 64;
	put_pb(3, &rv.base, 1);
	Sevmon__V1__PageTables pt = SEVMON__V1__PAGE_TABLES__INIT;
	pt.root = 0x3000, pt.levels = 4;
	Sevmon__V1__Range r0 = SEVMON__V1__RANGE__INIT, r1 = SEVMON__V1__RANGE__INIT;
	r0.addr = 0x2000, r0.len = 128;
	r1.addr = 0xffffffff81002000ull, r1.len = 64, r1.space = SEVMON__V1__ADDR_SPACE__ADDR_SPACE_VIRT_PT;
	Sevmon__V1__Range *rs[] = { &r0, &r1 };
	Sevmon__V1__GatherRequest g = SEVMON__V1__GATHER_REQUEST__INIT;
	g.n_ranges = 2, g.ranges = rs, g.pt = &pt;
	put_pb(4, &g.base, 1);
	Sevmon__V1__FieldWindow w0 = SEVMON__V1__FIELD_WINDOW__INIT, w1 = SEVMON__V1__FIELD_WINDOW__INIT;
	w0.offset = 8, w0.len = 16;
	w1.offset = 24, w1.len = 8, w1.deref = 1, w1.deref_offset = 0, w1.deref_len = 16;
	Sevmon__V1__FieldWindow *ws[] = { &w0, &w1 };
	Sevmon__V1__WalkListRequest wl = SEVMON__V1__WALK_LIST_REQUEST__INIT;
	wl.head = 0x4000, wl.n_fields = 2, wl.fields = ws, wl.max_nodes = 100;
	put_pb(5, &wl.base, 1);
	wl.space = SEVMON__V1__ADDR_SPACE__ADDR_SPACE_VIRT_PT, wl.pt = &pt, wl.head = 0xffffffff81004000ull;
	put_pb(5, &wl.base, 1);
	Sevmon__V1__ScanRequest sc = SEVMON__V1__SCAN_REQUEST__INIT;
	sc.pattern.data = (uint8_t *)"VMCOREINFO", sc.pattern.len = 10;
	Sevmon__V1__Range *one[] = { &r0 };
	r0.len = 1 << 20;
	sc.n_ranges = 1, sc.ranges = one, sc.max_hits = 4, sc.align = 4;
	put_pb(6, &sc.base, 1);
	Sevmon__V1__HashRequest hr = SEVMON__V1__HASH_REQUEST__INIT;
	hr.n_ranges = 1, hr.ranges = one, hr.leaf_size = 4096, hr.group = 16;
	put_pb(7, &hr.base, 1);
}

static void seeds_reply(void)
{
	/* index order is the header's: a few kinds, by what they decode to */
	Sevmon__V1__GetInfoResponse gi = SEVMON__V1__GET_INFO_RESPONSE__INIT;
	gi.agent_version = "0.1.0", gi.memory_source = "image", gi.max_read = 1 << 22;
	for (int i = 0; i < 32; i++)
		put_pb(i, &gi.base, 0);
	Sevmon__V1__RangeResult rr = SEVMON__V1__RANGE_RESULT__INIT;
	rr.data.data = (uint8_t *)"abcdefgh", rr.data.len = 8;
	Sevmon__V1__RangeResult *rrs[] = { &rr, &rr };
	Sevmon__V1__GatherResponse gr = SEVMON__V1__GATHER_RESPONSE__INIT;
	gr.n_results = 2, gr.results = rrs;
	for (int i = 0; i < 32; i++)
		put_pb(i, &gr.base, 0);
}

static void seeds_kernel(void)
{
	put("", 0);
	static const uint8_t one[] = { 0, 0, 8, 0, 8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	put(one, sizeof one);
}

static void seeds_rest(void)
{
	static const char *const req[] = {
		"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /v1/targets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer fuzz-token-0123456789abcdef\r\n\r\n",
		"GET /v1/targets/vm1/processes HTTP/1.1\r\nAuthorization: Bearer fuzz-token-0123456789abcdef\r\n\r\n",
		"GET /v1/findings?severity=high&limit=5&since=2026-01-01T00:00:00Z HTTP/1.1\r\n"
		"Authorization: Bearer fuzz-token-0123456789abcdef\r\n\r\n",
		"POST /v1/targets HTTP/1.1\r\nAuthorization: Bearer fuzz-token-0123456789abcdef\r\n"
		"Content-Type: application/json\r\nContent-Length: 52\r\n\r\n"
		"{\"name\":\"vm9\",\"uri\":\"tcp://10.0.0.9:7000\",\"pin\":null}",
		"PUT /v1/targets/vm2 HTTP/1.1\r\nAuthorization: Bearer fuzz-token-0123456789abcdef\r\n"
		"Content-Length: 30\r\n\r\n{\"uri\":\"vsock://3:7000\",\"x\":1}",
		"POST /v1/scans HTTP/1.1\r\nAuthorization: Bearer fuzz-token-0123456789abcdef\r\n"
		"Content-Length: 40\r\n\r\n{\"targets\":[\"vm1\"],\"checks\":[\"ps\"]}",
		"GET /v1/scans/s-1/results HTTP/1.1\r\nAuthorization: Bearer fuzz-token-0123456789abcdef\r\n\r\n"
		"GET /v1/targets/vm1/checks/banner HTTP/1.1\r\nAuthorization: Bearer fuzz-token-0123456789abcdef\r\n\r\n",
		"GET /v1/acquisitions/a-1/image HTTP/1.1\r\nAuthorization: Bearer fuzz-token-0123456789abcdef\r\n"
		"Range: bytes=0-99\r\n\r\n",
		"DELETE /v1/targets/vm2 HTTP/1.1\r\nAuthorization: Bearer nope\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof req / sizeof req[0]; i++)
		put(req[i], strlen(req[i]));
}

/* a ring holding two records (u16 BE length + body), and one wrapped at the end */
static void seeds_shm(void)
{
	uint8_t b[8 + 4096] = { 0 };
	uint32_t head = 2 + 5 + 2 + 3, tail = 0;
	memcpy(b, &head, 4), memcpy(b + 4, &tail, 4);
	memcpy(b + 8, "\0\5hello\0\3abc", 12);
	put(b, sizeof b);
	head = 4096 + 4, tail = 4090;
	memcpy(b, &head, 4), memcpy(b + 4, &tail, 4);
	memcpy(b + 8 + 4090, "\0\6wr", 4), memcpy(b + 8, "apme", 4);
	put(b, sizeof b);
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: fuzz_seeds NAME OUTDIR SRCDIR [DUMPDIR]\n");
		return 2;
	}
	const char *name = argv[1], *src = argv[3], *dump = argc > 4 ? argv[4] : NULL;
	outdir = argv[2];
	if (!strcmp(name, "frame_rpc")) seeds_frame_rpc();
	else if (!strcmp(name, "ivshmem")) seeds_ivshmem();
	else if (!strcmp(name, "session")) seeds_session();
	else if (!strcmp(name, "evidence")) seeds_evidence(src);
	else if (!strcmp(name, "vmcoreinfo")) seeds_vmcoreinfo(dump);
	else if (!strcmp(name, "kallsyms")) seeds_kallsyms();
	else if (!strcmp(name, "btf")) seeds_btf();
	else if (!strcmp(name, "config")) seeds_config(src);
	else if (!strcmp(name, "agent")) seeds_agent();
	else if (!strcmp(name, "reply")) seeds_reply();
	else if (!strcmp(name, "kernel")) seeds_kernel();
	else if (!strcmp(name, "rest")) seeds_rest();
	else if (!strcmp(name, "shm")) seeds_shm();
	else {
		fprintf(stderr, "fuzz_seeds: no seeds for %s\n", name);
		return 2;
	}
	return 0;
}
