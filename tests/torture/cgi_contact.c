/*
 * cgi_contact: cgi/contact.c as it is, with its main() renamed, so the
 * torture test can call its request handler in-process (see handlers.h).
 */
#include "handlers.h"

#define main	torture_contact_main
#include "../../cgi/contact.c"
#undef main

void
torture_contact(FCGX_Request *r, struct session *s)
{
	contact_handle(r, s);
}
