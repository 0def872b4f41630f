/*
 * cgi_actions: cgi/actions.c as it is, with its main() renamed, so the
 * torture test can call its request handler in-process (see handlers.h);
 * its handlers (cgi/actions_search.c, cgi/actions_case.c) are linked in
 * as they are.
 */
#include "handlers.h"

#define main	torture_actions_main
#include "../../cgi/actions.c"
#undef main

void
torture_actions(FCGX_Request *r, struct session *s)
{
	actions_handle(r, s);
}
