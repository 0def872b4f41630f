#!/bin/sh
# Turns migration files into C: "embed.sh NAME FILE..." prints the array
# NAME (and NAME's count, NAME with "_migrations" replaced by
# "_nmigrations") of struct schema_migration, one entry per FILE
# (sql/NNN_name.sql, in order), so the schema is compiled into every
# program.  The version of a migration is its NNN prefix.  The Makefile
# runs it once for sql/ (SQLite) and once for sql/postgresql/, into one
# common/schema.c; the first run prints the header lines too.
set -eu
name=$1
shift
count=$(echo "$name" | sed 's/_migrations$/_nmigrations/')
if [ "$name" = schema_migrations ]; then
	echo '/* Generated from the sql/ migrations by sql/embed.sh: do not edit. */'
	echo '#include <stddef.h>'
	echo '#include "schema.h"'
fi
echo "const struct schema_migration $name[] = {"
for f in "$@"; do
	base=$(basename "$f")
	version=$(echo "$base" | sed 's/^0*\([0-9][0-9]*\)_.*/\1/')
	printf '\t{ %s, "%s",\n' "$version" "$base"
	# Escape backslashes and quotes; each line becomes a C string piece.
	sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/\t    "/' -e 's/$/\\n"/' "$f"
	printf '\t},\n'
done
echo '};'
echo "const size_t $count ="
echo "    sizeof($name) / sizeof($name[0]);"
