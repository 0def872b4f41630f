/*
 * handlers: the real request handlers of cgi/contact.c,
 * cgi/oauth_callback.c and cgi/actions.c, compiled into the torture test
 * (cgi_contact.c, cgi_callback.c, cgi_actions.c) so that a run drives exactly what a worker runs for
 * one request, from the FastCGI parameters to the bytes of the answer.
 */
#ifndef FORCELINK_HANDLERS_H
#define FORCELINK_HANDLERS_H

#include <fcgiapp.h>

struct session;

/* The programs' main() functions, renamed; the test never calls them. */
int	 torture_contact_main(int, char *[]);
int	 torture_callback_main(int, char *[]);
int	 torture_actions_main(int, char *[]);

/* POST /contact, GET /oauth/callback and POST /slack/actions, as
 * app_dispatch() calls them. */
void	 torture_contact(FCGX_Request *, struct session *);
void	 torture_callback(FCGX_Request *, struct session *);
void	 torture_actions(FCGX_Request *, struct session *);

#endif
