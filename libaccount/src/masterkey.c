/*
 * The master key that encrypts TOTP secrets at rest, kept outside the
 * database so that a copy of the database alone reveals no secret.
 *
 * The key file is text, one key a line, the first line the current key
 * (the one new secrets are sealed with); the others are older keys kept
 * only while a rotation is under way:
 *
 *     postern-master-key v1 <key id: 16 hex> <key: 64 hex>\n
 *
 * Nothing else is allowed in it (no comments, at most 8 lines, 4 KiB).
 * Like OpenSSH with a private key, we refuse a key file that group or
 * others may access, and create it ourselves with O_CREAT|O_EXCL and an
 * explicit fchmod(0600), so the umask cannot widen it.  Rewrites go
 * through a 0600 temporary file, fsync and rename, so a crash leaves
 * either the old file or the new one.
 *
 * Each secret is sealed with AES-256-GCM under a fresh 12-byte random
 * nonce; the associated data binds the ciphertext to its user id and key
 * id.  Messages name the path and never contain key material; buffers
 * that held keys are wiped with OPENSSL_cleanse.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "masterkey.h"
#include "postern/account.h"

#define MK_MAGIC "postern-master-key v1 "
#define MK_LINE_LEN (sizeof(MK_MAGIC) - 1 + MK_ID_LEN + 1 + 2 * MK_KEY_LEN + 1)
#define MK_FILE_MAX 4096
#define MK_AAD_LABEL "postern-totp-v1"

static int errcode(int e)
{
	return e == EACCES || e == EPERM || e == EROFS ? ACCT_EPERM : ACCT_EUNAVAIL;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static void hex(char *out, const unsigned char *in, size_t n)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0xf];
	}
	out[2 * n] = '\0';
}

static int unhex(unsigned char *out, const char *in, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int hi = hexval(in[2 * i]), lo = hexval(in[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

int mk_generate(mk_key *out)
{
	unsigned char id[MK_ID_LEN / 2];

	if (RAND_bytes(out->key, MK_KEY_LEN) != 1 || RAND_bytes(id, sizeof(id)) != 1)
		return -1;
	hex(out->id, id, sizeof(id));
	return 0;
}

const mk_key *mk_find(const mk_ring *ring, const char *id)
{
	for (int i = 0; i < ring->n; i++)
		if (strcmp(ring->keys[i].id, id) == 0)
			return &ring->keys[i];
	return NULL;
}

void mk_wipe(mk_ring *ring)
{
	OPENSSL_cleanse(ring, sizeof(*ring));
}

/* Parse the whole file; `buf` is NUL-terminated. */
static int parse(mk_ring *out, const char *buf, size_t len, const char *path, char *err, size_t errlen)
{
	size_t off = 0;
	int line = 0;

	memset(out, 0, sizeof(*out));
	while (off < len) {
		const char *p = buf + off, *nl = memchr(p, '\n', len - off);
		size_t n = nl ? (size_t)(nl - p) : len - off;
		mk_key *k;

		line++;
		off += n + (nl ? 1 : 0);
		if (n == 0 && off >= len)
			break;
		if (out->n == MK_MAX_KEYS || n != MK_LINE_LEN - 1 || memcmp(p, MK_MAGIC, sizeof(MK_MAGIC) - 1) != 0)
			goto bad;
		p += sizeof(MK_MAGIC) - 1;
		k = &out->keys[out->n];
		for (size_t i = 0; i < MK_ID_LEN; i++)
			if (hexval(p[i]) < 0)
				goto bad;
		memcpy(k->id, p, MK_ID_LEN);
		k->id[MK_ID_LEN] = '\0';
		if (p[MK_ID_LEN] != ' ' || unhex(k->key, p + MK_ID_LEN + 1, MK_KEY_LEN) != 0)
			goto bad;
		if (mk_find(out, k->id) != NULL) /* k is not counted yet: a duplicate id */
			goto bad;
		out->n++;
	}
	if (out->n == 0) {
		snprintf(err, errlen, "key file %s holds no key", path);
		return ACCT_EINVAL;
	}
	return ACCT_OK;
bad:
	mk_wipe(out);
	snprintf(err, errlen, "key file %s is malformed (line %d): expected \"postern-master-key v1 <id> <key>\"",
	         path, line);
	return ACCT_EINVAL;
}

/* Serialise the ring into buf (MK_FILE_MAX). */
static size_t format(char *buf, const mk_ring *ring)
{
	size_t off = 0;

	for (int i = 0; i < ring->n; i++) {
		memcpy(buf + off, MK_MAGIC, sizeof(MK_MAGIC) - 1);
		off += sizeof(MK_MAGIC) - 1;
		memcpy(buf + off, ring->keys[i].id, MK_ID_LEN);
		off += MK_ID_LEN;
		buf[off++] = ' ';
		hex(buf + off, ring->keys[i].key, MK_KEY_LEN);
		off += 2 * MK_KEY_LEN;
		buf[off++] = '\n';
	}
	return off;
}

static int write_all(int fd, const char *buf, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, buf, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		buf += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Make a rename or a create durable. */
static void sync_dir(const char *path)
{
	char dir[MK_PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd;

	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		(void)fsync(fd);
		close(fd);
	}
}

/* Create a new key file with one fresh key.  ACCT_EEXISTS if someone else just did. */
static int create(const char *path, char *err, size_t errlen)
{
	char buf[MK_FILE_MAX];
	mk_ring ring;
	size_t n;
	int fd, r = ACCT_OK;

	memset(&ring, 0, sizeof(ring));
	if (mk_generate(&ring.keys[0]) != 0) {
		snprintf(err, errlen, "cannot create key file %s: no randomness", path);
		return ACCT_EINTERNAL;
	}
	ring.n = 1;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		int e = errno;

		mk_wipe(&ring);
		if (e == EEXIST)
			return ACCT_EEXISTS;
		snprintf(err, errlen, "cannot create key file %s: %s", path, strerror(e));
		return errcode(e);
	}
	n = format(buf, &ring);
	if (fchmod(fd, 0600) != 0 || write_all(fd, buf, n) != 0 || fsync(fd) != 0) {
		snprintf(err, errlen, "cannot write key file %s: %s", path, strerror(errno));
		r = errcode(errno);
		unlink(path);
	}
	close(fd);
	OPENSSL_cleanse(buf, sizeof(buf));
	mk_wipe(&ring);
	if (r == ACCT_OK)
		sync_dir(path);
	return r;
}

int mk_load(mk_ring *out, const char *path, int create_missing, char *err, size_t errlen)
{
	char buf[MK_FILE_MAX + 1];
	struct stat sb;
	size_t len = 0;
	int fd, r;

	memset(out, 0, sizeof(*out));
	if (path == NULL || *path == '\0') {
		snprintf(err, errlen, "no key file configured");
		return ACCT_EINVAL;
	}
	if (strlen(path) >= MK_PATH_MAX) {
		snprintf(err, errlen, "the key file path is too long");
		return ACCT_EINVAL;
	}
	for (int attempt = 0;; attempt++) {
		fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0)
			break;
		if (errno != ENOENT || !create_missing || attempt > 0) {
			int e = errno;

			snprintf(err, errlen, "cannot open key file %s: %s", path, strerror(e));
			return e == ENOENT ? ACCT_EUNAVAIL : errcode(e);
		}
		r = create(path, err, errlen);
		if (r != ACCT_OK && r != ACCT_EEXISTS)
			return r;
	}
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		snprintf(err, errlen, "key file %s is not a regular file", path);
		close(fd);
		return ACCT_EUNAVAIL;
	}
	if (sb.st_mode & 077) {
		snprintf(err, errlen,
		         "key file %s is accessible by group or others (mode %04o); refusing it: chmod 600 it",
		         path, (unsigned int)(sb.st_mode & 07777));
		close(fd);
		return ACCT_EPERM;
	}
	for (;;) {
		ssize_t got = read(fd, buf + len, sizeof(buf) - 1 - len);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			snprintf(err, errlen, "cannot read key file %s: %s", path, strerror(errno));
			r = errcode(errno);
			close(fd);
			goto out;
		}
		if (got == 0)
			break;
		len += (size_t)got;
		if (len == sizeof(buf) - 1) {
			snprintf(err, errlen, "key file %s is too large to be a key file", path);
			close(fd);
			r = ACCT_EINVAL;
			goto out;
		}
	}
	close(fd);
	buf[len] = '\0';
	r = parse(out, buf, len, path, err, errlen);
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	return r;
}

int mk_write(const char *path, const mk_ring *ring, char *err, size_t errlen)
{
	char tmp[MK_PATH_MAX + 16], buf[MK_FILE_MAX];
	size_t n;
	int fd, r = ACCT_OK;

	if (ring->n < 1 || ring->n > MK_MAX_KEYS || strlen(path) >= MK_PATH_MAX) {
		snprintf(err, errlen, "cannot write key file %s: bad key set", path);
		return ACCT_EINVAL;
	}
	snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path);
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "cannot write key file %s: %s", path, strerror(errno));
		return errcode(errno);
	}
	n = format(buf, ring);
	if (fchmod(fd, 0600) != 0 || write_all(fd, buf, n) != 0 || fsync(fd) != 0) {
		snprintf(err, errlen, "cannot write key file %s: %s", path, strerror(errno));
		r = errcode(errno);
	}
	OPENSSL_cleanse(buf, sizeof(buf));
	if (close(fd) != 0 && r == ACCT_OK) {
		snprintf(err, errlen, "cannot write key file %s: %s", path, strerror(errno));
		r = errcode(errno);
	}
	if (r == ACCT_OK && rename(tmp, path) != 0) {
		snprintf(err, errlen, "cannot replace key file %s: %s", path, strerror(errno));
		r = errcode(errno);
	}
	if (r != ACCT_OK) {
		unlink(tmp);
		return r;
	}
	sync_dir(path);
	return ACCT_OK;
}

/* The associated data: a label, the user id (big-endian) and the key id. */
static size_t aad(unsigned char *buf, int64_t user_id, const char *key_id)
{
	size_t off = sizeof(MK_AAD_LABEL) - 1, idlen = strlen(key_id);
	uint64_t u = (uint64_t)user_id;

	memcpy(buf, MK_AAD_LABEL, off);
	for (int i = 7; i >= 0; i--)
		buf[off++] = (unsigned char)(u >> (8 * i));
	memcpy(buf + off, key_id, idlen);
	return off + idlen;
}

int mk_seal(const mk_key *k, int64_t user_id, const unsigned char *in, size_t n,
            unsigned char nonce[MK_NONCE_LEN], unsigned char *out)
{
	unsigned char ad[sizeof(MK_AAD_LABEL) + 8 + MK_ID_LEN];
	EVP_CIPHER_CTX *c;
	int len, ok = 0;

	if (n > 1024 || RAND_bytes(nonce, MK_NONCE_LEN) != 1 || (c = EVP_CIPHER_CTX_new()) == NULL)
		return -1;
	size_t adlen = aad(ad, user_id, k->id);
	if (EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1 &&
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, MK_NONCE_LEN, NULL) == 1 &&
	    EVP_EncryptInit_ex(c, NULL, NULL, k->key, nonce) == 1 &&
	    EVP_EncryptUpdate(c, NULL, &len, ad, (int)adlen) == 1 &&
	    EVP_EncryptUpdate(c, out, &len, in, (int)n) == 1 && len == (int)n &&
	    EVP_EncryptFinal_ex(c, out + n, &len) == 1 && len == 0 &&
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, MK_TAG_LEN, out + n) == 1)
		ok = 1;
	EVP_CIPHER_CTX_free(c);
	return ok ? 0 : -1;
}

int mk_open(const mk_key *k, int64_t user_id, const unsigned char nonce[MK_NONCE_LEN], const unsigned char *in,
            size_t len, unsigned char *out)
{
	unsigned char ad[sizeof(MK_AAD_LABEL) + 8 + MK_ID_LEN], tag[MK_TAG_LEN];
	EVP_CIPHER_CTX *c;
	size_t n;
	int outl, ok = 0;

	if (len < MK_TAG_LEN || len > 1024 + MK_TAG_LEN || (c = EVP_CIPHER_CTX_new()) == NULL)
		return -1;
	n = len - MK_TAG_LEN;
	memcpy(tag, in + n, MK_TAG_LEN);
	size_t adlen = aad(ad, user_id, k->id);
	if (EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1 &&
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, MK_NONCE_LEN, NULL) == 1 &&
	    EVP_DecryptInit_ex(c, NULL, NULL, k->key, nonce) == 1 &&
	    EVP_DecryptUpdate(c, NULL, &outl, ad, (int)adlen) == 1 &&
	    EVP_DecryptUpdate(c, out, &outl, in, (int)n) == 1 && outl == (int)n &&
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, MK_TAG_LEN, tag) == 1 &&
	    EVP_DecryptFinal_ex(c, out + n, &outl) == 1)
		ok = 1;
	EVP_CIPHER_CTX_free(c);
	if (!ok)
		OPENSSL_cleanse(out, n);
	return ok ? 0 : -1;
}
