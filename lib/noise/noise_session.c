/*
 * noise_session.c — the transport phase: one CipherState per direction, empty
 * associated data (spec 5), and a rekey schedule both peers follow in step (11.3).
 */
#include "noise.h"

#include "err.h"

/* Counts one message in a direction and rekeys when the interval is reached. */
static int NOISE_WUR count_and_rekey(struct noise_cipher *c, uint64_t interval, uint64_t *count)
{
	if (interval == 0 || ++*count < interval)
		return 0;
	*count = 0;
	return noise_cipher_rekey(c);
}

int noise_session_seal(struct noise_session *s, const uint8_t *in, size_t len, uint8_t *out,
		       size_t cap, size_t *outlen)
{
	int rc;

	*outlen = 0;
	if (!s->can_send)
		return SEVMON_EINVAL;
	if (len > NOISE_MAX_PAYLOAD)
		return SEVMON_ETOOBIG;
	if ((rc = noise_cipher_encrypt(&s->send, NULL, 0, in, len, out, cap, outlen)) != 0)
		return rc;
	return count_and_rekey(&s->send, s->rekey_interval, &s->sent_since_rekey);
}

int noise_session_open(struct noise_session *s, const uint8_t *in, size_t len, uint8_t *out,
		       size_t cap, size_t *outlen)
{
	int rc;

	*outlen = 0;
	if (!s->can_recv)
		return SEVMON_EINVAL;
	if (len > NOISE_MAX_MSG)
		return SEVMON_ETOOBIG;
	if ((rc = noise_cipher_decrypt(&s->recv, NULL, 0, in, len, out, cap, outlen)) != 0)
		return rc;
	return count_and_rekey(&s->recv, s->rekey_interval, &s->recv_since_rekey);
}

int noise_session_rekey_send(struct noise_session *s)
{
	if (!s->can_send)
		return SEVMON_EINVAL;
	s->sent_since_rekey = 0;
	return noise_cipher_rekey(&s->send);
}

int noise_session_rekey_recv(struct noise_session *s)
{
	if (!s->can_recv)
		return SEVMON_EINVAL;
	s->recv_since_rekey = 0;
	return noise_cipher_rekey(&s->recv);
}

void noise_session_wipe(struct noise_session *s)
{
	noise_cipher_wipe(&s->send);
	noise_cipher_wipe(&s->recv);
	*s = (struct noise_session){ 0 };
}
