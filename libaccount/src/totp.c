/*
 * Two-factor authentication: TOTP (RFC 6238) through liboath, with
 * recovery codes, for the interactive logins of users.
 *
 * A user's 2FA is a row of user_totp (db/0002_totp.sql): PENDING from
 * enrollment until a first valid code confirms it, then ENABLED.  The
 * 160-bit secret is stored only sealed with AES-256-GCM under the master
 * key of the key file (masterkey.c), opened for the moment of a check and
 * wiped right after.  A check takes the write lock first (BEGIN
 * IMMEDIATE), so two logins racing with the same code cannot both pass
 * the replay check, and its outcome (the last accepted time step, the
 * count of consecutive failures, the lockout) is committed with its
 * audit record even when the answer is no.
 *
 * Recovery codes are 10 random characters of the lowercase base32
 * alphabet (50 bits), shown as "xxxxx-xxxxx".  They are stored as
 * SHA-256 over a label, the user id and the code: a slow hash such as
 * scrypt protects guessable secrets (passwords); these are uniformly
 * random, only usable online behind the same lockout as TOTP codes and
 * only together with the user's password, so a fast hash costs nothing
 * in security and keeps a check to ten constant-time comparisons.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <liboath/oath.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "db_internal.h"
#include "masterkey.h"
#include "qr.h"

#define TOTP_SECRET_LEN 20    /* 160 bits, RFC 4226's recommendation */
#define TOTP_SECRET_MAX 64    /* what we accept to open */
#define CODE_INPUT_MAX 64     /* longer input is refused before any work */
#define LOCK_AFTER 5          /* consecutive failures before a lockout */
#define LOCK_FIRST 30         /* seconds, doubled with each further failure */
#define LOCK_MAX 3600
#define URI_MAX 2048
#define RECOVERY_CHARS 10
#define RECOVERY_LABEL "postern-recovery-v1"

static const char b32_lower[] = "abcdefghijklmnopqrstuvwxyz234567";

enum factor { F_ANY, F_TOTP, F_RECOVERY };

/* ---------------------------------------------------------------- */
/* settings */

int acct__2fa_configure(acct_db *db, const acct_open_options *opts)
{
	const char *kf = opts->key_file, *issuer = opts->totp_issuer;
	size_t n;

	if (kf == NULL || *kf == '\0')
		kf = secure_getenv("POSTERN_KEY_FILE");
	if (kf == NULL || *kf == '\0')
		kf = ACCT_DEFAULT_KEY_FILE;
	if (strlen(kf) > ACCT_KEY_FILE_MAX)
		return acct__err(db, ACCT_EINVAL, "the key file path is longer than %d bytes", ACCT_KEY_FILE_MAX);
	memcpy(db->key_file, kf, strlen(kf) + 1);

	if (issuer == NULL)
		issuer = "Postern";
	if ((n = strlen(issuer)) == 0 || n > ACCT_TOTP_ISSUER_MAX)
		return acct__err(db, ACCT_EINVAL, "totp_issuer is 1 to %d bytes", ACCT_TOTP_ISSUER_MAX);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)issuer[i] < 0x20 || issuer[i] == 0x7f)
			return acct__err(db, ACCT_EINVAL, "totp_issuer may not contain control characters");
	memcpy(db->totp_issuer, issuer, n + 1);

	db->totp_digits = opts->totp_digits ? opts->totp_digits : 6;
	if (db->totp_digits != 6 && db->totp_digits != 8)
		return acct__err(db, ACCT_EINVAL, "totp_digits is 6 or 8, not %d", opts->totp_digits);
	db->totp_period = opts->totp_period ? opts->totp_period : 30;
	if (db->totp_period < 15 || db->totp_period > 300)
		return acct__err(db, ACCT_EINVAL, "totp_period is 15 to 300 seconds, not %d", opts->totp_period);
	db->totp_window = opts->totp_window == -1 ? 1 : opts->totp_window;
	if (db->totp_window < 0 || db->totp_window > 5)
		return acct__err(db, ACCT_EINVAL, "totp_window is 0 to 5 steps (or -1 for the default), not %d",
		                 opts->totp_window);
	return ACCT_OK;
}

/* ---------------------------------------------------------------- */
/* codes */

static pthread_once_t oath_once = PTHREAD_ONCE_INIT;
static int oath_ready;

static void oath_start(void)
{
	oath_ready = oath_init() == OATH_OK;
}

struct otp_cmp {
	const char *code;
	size_t n;
};

/* liboath's comparison hook: 0 = equal, in constant time. */
static int otp_equal(void *handle, const char *test_otp)
{
	const struct otp_cmp *c = handle;

	if (strlen(test_otp) != c->n)
		return 1;
	return CRYPTO_memcmp(test_otp, c->code, c->n) == 0 ? 0 : 1;
}

int acct__totp_match(const unsigned char *secret, size_t len, int digits, int period, int window, int64_t now,
                     const char *code, int64_t *step)
{
	struct otp_cmp cmp = {code, code ? strlen(code) : 0};
	uint64_t counter = 0;
	int pos = 0, rc;

	if (secret == NULL || len == 0 || (digits != 6 && digits != 8) || period <= 0 || window < 0 || now < 0 ||
	    cmp.n != (size_t)digits)
		return -1;
	(void)pthread_once(&oath_once, oath_start);
	if (!oath_ready)
		return -1;
	rc = oath_totp_validate4_callback((const char *)secret, len, (time_t)now, (unsigned int)period, 0,
	                                  (unsigned int)digits, (size_t)window, &pos, &counter, 0, otp_equal, &cmp);
	if (rc >= 0) {
		*step = (int64_t)counter;
		return 1;
	}
	return rc == OATH_INVALID_OTP ? 0 : -1;
}

/* A TOTP code as typed: spaces dropped, then exactly `digits` digits. */
static int norm_totp(char out[9], const char *in, int digits)
{
	size_t n, k = 0;

	if (in == NULL || (n = strnlen(in, CODE_INPUT_MAX + 1)) > CODE_INPUT_MAX)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (in[i] == ' ')
			continue;
		if (in[i] < '0' || in[i] > '9' || k == (size_t)digits)
			return -1;
		out[k++] = in[i];
	}
	out[k] = '\0';
	return k == (size_t)digits ? 0 : -1;
}

/* A recovery code as typed: spaces dropped, any case, with or without
 * the dash after the fifth character. */
static int norm_recovery(char out[RECOVERY_CHARS + 1], const char *in)
{
	size_t n, k = 0;
	int dash = 0;

	if (in == NULL || (n = strnlen(in, CODE_INPUT_MAX + 1)) > CODE_INPUT_MAX)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char c = in[i];

		if (c == ' ')
			continue;
		if (c == '-') {
			if (k != RECOVERY_CHARS / 2 || dash)
				return -1;
			dash = 1;
			continue;
		}
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (!((c >= 'a' && c <= 'z') || (c >= '2' && c <= '7')) || k == RECOVERY_CHARS)
			return -1;
		out[k++] = c;
	}
	out[k] = '\0';
	return k == RECOVERY_CHARS ? 0 : -1;
}

static int looks_like_recovery(const char *code)
{
	char tmp[RECOVERY_CHARS + 1];
	int r = norm_recovery(tmp, code) == 0;

	acct_wipe(tmp, sizeof(tmp));
	return r;
}

static void recovery_hash(unsigned char out[REC_RECOVERY_HASH_LEN], int64_t user_id,
                          const char code[RECOVERY_CHARS])
{
	unsigned char buf[sizeof(RECOVERY_LABEL) - 1 + 8 + RECOVERY_CHARS];
	size_t off = sizeof(RECOVERY_LABEL) - 1;
	uint64_t u = (uint64_t)user_id;

	memcpy(buf, RECOVERY_LABEL, off);
	for (int i = 7; i >= 0; i--)
		buf[off++] = (unsigned char)(u >> (8 * i));
	memcpy(buf + off, code, RECOVERY_CHARS);
	SHA256(buf, sizeof(buf), out);
	acct_wipe(buf, sizeof(buf));
}

/* ---------------------------------------------------------------- */
/* the stored secret */

/* Inside or outside a transaction: the user and their 2FA row. */
static int load(acct_db *db, const char *email, rec_user *u, rec_totp *t, int *have)
{
	int r;

	*have = 0;
	memset(t, 0, sizeof(*t));
	if ((r = acct__user_load(db, email, u)) != ACCT_OK)
		return r;
	acct_wipe(u->password_hash, sizeof(u->password_hash));
	r = STORE(db)->totp_get(db->st, u->id, t);
	if (r == ACCT_ENOTFOUND) {
		memset(t, 0, sizeof(*t));
		return ACCT_OK;
	}
	if (r != ACCT_OK)
		return acct__store_err(db, r);
	*have = 1;
	return ACCT_OK;
}

static int keyfile_err(acct_db *db, int r, const char *msg)
{
	return acct__err(db, r, "%s", msg);
}

/* Open t's secret into out (TOTP_SECRET_MAX bytes); *len gets its length. */
static int secret_open(acct_db *db, const rec_totp *t, unsigned char *out, size_t *len)
{
	char err[MK_ERR_MAX];
	const mk_key *k;
	mk_ring ring;
	int r;

	if ((r = mk_load(&ring, db->key_file, 0, err, sizeof(err))) != ACCT_OK)
		return keyfile_err(db, r, err);
	if ((k = mk_find(&ring, t->key_id)) == NULL) {
		r = acct__err(db, ACCT_EINVAL,
		              "key file %s does not hold key %s, which sealed this 2FA secret (wrong key file?)",
		              db->key_file, t->key_id);
		goto out;
	}
	if (t->secret_len <= MK_TAG_LEN || t->secret_len - MK_TAG_LEN > TOTP_SECRET_MAX ||
	    mk_open(k, t->user_id, t->nonce, t->secret, t->secret_len, out) != 0) {
		r = acct__err(db, ACCT_EINVAL,
		              "the 2FA secret does not decrypt with key %s of key file %s (wrong key file or "
		              "altered database)",
		              t->key_id, db->key_file);
		goto out;
	}
	*len = t->secret_len - MK_TAG_LEN;
	r = ACCT_OK;
out:
	mk_wipe(&ring);
	return r;
}

static int secret_seal(acct_db *db, const mk_key *k, rec_totp *t, const unsigned char *secret, size_t len)
{
	if (len > TOTP_SECRET_MAX || mk_seal(k, t->user_id, secret, len, t->nonce, t->secret) != 0)
		return acct__err(db, ACCT_EINTERNAL, "encrypting the 2FA secret failed");
	t->secret_len = len + MK_TAG_LEN;
	memcpy(t->key_id, k->id, sizeof(k->id));
	return ACCT_OK;
}

static int put(acct_db *db, const rec_totp *t)
{
	int r = STORE(db)->totp_put(db->st, t);

	return r == ACCT_OK ? r : acct__store_err(db, r);
}

/* ---------------------------------------------------------------- */
/* checking a second factor */

static int64_t lock_seconds(int64_t failures)
{
	int64_t s = LOCK_FIRST;

	for (int64_t i = LOCK_AFTER; i < failures && s < LOCK_MAX; i++)
		s *= 2;
	return s < LOCK_MAX ? s : LOCK_MAX;
}

/* Count a failure in t, lock when due, audit both; returns ACCT_EDENIED
 * (the bookkeeping is to be committed) or a store failure. */
static int failed(acct_db *db, const rec_user *u, rec_totp *t, acct_reason why, const char *address)
{
	char detail[128];
	int r;

	t->failures++;
	snprintf(detail, sizeof(detail), "%s; %" PRId64 " consecutive", acct_reason_code(why), t->failures);
	if ((r = acct__audit(db, "2fa.fail", u->account, u->email, detail, address)) != ACCT_OK)
		return r;
	if (t->failures >= LOCK_AFTER) {
		int64_t secs = lock_seconds(t->failures);

		t->locked_until = acct_now(db) + secs;
		snprintf(detail, sizeof(detail), "locked for %" PRId64 " s after %" PRId64 " consecutive failures",
		         secs, t->failures);
		if ((r = acct__audit(db, "2fa.lockout", u->account, u->email, detail, address)) != ACCT_OK)
			return r;
	}
	if ((r = put(db, t)) != ACCT_OK)
		return r;
	return acct__err(db, ACCT_EDENIED, "%s", acct_reason_text(why));
}

static int succeeded(acct_db *db, rec_totp *t)
{
	t->failures = 0;
	t->locked_until = 0;
	return put(db, t);
}

struct rc_walk {
	const unsigned char *hash;
	int64_t id;
};

/* Compare with every unused code, without stopping at a match. */
static int rc_match(const rec_recovery *rec, void *ctx)
{
	struct rc_walk *w = ctx;
	int64_t hit = CRYPTO_memcmp(rec->code_hash, w->hash, REC_RECOVERY_HASH_LEN) == 0;

	w->id |= rec->id & -hit;
	return 0;
}

static int check_recovery(acct_db *db, const rec_user *u, rec_totp *t, const char *code, acct_reason *why,
                          const char *address)
{
	unsigned char hash[REC_RECOVERY_HASH_LEN];
	char norm[RECOVERY_CHARS + 1], detail[64];
	struct rc_walk w = {hash, 0};
	int64_t left = 0;
	int r;

	if (norm_recovery(norm, code) != 0) {
		*why = ACCT_R_BAD_CODE;
		return failed(db, u, t, *why, address);
	}
	recovery_hash(hash, u->id, norm);
	acct_wipe(norm, sizeof(norm));
	r = STORE(db)->recovery_foreach(db->st, u->id, rc_match, &w);
	acct_wipe(hash, sizeof(hash));
	if (r != ACCT_OK)
		return acct__store_err(db, r);
	if (w.id == 0) {
		*why = ACCT_R_BAD_CODE;
		return failed(db, u, t, *why, address);
	}
	if ((r = STORE(db)->recovery_use(db->st, w.id, acct_now(db))) != ACCT_OK ||
	    (r = STORE(db)->recovery_count(db->st, u->id, &left)) != ACCT_OK)
		return acct__store_err(db, r);
	snprintf(detail, sizeof(detail), "%" PRId64 " recovery codes left", left);
	if ((r = acct__audit(db, "2fa.recovery_used", u->account, u->email, detail, address)) != ACCT_OK)
		return r;
	return succeeded(db, t);
}

/*
 * Check a second factor inside the caller's transaction, recording the
 * outcome in t and the audit log.  ACCT_OK; ACCT_EDENIED with *why, whose
 * bookkeeping the caller commits; or an error (*why = ACCT_R_KEY_FILE for
 * the key file) after which the caller rolls back.
 */
static int factor_check(acct_db *db, const rec_user *u, rec_totp *t, const char *code, enum factor kind,
                        acct_reason *why, const char *address)
{
	unsigned char secret[TOTP_SECRET_MAX];
	int64_t now = acct_now(db), step = 0;
	size_t len = 0;
	char norm[9];
	int r, m;

	if (t->locked_until > now) {
		*why = ACCT_R_LOCKED_OUT;
		if ((r = acct__audit(db, "2fa.fail", u->account, u->email, "locked_out", address)) != ACCT_OK)
			return r;
		return acct__err(db, ACCT_EDENIED, "too many failed 2FA attempts: locked for another %" PRId64 " s",
		                 t->locked_until - now);
	}
	if (kind == F_ANY)
		kind = looks_like_recovery(code) ? F_RECOVERY : F_TOTP;
	if (kind == F_RECOVERY)
		return check_recovery(db, u, t, code, why, address);

	if (norm_totp(norm, code, t->digits) != 0) {
		*why = ACCT_R_BAD_CODE;
		return failed(db, u, t, *why, address);
	}
	if ((r = secret_open(db, t, secret, &len)) != ACCT_OK) {
		*why = ACCT_R_KEY_FILE;
		return r;
	}
	m = acct__totp_match(secret, len, t->digits, t->period, db->totp_window, now, norm, &step);
	acct_wipe(secret, sizeof(secret));
	acct_wipe(norm, sizeof(norm));
	if (m < 0)
		return acct__err(db, ACCT_EINTERNAL, "liboath could not check the code");
	if (m == 0 || step <= t->last_step) {
		*why = m == 0 ? ACCT_R_BAD_CODE : ACCT_R_CODE_REPLAYED;
		return failed(db, u, t, *why, address);
	}
	t->last_step = step;
	return succeeded(db, t);
}

/* End a transaction: a denial's bookkeeping is committed, then the denial returned. */
static int finish(acct_db *db, int r, int commit_denial)
{
	if (r == ACCT_EDENIED && commit_denial) {
		char msg[ACCT_ERR_MAX];
		int c;

		memcpy(msg, db->err, sizeof(msg));
		if ((c = acct__end(db, ACCT_OK)) != ACCT_OK)
			return c;
		memcpy(db->err, msg, sizeof(msg));
		return ACCT_EDENIED;
	}
	return acct__end(db, r);
}

/* ---------------------------------------------------------------- */
/* recovery codes */

/* Replace the user's set with 10 fresh codes, written to out. */
static int recovery_new_set(acct_db *db, const rec_user *u, acct_recovery_codes *out)
{
	unsigned char rnd[RECOVERY_CHARS], hash[REC_RECOVERY_HASH_LEN];
	char norm[RECOVERY_CHARS];
	int r = ACCT_OK;

	if ((r = STORE(db)->recovery_delete(db->st, u->id)) != ACCT_OK)
		return acct__store_err(db, r);
	for (int i = 0; i < ACCT_RECOVERY_CODES && r == ACCT_OK; i++) {
		char *c = out->code[i];

		if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
			r = acct__err(db, ACCT_EINTERNAL, "no randomness for recovery codes");
			break;
		}
		/* 256 is a multiple of 32: the low five bits are uniform. */
		for (int j = 0; j < RECOVERY_CHARS; j++)
			norm[j] = b32_lower[rnd[j] & 31];
		memcpy(c, norm, 5);
		c[5] = '-';
		memcpy(c + 6, norm + 5, 5);
		c[ACCT_RECOVERY_CODE_LEN] = '\0';
		recovery_hash(hash, u->id, norm);
		if ((r = STORE(db)->recovery_insert(db->st, u->id, hash, acct_now(db))) != ACCT_OK)
			r = acct__store_err(db, r);
	}
	acct_wipe(rnd, sizeof(rnd));
	acct_wipe(norm, sizeof(norm));
	acct_wipe(hash, sizeof(hash));
	return r;
}

/* ---------------------------------------------------------------- */
/* enrollment */

void acct_2fa_enrollment_free(acct_2fa_enrollment *e)
{
	if (e == NULL)
		return;
	if (e->secret)
		acct_wipe(e->secret, strlen(e->secret));
	if (e->uri)
		acct_wipe(e->uri, strlen(e->uri));
	if (e->qr)
		acct_wipe(e->qr, strlen(e->qr));
	free(e->secret);
	free(e->uri);
	free(e->qr);
	free(e);
}

/* Append s percent-encoded (RFC 3986: unreserved characters kept). */
static int pct(char *buf, size_t cap, size_t *off, const char *s)
{
	static const char hexd[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		int keep = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
		           c == '.' || c == '_' || c == '~';

		if (*off + 4 > cap)
			return -1;
		if (keep) {
			buf[(*off)++] = (char)c;
		} else {
			buf[(*off)++] = '%';
			buf[(*off)++] = hexd[c >> 4];
			buf[(*off)++] = hexd[c & 15];
		}
	}
	buf[*off] = '\0';
	return 0;
}

static int raw(char *buf, size_t cap, size_t *off, const char *s)
{
	size_t n = strlen(s);

	if (*off + n + 1 > cap)
		return -1;
	memcpy(buf + *off, s, n + 1);
	*off += n;
	return 0;
}

static int make_enrollment(acct_db *db, acct_2fa_enrollment **out, const rec_user *u, const unsigned char *secret,
                           unsigned int flags)
{
	acct_2fa_enrollment *e = calloc(1, sizeof(*e));
	char uri[URI_MAX], tail[64];
	char *b32 = NULL;
	size_t b32len = 0, off = 0;
	int r = ACCT_ENOMEM;

	if (e == NULL)
		return acct__err(db, ACCT_ENOMEM, "out of memory");
	(void)pthread_once(&oath_once, oath_start);
	if (!oath_ready || oath_base32_encode((const char *)secret, TOTP_SECRET_LEN, &b32, &b32len) != OATH_OK) {
		r = ACCT_EINTERNAL;
		goto out;
	}
	e->secret = b32; /* transferred */
	snprintf(tail, sizeof(tail), "&algorithm=SHA1&digits=%d&period=%d", db->totp_digits, db->totp_period);
	if (raw(uri, sizeof(uri), &off, "otpauth://totp/") || pct(uri, sizeof(uri), &off, db->totp_issuer) ||
	    raw(uri, sizeof(uri), &off, ":") || pct(uri, sizeof(uri), &off, u->email) ||
	    raw(uri, sizeof(uri), &off, "?secret=") || raw(uri, sizeof(uri), &off, b32) ||
	    raw(uri, sizeof(uri), &off, "&issuer=") || pct(uri, sizeof(uri), &off, db->totp_issuer) ||
	    raw(uri, sizeof(uri), &off, tail)) {
		r = ACCT_EINTERNAL;
		goto out;
	}
	if ((e->uri = strdup(uri)) == NULL || (e->qr = qr_render(uri, flags)) == NULL)
		goto out;
	*out = e;
	e = NULL;
	r = ACCT_OK;
out:
	acct_wipe(uri, sizeof(uri));
	acct_2fa_enrollment_free(e);
	if (r == ACCT_ENOMEM)
		return acct__err(db, r, "out of memory making the enrollment");
	if (r != ACCT_OK)
		return acct__err(db, r, "making the enrollment URI failed");
	return r;
}

int acct_2fa_enroll(acct_2fa_enrollment **out, acct_db *db, const char *email, const char *proof,
                    unsigned int flags)
{
	unsigned char secret[TOTP_SECRET_LEN];
	acct_2fa_enrollment *e = NULL;
	char err[MK_ERR_MAX];
	acct_reason why = ACCT_R_OK;
	const char *detail = NULL;
	mk_ring ring;
	rec_user u;
	rec_totp t;
	int r, have, deny = 0;

	if (out == NULL)
		return ACCT_EINVAL;
	*out = NULL;
	if (db == NULL)
		return ACCT_EINVAL;
	acct__clear(db);
	memset(&ring, 0, sizeof(ring));
	memset(secret, 0, sizeof(secret));
	if (flags & ~(unsigned int)ACCT_QR_ASCII)
		return acct__err(db, ACCT_EINVAL, "unknown enrollment flags 0x%x", flags);
	if ((r = acct__begin(db)) != ACCT_OK)
		return r;
	if ((r = load(db, email, &u, &t, &have)) != ACCT_OK)
		goto out;
	if (have && t.state == ACCT_2FA_ENABLED) {
		if (proof == NULL) {
			r = acct__err(db, ACCT_EDENIED,
			              "2FA is enabled for %s: replacing it needs a current code or a recovery code",
			              u.email);
			goto out;
		}
		if ((r = factor_check(db, &u, &t, proof, F_ANY, &why, NULL)) != ACCT_OK) {
			deny = 1;
			goto out;
		}
		detail = "replaces enabled 2FA";
	} else if (have) {
		detail = "replaces a pending enrollment";
	}
	if ((r = mk_load(&ring, db->key_file, 1, err, sizeof(err))) != ACCT_OK) {
		r = keyfile_err(db, r, err);
		goto out;
	}
	if (RAND_bytes(secret, sizeof(secret)) != 1) {
		r = acct__err(db, ACCT_EINTERNAL, "no randomness for the 2FA secret");
		goto out;
	}
	memset(&t, 0, sizeof(t));
	t.user_id = u.id;
	t.state = ACCT_2FA_PENDING;
	t.digits = db->totp_digits;
	t.period = db->totp_period;
	t.last_step = -1;
	t.created_at = acct_now(db);
	if ((r = secret_seal(db, &ring.keys[0], &t, secret, sizeof(secret))) != ACCT_OK || (r = put(db, &t)) != ACCT_OK)
		goto out;
	if ((r = STORE(db)->recovery_delete(db->st, u.id)) != ACCT_OK) {
		r = acct__store_err(db, r);
		goto out;
	}
	if ((r = acct__audit(db, "2fa.enroll", u.account, u.email, detail, NULL)) != ACCT_OK)
		goto out;
	r = make_enrollment(db, &e, &u, secret, flags);
out:
	r = finish(db, r, deny);
	acct_wipe(secret, sizeof(secret));
	mk_wipe(&ring);
	acct_wipe(&t, sizeof(t));
	if (r == ACCT_OK) {
		*out = e; /* transferred */
		e = NULL;
	}
	acct_2fa_enrollment_free(e);
	return r;
}

int acct_2fa_confirm(acct_recovery_codes *out, acct_reason *why, acct_db *db, const char *email, const char *code)
{
	acct_reason dummy;
	rec_user u;
	rec_totp t;
	int r, have, deny = 0;

	if (why == NULL)
		why = &dummy;
	*why = ACCT_R_OK;
	if (out == NULL || db == NULL)
		return ACCT_EINVAL;
	memset(out, 0, sizeof(*out));
	acct__clear(db);
	if ((r = acct__begin(db)) != ACCT_OK)
		return r;
	if ((r = load(db, email, &u, &t, &have)) != ACCT_OK)
		goto out;
	if (!have || t.state != ACCT_2FA_PENDING) {
		*why = ACCT_R_2FA_NOT_ENABLED;
		r = acct__err(db, ACCT_ECONFLICT, "%s has no pending 2FA enrollment to confirm%s", u.email,
		              have ? " (2FA is already enabled)" : ": enroll first");
		goto out;
	}
	if ((r = factor_check(db, &u, &t, code, F_TOTP, why, NULL)) != ACCT_OK) {
		deny = 1;
		goto out;
	}
	t.state = ACCT_2FA_ENABLED;
	t.enabled_at = acct_now(db);
	if ((r = put(db, &t)) != ACCT_OK || (r = recovery_new_set(db, &u, out)) != ACCT_OK)
		goto out;
	r = acct__audit(db, "2fa.enable", u.account, u.email, NULL, NULL);
out:
	r = finish(db, r, deny);
	acct_wipe(&t, sizeof(t));
	if (r != ACCT_OK)
		acct_wipe(out, sizeof(*out));
	return r;
}

/* acct_2fa_verify and acct_2fa_recover. */
static int check_enabled(acct_reason *why, acct_db *db, const char *email, const char *code, enum factor kind)
{
	acct_reason dummy;
	rec_user u;
	rec_totp t;
	int r, have, deny = 0;

	if (why == NULL)
		why = &dummy;
	*why = ACCT_R_OK;
	if (db == NULL)
		return ACCT_EINVAL;
	acct__clear(db);
	if ((r = acct__begin(db)) != ACCT_OK)
		return r;
	if ((r = load(db, email, &u, &t, &have)) != ACCT_OK)
		goto out;
	if (!have || t.state != ACCT_2FA_ENABLED) {
		*why = ACCT_R_2FA_NOT_ENABLED;
		r = acct__err(db, ACCT_EDENIED, "2FA is not enabled for %s", u.email);
		goto out;
	}
	r = factor_check(db, &u, &t, code, kind, why, NULL);
	deny = 1;
out:
	acct_wipe(&t, sizeof(t));
	return finish(db, r, deny);
}

int acct_2fa_verify(acct_reason *why, acct_db *db, const char *email, const char *code)
{
	return check_enabled(why, db, email, code, F_TOTP);
}

int acct_2fa_recover(acct_reason *why, acct_db *db, const char *email, const char *recovery_code)
{
	return check_enabled(why, db, email, recovery_code, F_RECOVERY);
}

int acct_2fa_status(acct_2fa_info *out, acct_db *db, const char *email)
{
	rec_user u;
	rec_totp t;
	int64_t left = 0;
	int r, have;

	if (out == NULL)
		return ACCT_EINVAL;
	memset(out, 0, sizeof(*out));
	if (db == NULL)
		return ACCT_EINVAL;
	acct__clear(db);
	if ((r = load(db, email, &u, &t, &have)) != ACCT_OK)
		return r;
	if (have) {
		if ((r = STORE(db)->recovery_count(db->st, u.id, &left)) != ACCT_OK) {
			acct_wipe(&t, sizeof(t));
			return acct__store_err(db, r);
		}
		out->state = (acct_2fa_state)t.state;
		out->enabled_at = t.state == ACCT_2FA_ENABLED ? t.enabled_at : 0;
		out->recovery_codes_left = t.state == ACCT_2FA_ENABLED ? (int)left : 0;
		out->failures = t.failures > INT32_MAX ? INT32_MAX : (int)t.failures;
		out->locked_until = t.locked_until > acct_now(db) ? t.locked_until : 0;
	}
	acct_wipe(&t, sizeof(t));
	return ACCT_OK;
}

int acct_2fa_recovery_regenerate(acct_recovery_codes *out, acct_db *db, const char *email, const char *proof)
{
	acct_reason why;
	rec_user u;
	rec_totp t;
	int r, have, deny = 0;

	if (out == NULL || db == NULL)
		return ACCT_EINVAL;
	memset(out, 0, sizeof(*out));
	acct__clear(db);
	if ((r = acct__begin(db)) != ACCT_OK)
		return r;
	if ((r = load(db, email, &u, &t, &have)) != ACCT_OK)
		goto out;
	if (!have || t.state != ACCT_2FA_ENABLED) {
		r = acct__err(db, ACCT_ECONFLICT, "2FA is not enabled for %s", u.email);
		goto out;
	}
	if (proof && (r = factor_check(db, &u, &t, proof, F_ANY, &why, NULL)) != ACCT_OK) {
		deny = 1;
		goto out;
	}
	if ((r = recovery_new_set(db, &u, out)) != ACCT_OK)
		goto out;
	r = acct__audit(db, "2fa.recovery_regenerate", u.account, u.email,
	                proof ? "by the user" : "by an administrator", NULL);
out:
	r = finish(db, r, deny);
	acct_wipe(&t, sizeof(t));
	if (r != ACCT_OK)
		acct_wipe(out, sizeof(*out));
	return r;
}

int acct_2fa_disable(acct_db *db, const char *email, const char *proof)
{
	acct_reason why;
	rec_user u;
	rec_totp t;
	int r, have, deny = 0;

	if (db == NULL)
		return ACCT_EINVAL;
	acct__clear(db);
	if ((r = acct__begin(db)) != ACCT_OK)
		return r;
	if ((r = load(db, email, &u, &t, &have)) != ACCT_OK)
		goto out;
	if (!have) {
		r = acct__err(db, ACCT_ECONFLICT, "%s has no 2FA to turn off", u.email);
		goto out;
	}
	if (proof && t.state == ACCT_2FA_ENABLED) {
		if ((r = factor_check(db, &u, &t, proof, F_ANY, &why, NULL)) != ACCT_OK) {
			deny = 1;
			goto out;
		}
	}
	if ((r = STORE(db)->totp_delete(db->st, u.id)) != ACCT_OK ||
	    (r = STORE(db)->recovery_delete(db->st, u.id)) != ACCT_OK) {
		r = acct__store_err(db, r);
		goto out;
	}
	r = acct__audit(db, proof ? "2fa.disable" : "2fa.reset", u.account, u.email,
	                t.state == ACCT_2FA_ENABLED ? "was enabled" : "was pending", NULL);
out:
	acct_wipe(&t, sizeof(t));
	return finish(db, r, deny);
}

/* ---------------------------------------------------------------- */
/* key rotation */

struct rows {
	rec_totp *v;
	size_t n, cap;
};

static int collect(const rec_totp *rec, void *ctx)
{
	struct rows *rows = ctx;

	if (rows->n == rows->cap) {
		size_t cap = rows->cap ? rows->cap * 2 : 16;
		rec_totp *v = calloc(cap, sizeof(*v));

		if (v == NULL)
			return ACCT_ENOMEM;
		if (rows->n)
			memcpy(v, rows->v, rows->n * sizeof(*v));
		if (rows->v)
			acct_wipe(rows->v, rows->n * sizeof(*v));
		free(rows->v);
		rows->v = v;
		rows->cap = cap;
	}
	rows->v[rows->n++] = *rec;
	return 0;
}

int acct_2fa_rotate_key(acct_db *db)
{
	unsigned char secret[TOTP_SECRET_MAX];
	struct rows rows = {NULL, 0, 0};
	char err[MK_ERR_MAX], detail[128];
	mk_ring old, next;
	size_t len = 0;
	int r, written = 0;

	if (db == NULL)
		return ACCT_EINVAL;
	acct__clear(db);
	memset(&next, 0, sizeof(next));
	if ((r = mk_load(&old, db->key_file, 0, err, sizeof(err))) != ACCT_OK)
		return keyfile_err(db, r, err);
	/* The new key first (current), then the old ones while secrets move. */
	do {
		if (mk_generate(&next.keys[0]) != 0) {
			r = acct__err(db, ACCT_EINTERNAL, "no randomness for a new master key");
			goto wipe;
		}
	} while (mk_find(&old, next.keys[0].id) != NULL);
	next.n = 1;
	for (int i = 0; i < old.n && next.n < MK_MAX_KEYS; i++)
		next.keys[next.n++] = old.keys[i];

	if ((r = acct__begin(db)) != ACCT_OK)
		goto wipe;
	r = STORE(db)->totp_foreach(db->st, collect, &rows);
	if (r != ACCT_OK) {
		r = r == ACCT_ENOMEM ? acct__err(db, r, "out of memory") : acct__store_err(db, r);
		goto out;
	}
	for (size_t i = 0; i < rows.n; i++) {
		rec_totp *t = &rows.v[i];

		if ((r = secret_open(db, t, secret, &len)) != ACCT_OK)
			goto out;
		r = secret_seal(db, &next.keys[0], t, secret, len);
		acct_wipe(secret, sizeof(secret));
		if (r != ACCT_OK || (r = put(db, t)) != ACCT_OK)
			goto out;
	}
	snprintf(detail, sizeof(detail), "%zu secrets re-encrypted under key %s", rows.n, next.keys[0].id);
	if ((r = acct__audit(db, "2fa.rotate", NULL, NULL, detail, NULL)) != ACCT_OK)
		goto out;
	/* The file learns the new key before the database uses it. */
	if ((r = mk_write(db->key_file, &next, err, sizeof(err))) != ACCT_OK) {
		r = keyfile_err(db, r, err);
		goto out;
	}
	written = 1;
out:
	r = acct__end(db, r);
	if (r != ACCT_OK && written) {
		/* Nothing moved: put the old file back (it still opens every secret). */
		char keep[ACCT_ERR_MAX];

		memcpy(keep, db->err, sizeof(keep));
		(void)mk_write(db->key_file, &old, err, sizeof(err));
		memcpy(db->err, keep, sizeof(keep));
	}
	if (r == ACCT_OK) {
		/* Every secret is under the new key: drop the old ones.  If this
		 * fails the file merely keeps keys nothing uses any more. */
		next.n = 1;
		if (mk_write(db->key_file, &next, err, sizeof(err)) != ACCT_OK)
			(void)acct__err(db, ACCT_OK, "rotated, but the old keys stay in the key file: %s", err);
	}
wipe:
	if (rows.v)
		acct_wipe(rows.v, rows.cap * sizeof(*rows.v));
	free(rows.v);
	acct_wipe(secret, sizeof(secret));
	mk_wipe(&old);
	mk_wipe(&next);
	return r;
}

/* ---------------------------------------------------------------- */
/* the interactive login */

static int tempfail(acct_verdict *out, acct_reason reason)
{
	out->kind = ACCT_TEMPFAIL;
	out->reason = reason;
	return ACCT_OK;
}

int acct_login_check(acct_verdict *out, acct_db *db, const char *email, const char *password, const char *code,
                     const char *client_address)
{
	const char *addr = client_address;
	acct_reason why = ACCT_R_OK;
	rec_account a;
	rec_user u;
	rec_totp t;
	int r, known, enabled;

	if (out == NULL)
		return ACCT_EINVAL;
	memset(out, 0, sizeof(*out));
	if (db == NULL || email == NULL || password == NULL)
		return ACCT_EINVAL;
	acct__clear(db);
	if (db->st == NULL || db->st->ops == NULL)
		return tempfail(out, ACCT_R_STORE_UNAVAILABLE);

	r = acct__password_check(db, email, password, &u, &known);
	acct_wipe(u.password_hash, sizeof(u.password_hash));
	if (r == ACCT_EDENIED)
		return known ? acct__deny(db, out, ACCT_R_BAD_PASSWORD, "login.deny", u.account, u.email, addr)
		             : acct__deny(db, out, ACCT_R_UNKNOWN_USER, "login.deny", NULL, NULL, addr);
	if (r != ACCT_OK)
		return tempfail(out, ACCT_R_STORE_UNAVAILABLE);
	if (u.disabled)
		return acct__deny(db, out, ACCT_R_USER_DISABLED, "login.deny", u.account, u.email, addr);
	r = STORE(db)->account_get(db->st, u.account, &a);
	if (r != ACCT_OK)
		return r == ACCT_ENOTFOUND ? acct__deny(db, out, ACCT_R_UNKNOWN_USER, "login.deny", NULL, u.email, addr)
		                           : tempfail(out, ACCT_R_STORE_UNAVAILABLE);
	r = STORE(db)->totp_get(db->st, u.id, &t);
	if (r != ACCT_OK && r != ACCT_ENOTFOUND)
		return tempfail(out, ACCT_R_STORE_UNAVAILABLE);
	enabled = r == ACCT_OK && t.state == ACCT_2FA_ENABLED;
	acct_wipe(&t, sizeof(t));
	if (a.require_2fa && !enabled)
		return acct__deny(db, out, ACCT_R_2FA_NOT_ENROLLED, "login.deny", a.name, u.email, addr);
	if (enabled) {
		if (code == NULL || *code == '\0')
			return acct__deny(db, out, ACCT_R_CODE_REQUIRED, "login.deny", a.name, u.email, addr);
		if (acct__begin(db) != ACCT_OK)
			return tempfail(out, ACCT_R_STORE_UNAVAILABLE);
		/* Read again under the write lock: the replay check must see the latest step. */
		r = STORE(db)->totp_get(db->st, u.id, &t);
		if (r == ACCT_OK && t.state == ACCT_2FA_ENABLED)
			r = factor_check(db, &u, &t, code, F_ANY, &why, addr);
		else if (r == ACCT_ENOTFOUND || r == ACCT_OK)
			r = ACCT_OK; /* turned off meanwhile */
		acct_wipe(&t, sizeof(t));
		r = finish(db, r, 1);
		if (r == ACCT_EDENIED)
			return acct__deny(db, out, why, "login.deny", a.name, u.email, addr);
		if (r != ACCT_OK)
			return tempfail(out, why == ACCT_R_KEY_FILE ? ACCT_R_KEY_FILE : ACCT_R_STORE_UNAVAILABLE);
	}
	return acct__account_checks(db, out, &a, addr, "login.deny", u.email);
}

/* ---------------------------------------------------------------- */
/* for tests */

int acct__2fa_set_secret(acct_db *db, const char *email, const unsigned char *secret, size_t len)
{
	char err[MK_ERR_MAX];
	mk_ring ring;
	rec_user u;
	rec_totp t;
	int r, have;

	acct__clear(db);
	memset(&ring, 0, sizeof(ring));
	if ((r = acct__begin(db)) != ACCT_OK)
		return r;
	if ((r = load(db, email, &u, &t, &have)) != ACCT_OK)
		goto out;
	if (!have) {
		r = acct__err(db, ACCT_ENOTFOUND, "%s has no 2FA", u.email);
		goto out;
	}
	if ((r = mk_load(&ring, db->key_file, 0, err, sizeof(err))) != ACCT_OK) {
		r = keyfile_err(db, r, err);
		goto out;
	}
	if ((r = secret_seal(db, &ring.keys[0], &t, secret, len)) == ACCT_OK)
		r = put(db, &t);
out:
	mk_wipe(&ring);
	acct_wipe(&t, sizeof(t));
	return acct__end(db, r);
}
