#!/bin/sh
# Turns the migration files named on the command line (sql/NNN_name.sql,
# in order) into common/schema.c, so the schema is compiled into every
# program.  The version of a migration is its NNN prefix.
set -eu
echo '/* Generated from the sql/ migrations by sql/embed.sh: do not edit. */'
echo '#include <stddef.h>'
echo '#include "schema.h"'
echo 'const struct schema_migration schema_migrations[] = {'
for f in "$@"; do
	base=$(basename "$f")
	version=$(echo "$base" | sed 's/^0*\([0-9][0-9]*\)_.*/\1/')
	printf '\t{ %s, "%s",\n' "$version" "$base"
	# Escape backslashes and quotes; each line becomes a C string piece.
	sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/\t    "/' -e 's/$/\\n"/' "$f"
	printf '\t},\n'
done
echo '};'
echo 'const size_t schema_nmigrations ='
echo '    sizeof(schema_migrations) / sizeof(schema_migrations[0]);'
