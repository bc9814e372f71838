/*
 * session_keys.c — static X25519 key files (format in session.h).
 */
#include "session.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "fdio.h"

#define PRIV_TAG "sevmon-x25519-private"
#define PUB_TAG "sevmon-x25519-public"
/* A path plus ".pub" must fit: PATH_MAX-sized buffers are plenty for key files. */
#define KEY_PATH_MAX 4096

void session_hex_encode(const uint8_t *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int session_hex_decode(const char *hex, uint8_t *out, size_t n)
{
	if (strlen(hex) != 2 * n)
		return SEVMON_EDECODE;
	for (size_t i = 0; i < n; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return SEVMON_EDECODE;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

static int write_new(const char *path, mode_t mode, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0)
		return errno == EEXIST ? SEVMON_EEXIST : sevmon_from_errno(errno);
	int rc = fd_write_all(fd, text, strlen(text));
	if (rc == 0 && fsync(fd) < 0)
		rc = SEVMON_EIO;
	if (close(fd) < 0 && rc == 0)
		rc = SEVMON_EIO;
	if (rc < 0)
		unlink(path);
	return rc;
}

int session_key_generate(const char *path, const char *comment, struct noise_keypair *out)
{
	char pubpath[KEY_PATH_MAX];
	char text[512];
	char hex[2 * NOISE_DH_LEN + 1];
	struct noise_keypair kp;
	if (snprintf(pubpath, sizeof pubpath, "%s.pub", path) >= (int)sizeof pubpath)
		return SEVMON_ETOOBIG;
	if (!comment)
		comment = "";
	if (strchr(comment, '\n') || strlen(comment) > 200)
		return SEVMON_EINVAL;
	if (access(pubpath, F_OK) == 0)
		return SEVMON_EEXIST;
	int rc = noise_keypair_generate(&kp);
	if (rc < 0)
		return rc;
	session_hex_encode(kp.priv, NOISE_DH_LEN, hex);
	snprintf(text, sizeof text, "# sevmon static key (X25519). Secret: keep mode 0600.\n%s %s\n",
		 PRIV_TAG, hex);
	rc = write_new(path, 0600, text);
	if (rc == 0) {
		session_hex_encode(kp.pub, NOISE_DH_LEN, hex);
		snprintf(text, sizeof text, "%s %s%s%s\n", PUB_TAG, hex, comment[0] ? " " : "",
			 comment);
		rc = write_new(pubpath, 0644, text);
		if (rc < 0)
			unlink(path);
	}
	sodium_memzero(text, sizeof text);
	sodium_memzero(hex, sizeof hex);
	if (rc == 0 && out)
		*out = kp;
	sodium_memzero(&kp, sizeof kp);
	return rc;
}

/* Read a small text file and find the line "TAG HEX64[ ...]". */
static int read_tagged(const char *path, const char *tag, uint8_t key[NOISE_DH_LEN],
		       bool private_file)
{
	char buf[SESSION_KEYFILE_MAX + 1];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return sevmon_from_errno(errno);
	struct stat st;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return SEVMON_ESYS;
	}
	if (private_file && (st.st_mode & 077)) {
		close(fd);
		return SEVMON_EDENIED;
	}
	size_t len = 0;
	for (;;) {
		ssize_t r = read(fd, buf + len, sizeof buf - 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			close(fd);
			return SEVMON_EIO;
		}
		if (r == 0)
			break;
		len += (size_t)r;
		if (len == sizeof buf - 1) {
			close(fd);
			return SEVMON_ETOOBIG;
		}
	}
	close(fd);
	buf[len] = 0;
	int rc = SEVMON_EDECODE;
	size_t taglen = strlen(tag);
	for (char *save = NULL, *line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '#' || line[0] == 0)
			continue;
		if (strncmp(line, tag, taglen) != 0 || line[taglen] != ' ')
			break;
		char hex[2 * NOISE_DH_LEN + 1];
		const char *h = line + taglen + 1;
		size_t hl = strcspn(h, " \r");
		if (hl != 2 * NOISE_DH_LEN)
			break;
		memcpy(hex, h, hl);
		hex[hl] = 0;
		rc = session_hex_decode(hex, key, NOISE_DH_LEN);
		sodium_memzero(hex, sizeof hex);
		break;
	}
	sodium_memzero(buf, sizeof buf);
	return rc;
}

int session_key_load(const char *path, struct noise_keypair *out)
{
	uint8_t priv[NOISE_DH_LEN];
	int rc = read_tagged(path, PRIV_TAG, priv, true);
	if (rc == 0)
		rc = noise_keypair_from_private(out, priv);
	sodium_memzero(priv, sizeof priv);
	return rc;
}

int session_pub_load(const char *path, uint8_t pub[NOISE_DH_LEN])
{
	return read_tagged(path, PUB_TAG, pub, false);
}
