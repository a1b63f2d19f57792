/*
 * Recording when API keys are used, off the request path.
 *
 * An AUTH that succeeds updates the key's last_used_at (at most once a
 * minute per key, verdict.c).  Written at once, that is one write
 * transaction inside the request, which a daemon answering tens of
 * thousands of AUTHs a second over a large store cannot afford.  With
 * deferred writes on (acct_set_deferred_writes), uses are kept in a
 * fixed-size table on the handle, one slot per key, and written together
 * in one transaction by acct_flush (which the daemon calls once a
 * second), when the table fills, and when the handle is closed.  Only
 * last_used_at is written, and never moved back (store key_touch).
 */
#include <stdlib.h>
#include <string.h>

#include "db_internal.h"

#define TOUCH_SLOTS 4096               /* a power of two */
#define TOUCH_FULL (TOUCH_SLOTS / 4 * 3) /* flush before probing gets long */

struct acct__touches {
	size_t n;
	struct {
		int64_t id; /* 0 = empty (key ids are rowids, >= 1) */
		int64_t when;
	} slot[TOUCH_SLOTS];
};

int acct_set_deferred_writes(acct_db *db, int on)
{
	int r = ACCT_OK;

	if (db == NULL)
		return ACCT_EINVAL;
	if (on && db->touch == NULL) {
		if ((db->touch = calloc(1, sizeof(*db->touch))) == NULL)
			return acct__err(db, ACCT_ENOMEM, "out of memory");
	} else if (!on && db->touch != NULL) {
		r = acct_flush(db);
		free(db->touch);
		db->touch = NULL;
	}
	return r;
}

int acct_flush(acct_db *db)
{
	struct acct__touches *t;
	int r;

	if (db == NULL)
		return ACCT_EINVAL;
	t = db->touch;
	if (t == NULL || t->n == 0)
		return ACCT_OK;
	if ((r = acct__begin(db)) != ACCT_OK)
		return r; /* kept for the next flush */
	for (size_t i = 0; i < TOUCH_SLOTS && r == ACCT_OK; i++)
		if (t->slot[i].id != 0)
			r = STORE(db)->key_touch(db->st, t->slot[i].id, t->slot[i].when);
	if (r != ACCT_OK)
		r = acct__store_err(db, r);
	if ((r = acct__end(db, r)) != ACCT_OK)
		return r;
	memset(t, 0, sizeof(*t));
	return ACCT_OK;
}

int acct__key_used(acct_db *db, int64_t id, int64_t when)
{
	struct acct__touches *t = db->touch;
	size_t i;
	int r;

	if (t == NULL) {
		if ((r = acct__begin(db)) != ACCT_OK)
			return r;
		return acct__end(db, STORE(db)->key_touch(db->st, id, when));
	}
	/* Fibonacci hashing of the id, linear probing. */
	i = (size_t)(((uint64_t)id * 0x9e3779b97f4a7c15u) >> 52) & (TOUCH_SLOTS - 1);
	while (t->slot[i].id != 0 && t->slot[i].id != id)
		i = (i + 1) & (TOUCH_SLOTS - 1);
	if (t->slot[i].id == 0) {
		t->slot[i].id = id;
		t->n++;
	}
	if (when > t->slot[i].when)
		t->slot[i].when = when;
	if (t->n >= TOUCH_FULL && (r = acct_flush(db)) != ACCT_OK) {
		/* The store is busy: drop the oldest information rather than grow. */
		memset(t, 0, sizeof(*t));
		return r;
	}
	return ACCT_OK;
}

void acct__touch_fini(acct_db *db)
{
	if (db->touch != NULL) {
		(void)acct_flush(db);
		free(db->touch);
		db->touch = NULL;
	}
}
