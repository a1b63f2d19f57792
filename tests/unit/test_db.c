/*
 * Opening databases: creation mode, warnings, migrations from every
 * earlier schema, databases from the future, foreign and corrupt files,
 * permissions, and two processes writing at once.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "db_internal.h"
#include "testutil.h"

static void raw_exec(const char *path, const char *sql)
{
	sqlite3 *s = NULL;

	assert_int_equal(sqlite3_open(path, &s), SQLITE_OK);
	if (sqlite3_exec(s, sql, NULL, NULL, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(s));
	sqlite3_close(s);
}

static void test_create_mode_and_version(void **state)
{
	fixture *fx = FX(state);
	struct stat sb;

	assert_int_equal(stat(fx->path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(acct_schema_version(fx->db), acct_schema_latest());
	assert_true(acct_schema_latest() >= 1);
	assert_int_equal(acct_warnings(fx->db), 0);
}

static void test_create_mode_ignores_umask(void **state)
{
	fixture *fx = FX(state);
	char path[400];
	struct stat sb;
	acct_db *db = NULL;
	mode_t old = umask(0);

	snprintf(path, sizeof(path), "%s/loose.db", fx->dir);
	assert_int_equal(acct_open(&db, path, NULL), ACCT_OK);
	umask(old);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	acct_close(db);
}

static void test_warns_on_readable_file(void **state)
{
	fixture *fx = FX(state);
	acct_db *db;

	assert_int_equal(chmod(fx->path, 0644), 0);
	db = fx_open(fx);
	assert_true(acct_warnings(db) & ACCT_WARN_FILE_MODE);
	acct_close(db);
}

static void test_null_and_empty_path(void **state)
{
	acct_db *db = NULL;

	(void)state;
	assert_int_equal(acct_open(&db, "", NULL), ACCT_EINVAL);
	assert_non_null(db);
	assert_string_equal(acct_errmsg(db), "a database path is required");
	acct_close(db);
	assert_int_equal(acct_open(NULL, "x", NULL), ACCT_EINVAL);
	acct_close(NULL);
	assert_string_equal(acct_errmsg(NULL), "no database handle");
}

static void test_no_create(void **state)
{
	fixture *fx = FX(state);
	acct_open_options o = ACCT_OPEN_OPTIONS_INIT;
	char path[400];
	acct_db *db = NULL;

	o.no_create = 1;
	snprintf(path, sizeof(path), "%s/missing.db", fx->dir);
	assert_int_equal(acct_open(&db, path, &o), ACCT_ENOTFOUND);
	assert_non_null(strstr(acct_errmsg(db), "does not exist"));
	acct_close(db);
	assert_int_equal(access(path, F_OK), -1);
}

static int count_rows(const acct_smtp_tls *t, void *ctx)
{
	(void)t;
	(*(int *)ctx)++;
	return 0;
}

/* Build a database at every earlier schema version, with data, and
 * check that opening it upgrades it and keeps the data. */
static void test_migrate_from_every_version(void **state)
{
	fixture *fx = FX(state);
	acct_open_options o = ACCT_OPEN_OPTIONS_INIT;

	for (int v = 0; v < acct_schema_latest(); v++) {
		char path[400];
		acct_db *db = NULL;
		acct_account *a = NULL;

		snprintf(path, sizeof(path), "%s/v%d.db", fx->dir, v);
		assert_int_equal(acct__open_raw(&db, path, &o, 0), ACCT_OK);
		assert_int_equal(acct__migrate_to(db, v), ACCT_OK);
		acct_close(db);
		if (v >= 1)
			raw_exec(path, "INSERT INTO account (name, created_at) VALUES ('old', 1)");
		assert_int_equal(acct_open(&db, path, &o), ACCT_OK);
		assert_int_equal(acct_schema_version(db), acct_schema_latest());
		if (v >= 1) {
			assert_int_equal(acct_account_get(&a, db, "old"), ACCT_OK);
			assert_int_equal(a->created_at, 1);
			assert_int_equal(a->tls.mode, ACCT_TLS_OPPORTUNISTIC);
			acct_account_free(a);
		}
		{ /* schema 3: the events tables are there and empty */
			acct_log_pos pos;
			acct_tls_report rep;
			assert_int_equal(acct_logpos_get(db, "maillog", &pos), ACCT_ENOTFOUND);
			assert_int_equal(acct_tls_report_get(&rep, db, NULL, 0), ACCT_OK);
			assert_int_equal(rep.delivered, 0);
		}
		{ /* schema 6: the smtp processes' TLS state is there and empty */
			int n = 0;
			assert_int_equal(acct_smtp_tls_foreach(db, count_rows, &n), ACCT_OK);
			assert_int_equal(n, 0);
		}
		acct_close(db);
	}
}

static void test_future_database_refused(void **state)
{
	fixture *fx = FX(state);
	acct_db *db = NULL;
	char sql[64];

	acct_close(fx->db);
	fx->db = NULL;
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", acct_schema_latest() + 1);
	raw_exec(fx->path, sql);
	assert_int_equal(acct_open(&db, fx->path, NULL), ACCT_EVERSION);
	assert_non_null(strstr(acct_errmsg(db), "newer than this Postern"));
	acct_close(db);
}

static void test_readonly_needs_current_schema(void **state)
{
	fixture *fx = FX(state);
	acct_open_options o = ACCT_OPEN_OPTIONS_INIT;
	char path[400];
	acct_db *db = NULL;

	snprintf(path, sizeof(path), "%s/ro.db", fx->dir);
	assert_int_equal(acct__open_raw(&db, path, &o, 0), ACCT_OK);
	acct_close(db);
	o.readonly = 1;
	assert_int_equal(acct_open(&db, path, &o), ACCT_EVERSION);
	assert_non_null(strstr(acct_errmsg(db), "needs upgrading"));
	acct_close(db);
	/* A current database opens read-only, and writes are refused. */
	assert_int_equal(acct_open(&db, fx->path, &o), ACCT_OK);
	assert_int_equal(acct_account_add(db, "x", NULL), ACCT_EPERM);
	acct_close(db);
}

static void test_not_a_database(void **state)
{
	fixture *fx = FX(state);
	char path[400];
	acct_db *db = NULL;
	FILE *f;

	snprintf(path, sizeof(path), "%s/garbage.db", fx->dir);
	f = fopen(path, "w");
	assert_non_null(f);
	for (int i = 0; i < 200; i++)
		fputs("this is not a database at all. ", f);
	fclose(f);
	assert_int_equal(acct_open(&db, path, NULL), ACCT_EUNAVAIL);
	assert_non_null(strstr(acct_errmsg(db), "not a Postern database"));
	acct_close(db);
}

static void test_foreign_sqlite_refused(void **state)
{
	fixture *fx = FX(state);
	char path[400];
	acct_db *db = NULL;

	snprintf(path, sizeof(path), "%s/other.db", fx->dir);
	raw_exec(path, "CREATE TABLE t (x)");
	assert_int_equal(acct_open(&db, path, NULL), ACCT_EUNAVAIL);
	assert_non_null(strstr(acct_errmsg(db), "another application"));
	acct_close(db);
}

static void test_directory_refused(void **state)
{
	fixture *fx = FX(state);
	acct_db *db = NULL;

	assert_int_equal(acct_open(&db, fx->dir, NULL), ACCT_EUNAVAIL);
	assert_non_null(strstr(acct_errmsg(db), "not a regular file"));
	acct_close(db);
}

/* Permission problems: as root, permissions do not apply, so the check
 * runs in a child that has become nobody. */
static void test_unreadable_file(void **state)
{
	fixture *fx = FX(state);
	pid_t pid;
	int status;

	assert_int_equal(chmod(fx->path, 0600), 0);
	assert_int_equal(chmod(fx->dir, 0755), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		acct_db *db = NULL;
		int r;

		if (geteuid() == 0 && setuid(65534) != 0)
			_exit(3);
		r = acct_open(&db, fx->path, NULL);
		if (r != ACCT_EPERM)
			_exit(1);
		if (strstr(acct_errmsg(db), "Permission denied") == NULL)
			_exit(2);
		acct_close(db);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* Two processes adding accounts at once: none fails with "locked". */
static void test_two_writers(void **state)
{
	fixture *fx = FX(state);
	pid_t pids[2];
	int n = 0;

	for (int p = 0; p < 2; p++) {
		pids[p] = fork();
		assert_true(pids[p] >= 0);
		if (pids[p] == 0) {
			acct_db *db = fx_open(fx);
			char name[32], key[ACCT_KEY_MAX + 1];

			for (int i = 0; i < 150; i++) {
				snprintf(name, sizeof(name), "p%d-a%d", p, i);
				if (acct_account_add(db, name, NULL) != ACCT_OK)
					_exit(1);
				if (acct_apikey_add(NULL, key, db, name, "k", ACCT_SCOPE_MAIL_SEND, 0) != ACCT_OK)
					_exit(2);
			}
			acct_close(db);
			_exit(0);
		}
	}
	for (int p = 0; p < 2; p++) {
		int status;

		assert_int_equal(waitpid(pids[p], &status, 0), pids[p]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	n = audit_count(fx->db, "account.add", NULL);
	assert_int_equal(n, 300);
	assert_int_equal(audit_count(fx->db, "apikey.add", NULL), 300);
}

static void test_actor_and_strerror(void **state)
{
	fixture *fx = FX(state);
	char long_actor[200];

	assert_int_equal(acct_set_actor(fx->db, ""), ACCT_EINVAL);
	memset(long_actor, 'a', sizeof(long_actor) - 1);
	long_actor[sizeof(long_actor) - 1] = '\0';
	assert_int_equal(acct_set_actor(fx->db, long_actor), ACCT_EINVAL);
	assert_int_equal(acct_set_actor(fx->db, "os:x\n"), ACCT_EINVAL);
	assert_int_equal(acct_set_actor(fx->db, "os:alice"), ACCT_OK);
	assert_int_equal(acct_account_add(fx->db, "acme", NULL), ACCT_OK);
	assert_string_equal(acct_strerror(ACCT_ENOTFOUND), "not found");
	assert_string_equal(acct_strerror(12345), "internal error");
	assert_int_equal(acct_now(fx->db), fx->now);
}

/* acct_data_version: moves when another handle commits, not for our own
 * changes, not when nothing happened. */
static void test_data_version(void **state)
{
	fixture *fx = FX(state);
	acct_db *other = fx_open(fx);
	int64_t v1, v2, o1, o2;

	assert_int_equal(acct_data_version(&v1, fx->db), ACCT_OK);
	assert_int_equal(acct_data_version(&v2, fx->db), ACCT_OK);
	assert_true(v1 == v2);
	assert_int_equal(acct_account_add(fx->db, "mine", NULL), ACCT_OK);
	assert_int_equal(acct_data_version(&v2, fx->db), ACCT_OK);
	assert_true(v1 == v2); /* our own commit */
	assert_int_equal(acct_data_version(&o1, other), ACCT_OK);
	assert_int_equal(acct_account_add(other, "theirs", NULL), ACCT_OK);
	assert_int_equal(acct_data_version(&v2, fx->db), ACCT_OK);
	assert_true(v1 != v2); /* another handle's commit */
	assert_int_equal(acct_data_version(&o2, other), ACCT_OK);
	assert_true(o1 == o2);
	assert_int_equal(acct_data_version(NULL, fx->db), ACCT_EINVAL);
	assert_int_equal(acct_data_version(&v1, NULL), ACCT_EINVAL);
	acct_close(other);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_mode_and_version, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_create_mode_ignores_umask, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_warns_on_readable_file, fx_setup, fx_teardown),
		cmocka_unit_test(test_null_and_empty_path),
		cmocka_unit_test_setup_teardown(test_no_create, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_migrate_from_every_version, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_future_database_refused, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_readonly_needs_current_schema, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_not_a_database, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_foreign_sqlite_refused, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_directory_refused, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_unreadable_file, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_two_writers, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_actor_and_strerror, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_data_version, fx_setup, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
