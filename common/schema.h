/*
 * schema: the migrations of sql/, compiled in by sql/embed.sh.
 *
 * Migration N brings the database from user_version N-1 to N.  They are
 * listed in ascending order with no gaps; the store's engine applies the
 * ones a database lacks, each in its own transaction.  schema_migrations
 * are sql/NNN_*.sql (SQLite), schema_pg_migrations sql/postgresql/NNN_*.sql
 * (PostgreSQL): the same versions, one dialect each.
 */
#ifndef FORCELINK_SCHEMA_H
#define FORCELINK_SCHEMA_H

#include <stddef.h>

struct schema_migration {
	int		 version;
	const char	*name;	/* file name, for logs */
	const char	*sql;
};

extern const struct schema_migration	schema_migrations[];
extern const size_t			schema_nmigrations;
extern const struct schema_migration	schema_pg_migrations[];
extern const size_t			schema_pg_nmigrations;

#endif
