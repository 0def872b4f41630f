/*
 * search: one page of a search, from the user's text to the message with
 * its cards (issue 15).
 *
 * /contact NAME, /account NAME and /pipeline [N], a search resumed after
 * linking and the "More" button all go through search_run(): it asks
 * Salesforce (session_query_as, as the user or the integration user),
 * renders one card per record (render.h) and, when something matched,
 * keeps ONE action row (store.h, STORE_ACTION_SHARE) for the page: its
 * cards, which "Share in channel" reposts, and the paging state (the
 * kind, the user's text, the page size and the next OFFSET), which
 * "More" continues from.  The buttons carry only that row's key (Share:
 * "KEY:i", the card's index).  A page that found nothing writes nothing.
 * The row belongs to the user who searched: another user's press is
 * refused (STORE_MISMATCH), and it expires after SEARCH_ROW_TTL.
 */
#ifndef FORCELINK_SEARCH_H
#define FORCELINK_SEARCH_H

#include "session.h"

/* How long a page's Share and More buttons work. */
#define SEARCH_ROW_TTL		(24 * 60 * 60)
/* /pipeline's page size without N. */
#define SEARCH_PIPELINE_DEFAULT	SF_QUERY_LIMIT

/* One page of a search. */
struct search_page {
	enum sf_kind	 kind;
	const char	*text;		/* contacts, accounts: the user's text */
	int		 limit;		/* 1..SF_QUERY_LIMIT */
	int		 offset;	/* 0..SF_OFFSET_MAX */
};

enum search_cmd {
	SEARCH_CMD_OK,		/* *page is filled */
	SEARCH_CMD_USAGE,	/* a text the command cannot take */
	SEARCH_CMD_NONE		/* not a search command */
};

/*
 * The first page a slash command's text (Slack's escaping undone,
 * trimmed, not a sub-command) asks for: "/contact" (or command NULL) and
 * "/account" search names containing text; "/pipeline" takes nothing
 * (SEARCH_PIPELINE_DEFAULT) or a whole number N, clamped to
 * 1..SF_QUERY_LIMIT (a sign and leading zeros allowed, any length);
 * anything else there is SEARCH_CMD_USAGE.  page->text points into text.
 * *canonical (may be NULL) receives the command's name as a static
 * string ("/contact" for NULL).
 */
enum search_cmd	 search_command(const char *command, const char *text,
		    struct search_page *page, const char **canonical);

/*
 * Runs page as who and renders it.  SESSION_OK sets *json (allocated:
 * the message, or an explanation when the page cannot be run: /pipeline
 * in integration-user mode, where nobody's own opportunities can be
 * known, makes no call at all); anything else is the failed call's
 * result, for the caller to answer.  *found (may be NULL) receives the
 * number of records, *err (may be NULL) Salesforce's error.  as as for
 * session_query_as().
 */
enum session_result search_run(struct session *, const struct slack_user *who,
		    const struct search_page *page, struct session_as *as,
		    char **json, size_t *found, struct sf_error *err);

/* What a press of a Share or More button came to. */
enum search_press {
	SEARCH_PRESS_OK,
	SEARCH_PRESS_EXPIRED,	/* unknown, expired or malformed key */
	SEARCH_PRESS_NOT_YOURS,	/* another user's row: nothing done */
	SEARCH_PRESS_ERROR	/* the store failed, or memory */
};

const char	*search_press_str(enum search_press);

/*
 * Share: value is a Share button's ("KEY:i").  For the row's owner
 * only: SEARCH_PRESS_OK sets *json to the message that reposts card i in
 * the channel, naming who shared it (render_shared).
 */
enum search_press search_share(struct session *, const struct slack_user *who,
		    const char *value, char **json);

/*
 * More: value is a More button's (the key).  For the row's owner only:
 * SEARCH_PRESS_OK sets *page to the next page (its text allocated in
 * *text, which the caller frees), for search_run() as who.
 */
enum search_press search_more(struct session *, const struct slack_user *who,
		    const char *value, struct search_page *page, char **text);

/* The answer to a press that came to r (not SEARCH_PRESS_OK). */
char		*search_press_message(enum search_press r);

#endif
