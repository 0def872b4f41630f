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

/* What a command's own text does, for its help: args as typed after
 * the command ("acme", "[N]"; "" for none) and what it does (our own
 * text, not escaped). */
struct render_usage {
	const char	*args;
	const char	*what;
};

/* The help text (also the answer to an empty command). command is the
 * slash command as invoked ("/contact"); may be NULL.  usage is its own
 * use (NULL: /contact's contact search); login, whoami, logout and help
 * follow, named with command. */
char	*render_help(const char *command, const struct render_usage *usage);

/* A login link.  reason (may be NULL) says why, e.g. "Your Salesforce
 * session was revoked or expired." */
char	*render_login(const char *url, const char *reason);

/* --- Search results as cards (issue 15) -------------------------------
 *
 * A page of search results is one message: a line saying how many and
 * for what, then one card per record -- a section (the name linked to
 * the record, its key fields) and an actions block with an "Open in
 * Salesforce" link button (action_id RENDER_ACTION_OPEN) and a "Share
 * in channel" button (RENDER_ACTION_SHARE, value "KEY:i": the page's
 * action row and the card's index) -- and, when more records match, a
 * "More" button (RENDER_ACTION_MORE, value the key).  Button values hold
 * keys only.  The cards are rendered first (render_cards), so that the
 * same text goes into the page's action row, which a share reposts.
 */
#define RENDER_ACTION_OPEN	"open"
#define RENDER_ACTION_SHARE	"share"
#define RENDER_ACTION_MORE	"more"

/* The cards of one page: mrkdwn (escaped, at most SLACK_MAX_TEXT
 * bytes) and the record's URL (NULL when it has no usable one). */
struct render_cards {
	size_t	 n;
	char	*text[SF_QUERY_LIMIT];
	char	*url[SF_QUERY_LIMIT];
};

/* Renders the cards of rs (records of kind) into *out.  Returns 0, or
 * -1 on memory exhaustion (*out empty). */
int	 render_cards(enum sf_kind, const char *instance_url,
	    const struct sf_records *rs, struct render_cards *out);
void	 render_cards_free(struct render_cards *);

/* The page a message shows. */
struct render_page {
	enum sf_kind	 kind;
	const char	*query;		/* the user's text (contacts,
					   accounts), unescaped */
	int		 offset;	/* records on the pages before */
	int		 more;		/* more records match */
	const char	*key;		/* the page's action row: Share
					   buttons; NULL: none */
	const char	*more_key;	/* the More button's value; NULL: no
					   button (the line says to refine
					   the search when more match) */
};

/* The message of one page of results. */
char	*render_results(const struct render_page *,
	    const struct render_cards *);

/*
 * A card reposted in the channel by Slack user user_id (a Slack id):
 * {"response_type":"in_channel","replace_original":false,...} with the
 * card's section and a context line "Shared by <@USER>", no buttons.
 * card is text render_cards() made.
 */
char	*render_shared(const char *card, const char *user_id);

/* whoami: who the user is linked as. */
char	*render_whoami(const char *instance_url, const struct sf_userinfo *);

/* json (a message rendered here) as a new message: with
 * "replace_original":false, for an answer at a button's response_url
 * that must leave the message of the button as it is.  NULL when json
 * is NULL or memory is exhausted. */
char	*render_new_message(const char *json);

/* Appends s (len bytes) to b as a JSON string, escaped as json-c
 * prints one (PLAIN, NOSLASHESCAPE).  Returns 0, or -1 past b's
 * ceiling. */
struct buf;
int	 render_json_str(struct buf *b, const char *s, size_t len);

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
char	*render_help_iuser(const char *command,
	    const struct render_usage *usage);

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
