/*
 * render: the Slack messages forcelink answers with.
 *
 * Every answer is {"response_type":"ephemeral","text":...,"blocks":[...]}.
 * "text" always carries the whole human-readable content (it is what
 * notifications and screen readers use); "blocks" present the same
 * content as Block Kit.  All text from outside (Salesforce fields, the
 * user's query) is escaped with slack_escape(); only links we build
 * ourselves are left as Slack link syntax.  A message never exceeds
 * SLACK_MAX_BLOCKS blocks or SLACK_MAX_TEXT characters in one text field.
 *
 * Each function returns the JSON as an allocated string the caller frees,
 * or NULL on memory exhaustion.
 */
#ifndef FORCELINK_RENDER_H
#define FORCELINK_RENDER_H

#include "sf.h"

/* The help text (also the answer to an empty command). command is the
 * slash command as invoked ("/contact"); may be NULL. */
char	*render_help(const char *command);

/* A login link.  reason (may be NULL) says why, e.g. "Your Salesforce
 * session was revoked or expired." */
char	*render_login(const char *url, const char *reason);

/* Search results for query (as the user typed it, unescaped). */
char	*render_contacts(const char *instance_url, const char *query,
	    const struct sf_contacts *);

/* whoami: who the user is linked as. */
char	*render_whoami(const char *instance_url, const struct sf_userinfo *);

/* A plain message (already human text, escaped here), e.g. "Searching…",
 * "Unlinked.", or a friendly error. */
char	*render_message(const char *text);

/* --- Integration-user mode (issue 6) --------------------------------- */

/*
 * Returns json (a message rendered here) with line (human text, cleaned,
 * cut and escaped here) added where every reader sees it: as the first
 * line of "text" and as a context block above the others (or, when the
 * message has SLACK_MAX_BLOCKS blocks already, as the first line of its
 * first section).  Used to say that an answer came from Salesforce as
 * the integration user.  NULL on memory exhaustion or when json is not
 * a message.
 */
char	*render_with_context(const char *json, const char *line);

/* The help for a workspace in integration-user mode: searches run as the
 * integration user, nobody links. */
char	*render_help_iuser(const char *command);

/* whoami in integration-user mode: which Salesforce user the workspace
 * searches as. */
char	*render_whoami_iuser(const char *instance_url,
	    const struct sf_userinfo *);

/* --- Searches resumed after linking (issue 6) ------------------------- */

/* render_login() for a search that is kept with the link: adds that the
 * answer will come here once the user has linked. */
char	*render_login_resume(const char *url, const char *reason);

/*
 * The answer json (a message rendered here) to a search made before the
 * user linked, posted after the link: its text and its first section
 * start with the line "Your search for “query” from before you linked:"
 * (query cleaned, cut and escaped), within Slack's limits.  NULL on
 * memory exhaustion or when json is not a message.
 */
char	*render_resumed(const char *json, const char *query);

#endif
