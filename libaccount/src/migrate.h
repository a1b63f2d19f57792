/*
 * Schema migrations: the numbered db/NNNN_*.sql files, embedded by the
 * build (scripts/embed-migrations.cmake) so the library always carries
 * the schema it was written for.
 */
#ifndef ACCT_MIGRATE_H
#define ACCT_MIGRATE_H

struct migration {
	int version;
	const char *name;
	const char *sql;
};

/* Terminated by an entry with version 0. */
extern const struct migration acct_migrations[];
extern const int acct_migration_count;

#endif
