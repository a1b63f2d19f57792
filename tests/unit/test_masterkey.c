/*
 * The master key file and the AES-256-GCM seal of TOTP secrets: the
 * file's mode whatever the umask, refusal of a file open to others,
 * clear errors that name the path and never a key, atomic rewrites,
 * and ciphertexts that open only for their user under their key.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "masterkey.h"
#include "testutil.h"

typedef struct kfx {
	char dir[256];
	char path[300];
} kfx;

static int setup(void **state)
{
	kfx *k = calloc(1, sizeof(*k));

	assert_non_null(k);
	tmpdir_make(k->dir, sizeof(k->dir));
	snprintf(k->path, sizeof(k->path), "%s/master.key", k->dir);
	*state = k;
	return 0;
}

static int teardown(void **state)
{
	kfx *k = *state;

	tmpdir_remove(k->dir);
	free(k);
	return 0;
}

static mode_t mode_of(const char *path)
{
	struct stat sb;

	assert_int_equal(stat(path, &sb), 0);
	return sb.st_mode & 07777;
}

static void hexkey(char *out, const unsigned char *key)
{
	for (int i = 0; i < MK_KEY_LEN; i++)
		snprintf(out + 2 * i, 3, "%02x", key[i]);
}

static void test_create_mode_whatever_umask(void **state)
{
	kfx *k = *state;
	mk_ring a, b;
	char err[MK_ERR_MAX];
	mode_t masks[] = {0, 022, 0277};

	for (size_t i = 0; i < sizeof(masks) / sizeof(masks[0]); i++) {
		mode_t old = umask(masks[i]);

		unlink(k->path);
		assert_int_equal(mk_load(&a, k->path, 1, err, sizeof(err)), ACCT_OK);
		umask(old);
		assert_int_equal(mode_of(k->path), 0600);
		assert_int_equal(a.n, 1);
		assert_int_equal(strlen(a.keys[0].id), MK_ID_LEN);
		/* Loading again, with or without create, gives the same key. */
		assert_int_equal(mk_load(&b, k->path, 1, err, sizeof(err)), ACCT_OK);
		assert_int_equal(b.n, 1);
		assert_string_equal(a.keys[0].id, b.keys[0].id);
		assert_memory_equal(a.keys[0].key, b.keys[0].key, MK_KEY_LEN);
		mk_wipe(&a);
		mk_wipe(&b);
	}
}

static void test_errors_name_path_not_key(void **state)
{
	kfx *k = *state;
	char err[MK_ERR_MAX], hex[2 * MK_KEY_LEN + 1];
	mk_ring a, b;
	FILE *f;

	/* missing, without create */
	assert_int_equal(mk_load(&a, k->path, 0, err, sizeof(err)), ACCT_EUNAVAIL);
	assert_non_null(strstr(err, k->path));
	assert_int_equal(access(k->path, F_OK), -1); /* not created */

	assert_int_equal(mk_load(&a, k->path, 1, err, sizeof(err)), ACCT_OK);
	hexkey(hex, a.keys[0].key);

	/* open to the group: refused, like OpenSSH with a private key */
	assert_int_equal(chmod(k->path, 0640), 0);
	assert_int_equal(mk_load(&b, k->path, 0, err, sizeof(err)), ACCT_EPERM);
	assert_non_null(strstr(err, k->path));
	assert_null(strstr(err, hex));
	assert_int_equal(chmod(k->path, 0604), 0);
	assert_int_equal(mk_load(&b, k->path, 0, err, sizeof(err)), ACCT_EPERM);
	assert_int_equal(chmod(k->path, 0400), 0);
	assert_int_equal(mk_load(&b, k->path, 0, err, sizeof(err)), ACCT_OK);
	assert_int_equal(chmod(k->path, 0600), 0);

	/* malformed: a truncated key */
	f = fopen(k->path, "w");
	assert_non_null(f);
	fprintf(f, "postern-master-key v1 %s %.*s\n", a.keys[0].id, 60, hex);
	fclose(f);
	assert_int_equal(mk_load(&b, k->path, 0, err, sizeof(err)), ACCT_EINVAL);
	assert_non_null(strstr(err, k->path));
	assert_null(strstr(err, hex));

	/* garbage, empty, duplicate ids */
	f = fopen(k->path, "w");
	fprintf(f, "hello\n");
	fclose(f);
	assert_int_equal(mk_load(&b, k->path, 0, err, sizeof(err)), ACCT_EINVAL);
	f = fopen(k->path, "w");
	fclose(f);
	assert_int_equal(mk_load(&b, k->path, 0, err, sizeof(err)), ACCT_EINVAL);
	f = fopen(k->path, "w");
	fprintf(f, "postern-master-key v1 %s %s\npostern-master-key v1 %s %s\n", a.keys[0].id, hex, a.keys[0].id,
	        hex);
	fclose(f);
	assert_int_equal(mk_load(&b, k->path, 0, err, sizeof(err)), ACCT_EINVAL);

	/* not a regular file */
	unlink(k->path);
	assert_int_equal(mkdir(k->path, 0700), 0);
	assert_int_not_equal(mk_load(&b, k->path, 0, err, sizeof(err)), ACCT_OK);
	rmdir(k->path);
	mk_wipe(&a);
}

static void test_write_atomic(void **state)
{
	kfx *k = *state;
	char err[MK_ERR_MAX];
	mk_ring a, b;

	memset(&a, 0, sizeof(a));
	assert_int_equal(mk_generate(&a.keys[0]), 0);
	assert_int_equal(mk_generate(&a.keys[1]), 0);
	a.n = 2;
	assert_int_equal(mk_write(k->path, &a, err, sizeof(err)), ACCT_OK);
	assert_int_equal(mode_of(k->path), 0600);
	assert_int_equal(mk_load(&b, k->path, 0, err, sizeof(err)), ACCT_OK);
	assert_int_equal(b.n, 2);
	assert_string_equal(b.keys[0].id, a.keys[0].id); /* order kept: first = current */
	assert_string_equal(b.keys[1].id, a.keys[1].id);
	assert_non_null(mk_find(&b, a.keys[1].id));
	assert_null(mk_find(&b, "0000000000000000"));
	a.n = 1;
	assert_int_equal(mk_write(k->path, &a, err, sizeof(err)), ACCT_OK);
	assert_int_equal(mk_load(&b, k->path, 0, err, sizeof(err)), ACCT_OK);
	assert_int_equal(b.n, 1);
	/* nothing left behind but the key file */
	{
		char cmd[400], out[16] = "";
		FILE *p;

		snprintf(cmd, sizeof(cmd), "ls -A '%s' | wc -l", k->dir);
		p = popen(cmd, "r");
		assert_non_null(p);
		assert_non_null(fgets(out, sizeof(out), p));
		pclose(p);
		assert_string_equal(out, "1\n");
	}
	mk_wipe(&a);
	mk_wipe(&b);
}

static void test_seal_open(void **state)
{
	unsigned char secret[20], ct[20 + MK_TAG_LEN], nonce[MK_NONCE_LEN], nonce2[MK_NONCE_LEN], back[20];
	unsigned char ct2[20 + MK_TAG_LEN];
	mk_key k, other;

	(void)state;
	memcpy(secret, "12345678901234567890", 20);
	assert_int_equal(mk_generate(&k), 0);
	assert_int_equal(mk_generate(&other), 0);
	assert_int_equal(mk_seal(&k, 42, secret, 20, nonce, ct), 0);
	assert_memory_not_equal(ct, secret, 20);
	assert_int_equal(mk_open(&k, 42, nonce, ct, sizeof(ct), back), 0);
	assert_memory_equal(back, secret, 20);
	/* fresh nonce each time */
	assert_int_equal(mk_seal(&k, 42, secret, 20, nonce2, ct2), 0);
	assert_memory_not_equal(nonce, nonce2, MK_NONCE_LEN);
	assert_memory_not_equal(ct, ct2, 20);
	/* another user, another key, another key id, tampering: no */
	assert_int_equal(mk_open(&k, 43, nonce, ct, sizeof(ct), back), -1);
	assert_int_equal(mk_open(&other, 42, nonce, ct, sizeof(ct), back), -1);
	memcpy(other.key, k.key, MK_KEY_LEN); /* same key, relabelled */
	assert_int_equal(mk_open(&other, 42, nonce, ct, sizeof(ct), back), -1);
	ct[3] ^= 1;
	assert_int_equal(mk_open(&k, 42, nonce, ct, sizeof(ct), back), -1);
	ct[3] ^= 1;
	ct[sizeof(ct) - 1] ^= 1;
	assert_int_equal(mk_open(&k, 42, nonce, ct, sizeof(ct), back), -1);
	assert_int_equal(mk_open(&k, 42, nonce, ct, 10, back), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_mode_whatever_umask, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors_name_path_not_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_atomic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_seal_open, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
