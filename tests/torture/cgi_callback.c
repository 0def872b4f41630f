/*
 * cgi_callback: cgi/oauth_callback.c as it is, with its main() renamed,
 * so the torture test can call its request handler in-process (see
 * handlers.h).
 */
#include "handlers.h"

#define main	torture_callback_main
#include "../../cgi/oauth_callback.c"
#undef main

void
torture_callback(FCGX_Request *r, struct session *s)
{
	callback_handle(r, s);
}
