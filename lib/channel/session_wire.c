/*
 * session_wire.c — the evidence message (layout in session.h), parsed with rbuf.
 */
#include "session.h"

#include "err.h"
#include "rbuf.h"

long session_evidence_encode(const struct session_evidence *ev, uint8_t *out, size_t cap)
{
	if (!ev || !ev->report || (ev->vcek_len && !ev->vcek) || (ev->chain_len && !ev->chain))
		return SEVMON_EINVAL;
	if (ev->vcek_len > SESSION_MAX_VCEK || ev->chain_len > SESSION_MAX_CHAIN)
		return SEVMON_ETOOBIG;
	struct wbuf w = wbuf_make(out, cap);
	int rc = wbuf_put_u8(&w, SESSION_EVIDENCE_VERSION);
	if (rc == 0)
		rc = wbuf_put_u8(&w, ev->kind);
	if (rc == 0)
		rc = wbuf_put_be16(&w, SNP_REPORT_LEN);
	if (rc == 0)
		rc = wbuf_put_be16(&w, (uint16_t)ev->vcek_len);
	if (rc == 0)
		rc = wbuf_put_be16(&w, (uint16_t)ev->chain_len);
	if (rc == 0)
		rc = wbuf_put_bytes(&w, ev->report, SNP_REPORT_LEN);
	if (rc == 0 && ev->vcek_len)
		rc = wbuf_put_bytes(&w, ev->vcek, ev->vcek_len);
	if (rc == 0 && ev->chain_len)
		rc = wbuf_put_bytes(&w, ev->chain, ev->chain_len);
	return rc < 0 ? SEVMON_ETOOBIG : (long)w.len;
}

int session_evidence_decode(const uint8_t *in, size_t n, struct session_evidence *ev)
{
	struct rbuf r = rbuf_make(in, n);
	uint8_t version, kind;
	uint16_t rlen, vlen, clen;
	*ev = (struct session_evidence){ 0 };
	if (rbuf_get_u8(&r, &version) < 0 || rbuf_get_u8(&r, &kind) < 0 ||
	    rbuf_get_be16(&r, &rlen) < 0 || rbuf_get_be16(&r, &vlen) < 0 ||
	    rbuf_get_be16(&r, &clen) < 0)
		return SEVMON_ETRUNC;
	if (version != SESSION_EVIDENCE_VERSION || kind != SESSION_EVIDENCE_SNP)
		return SEVMON_EDECODE;
	if (rlen != SNP_REPORT_LEN || vlen > SESSION_MAX_VCEK || clen > SESSION_MAX_CHAIN)
		return SEVMON_EDECODE;
	if (rbuf_left(&r) != (size_t)rlen + vlen + clen)
		return rbuf_left(&r) < (size_t)rlen + vlen + clen ? SEVMON_ETRUNC : SEVMON_EDECODE;
	ev->kind = kind;
	if (rbuf_get_bytes_direct(&r, &ev->report, rlen) < 0 ||
	    (vlen && rbuf_get_bytes_direct(&r, &ev->vcek, vlen) < 0) ||
	    (clen && rbuf_get_bytes_direct(&r, &ev->chain, clen) < 0))
		return SEVMON_ETRUNC;
	ev->vcek_len = vlen;
	ev->chain_len = clen;
	return 0;
}
