/*
 * page: the HTML pages of the login flow.
 *
 * Pages are self-contained (no scripts, no external resources), served
 * with Cache-Control: no-store, Referrer-Policy: no-referrer, a strict
 * Content-Security-Policy with frame-ancestors 'none', and every dynamic
 * value HTML-escaped.  Each function appends a complete CGI response
 * (headers, blank line, body) to a buffer that the program writes out.
 */
#ifndef FORCELINK_PAGE_H
#define FORCELINK_PAGE_H

struct buf;

/* Appends s HTML-escaped (& < > " ' become entities).  Returns 0, or -1
 * past b's ceiling. */
int	 page_escape(struct buf *b, const char *s);

/*
 * Appends an error page with HTTP status, a title and a short explanation
 * of what happened (plain text, escaped here) and, as the next step for
 * the person, to get a new login link.  Returns 0, or -1 past b's
 * ceiling or on memory exhaustion; b is then as it was.
 */
int	 page_error(struct buf *b, int status, const char *title,
	    const char *explanation);

/*
 * page_error() with the next step given: plain text, escaped here, in
 * which each `span` between a pair of backquotes is shown as code (a
 * command to type).  NULL gives page_error()'s.  Returns as page_error().
 */
int	 page_error_next(struct buf *b, int status, const char *title,
	    const char *explanation, const char *next);

/*
 * Appends the success page: which Salesforce user (username, org id,
 * instance) is now linked to which Slack user in which workspace.  Returns
 * 0, or -1 past b's ceiling or on memory exhaustion; b is then as it was.
 */
int	 page_linked(struct buf *b, const char *sf_username,
	    const char *sf_org_id, const char *instance_url,
	    const char *slack_team_id, const char *slack_user_id);

/* What the success page says about a search made before linking. */
enum page_resume {
	PAGE_RESUME_NONE,	/* there was none: page_linked()'s page */
	PAGE_RESUME_SENT,	/* its answer is on its way to Slack */
	PAGE_RESUME_TOO_OLD	/* too old for Slack to take an answer */
};

/*
 * page_linked() that also says what became of the search the person ran
 * before linking: query (as they typed it; escaped and, past 100 bytes,
 * cut here) is answered in Slack, or was too old to be.  Returns as
 * page_linked().
 */
int	 page_linked_resume(struct buf *b, const char *sf_username,
	    const char *sf_org_id, const char *instance_url,
	    const char *slack_team_id, const char *slack_user_id,
	    const char *query, enum page_resume how);

/* --- Proving who is in the browser (issue 11) ------------------------ */

/* The Slack user a login link was made for: ids, and the names Slack
 * sent with the command (NULL or "" when unknown). */
struct page_who {
	const char	*team_id;
	const char	*user_id;
	const char	*team_domain;
	const char	*user_name;
};

/*
 * page_linked_resume() that names the Slack user by name as well as by
 * id ("@name (U…)", "domain (T…)").
 */
int	 page_linked_who(struct buf *b, const char *sf_username,
	    const char *sf_org_id, const char *instance_url,
	    const struct page_who *who, const char *query,
	    enum page_resume how);

/* What the login link's page shows and posts. */
struct page_start {
	struct page_who	 who;
	const char	*action;	/* the form's URL: POST /oauth/start */
	const char	*state;		/* the login nonce, posted back */
	const char	*csrf;		/* the CSRF token, posted back */
	const char	*form_to;	/* origin the POST redirects to */
	int		 slack_first;	/* Sign in with Slack comes first */
	int		 code;		/* a code is typed in Slack after */
};

/*
 * Appends the page GET /oauth/start shows: whom the link was made for,
 * what happens next, and one Continue button (a POST of state and csrf
 * to action).  headers (each line ending in "\r\n", may be NULL) go
 * with it.  Returns 0, or -1 past b's ceiling, for an unsafe URL or
 * header; b is then as it was.
 */
int	 page_start(struct buf *b, const struct page_start *ps,
	    const char *headers);

/*
 * Appends the page of a login that waits for its code: which Salesforce
 * user is ready to be linked to which Slack user, the code, and to type
 * /contact confirm CODE in Slack within 10 minutes; query (may be NULL)
 * is the search answered once confirmed.  Returns as page_linked().
 */
int	 page_code(struct buf *b, const char *sf_username,
	    const char *sf_org_id, const char *instance_url,
	    const struct page_who *who, const char *code, const char *query);

/*
 * page_code() that says what becomes of the search query (may be NULL)
 * once confirmed: answered in Slack (PAGE_RESUME_SENT), too old to be
 * (PAGE_RESUME_TOO_OLD), or nothing said (PAGE_RESUME_NONE).
 */
int	 page_code_resume(struct buf *b, const char *sf_username,
	    const char *sf_org_id, const char *instance_url,
	    const struct page_who *who, const char *code, const char *query,
	    enum page_resume how);

/*
 * Appends a 302 redirect to url, with extra header lines (each ending in
 * "\r\n", may be NULL) such as Set-Cookie.  Returns 0, or -1.
 */
int	 page_redirect(struct buf *b, const char *url, const char *headers);

/* --- Slack app installation (cgi/slack_oauth) ------------------------ */

/*
 * Appends the "Add to Slack" page: what installing does, and a link to
 * authorize_url (Slack's authorize page with this install's state).
 * headers (each line ending in "\r\n", may be NULL) are sent with it,
 * e.g. the Set-Cookie that binds the state to this browser.  Returns 0,
 * or -1 past b's ceiling, on memory exhaustion or for an unsafe URL or
 * header; b is then as it was.
 */
int	 page_install(struct buf *b, const char *authorize_url,
	    const char *headers);

/* What the success page of an installation names. */
struct page_installed {
	int		 org_wide;	/* every workspace of the enterprise */
	int		 replaced;	/* an older installation was replaced */
	const char	*team_id;	/* NULL when org-wide */
	const char	*team_name;
	const char	*enterprise_id;	/* NULL outside Enterprise Grid */
	const char	*enterprise_name;
	const char	*app_id;
};

/*
 * Appends the success page of an installation: which workspace (or, for
 * an org-wide install, which enterprise) now has forcelink, and the next
 * step.  Returns as page_install().
 */
int	 page_installed(struct buf *b, const struct page_installed *);

#endif
