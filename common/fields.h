/*
 * fields: the input each program accepts, declared as form_field tables
 * (name, maximum length, validator, required), kcgi style.
 *
 * The programs in cgi/ validate their request against these tables
 * before a handler reads any field, and the fuzz targets in tests/fuzz/
 * check form.c against the very same tables.
 */
#ifndef FORCELINK_FIELDS_H
#define FORCELINK_FIELDS_H

#include <stddef.h>

#include "form.h"

/* Longest slash-command text accepted. */
#define FIELDS_TEXT_MAX	4000

/* POST /contact: what Slack sends with a slash command.  Fields we do not
 * read are declared too, so that a duplicate of any of them is refused. */
extern const struct form_field	fields_contact[];
extern const size_t		fields_ncontact;

/* GET /oauth/start?state=NONCE. */
extern const struct form_field	fields_start[];
extern const size_t		fields_nstart;

/* POST /oauth/start: the login page's Continue (the nonce again, and
 * the CSRF token bound to the page's cookie). */
extern const struct form_field	fields_start_post[];
extern const size_t		fields_nstart_post;

/* GET /oauth/callback: Salesforce's redirect (code and state, or error). */
extern const struct form_field	fields_callback[];
extern const size_t		fields_ncallback;

/* GET /slack/oauth_redirect: Slack's redirect after "Add to Slack" (code
 * and state, or error=access_denied and state). */
extern const struct form_field	fields_slack_redirect[];
extern const size_t		fields_nslack_redirect;

#endif
