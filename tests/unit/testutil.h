/*
 * Shared test fixtures: a fresh database file in a fresh directory for
 * every test, a clock the test sets, and a cheap password hash cost.
 */
#ifndef POSTERN_TESTUTIL_H
#define POSTERN_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "postern/account.h"

typedef struct fixture {
	char dir[256];
	char path[300];
	int64_t now;
	acct_db *db;
	/* scratch for tests that need a key across setup and test */
	char key[ACCT_KEY_MAX + 1];
	char key_id[ACCT_KEY_ID_MAX + 1];
} fixture;

/* cmocka setup/teardown: state is a fixture with an open database. */
int fx_setup(void **state);
int fx_teardown(void **state);

/* Open another handle on the fixture's file (same clock). */
acct_db *fx_open(fixture *fx);

/* A temporary directory for a test that manages its own files. */
void tmpdir_make(char *out, size_t len);
void tmpdir_remove(const char *dir);

/* Does the file contain these bytes anywhere (including its -wal)? */
int file_contains(const char *path, const void *needle, size_t n);

/* Count audit entries with this action (and account, if not NULL). */
int audit_count(acct_db *db, const char *action, const char *account);
/* The detail of the newest audit entry with this action ("" if none). */
const char *audit_last_detail(acct_db *db, const char *action, char *buf, size_t len);

#define FX(state) ((fixture *)*(state))

#endif
