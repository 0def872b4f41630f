/*
 * admin: the commands of forcelink-admin.
 *
 * MINIMAL stand-in, written with admin/rotate_key.c so that the rotation
 * can be built and tested on its own: the full tool (every command, the
 * global options, the exit codes) replaces this file and
 * admin/forcelink-admin.c.  Each command is int cmd_NAME(int argc, char
 * *argv[]), argv[0] being the command's name, and returns the process's
 * exit status.
 */
#ifndef FORCELINK_ADMIN_H
#define FORCELINK_ADMIN_H

/* rotate-key --new-key-file F [--grace S] [--batch N] [--pause MS] */
int	 cmd_rotate_key(int argc, char *argv[]);

#endif
