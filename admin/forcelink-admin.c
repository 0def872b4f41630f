/*
 * forcelink-admin: the administrator's tool.
 *
 * MINIMAL stand-in that dispatches rotate-key only, so that the rotation
 * can be built and tested on its own; the full tool (every command,
 * --env-file, --json) replaces this file.  Nothing of the rotation lives
 * here: see admin/rotate_key.c and common/rekey.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "crypto.h"
#include "log.h"

static void
usage(FILE *fp)
{
	fputs("usage: forcelink-admin COMMAND [ARGS]\n"
	    "commands:\n"
	    "  rotate-key --new-key-file F [--grace S] [--batch N] "
	    "[--pause MS]\n"
	    "forcelink-admin COMMAND --help describes a command.\n", fp);
}

int
main(int argc, char *argv[])
{
	log_init("forcelink-admin");
	if (crypto_init() == -1) {
		fprintf(stderr, "forcelink-admin: cannot initialise "
		    "libsodium\n");
		return 1;
	}
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "rotate-key") == 0)
		return cmd_rotate_key(argc - 1, argv + 1);
	fprintf(stderr, "forcelink-admin: unknown command %s\n", argv[1]);
	usage(stderr);
	return 2;
}
