/*
 * casefrm: the Case form (issue 15), the Slack side: what the modal
 * shows, what a submission holds and what is wrong with it.
 *
 * One form is one action row (store.h, STORE_ACTION_CASE): the row's
 * sealed data is the form (casefrm_data / casefrm_load: the values the
 * person typed or a message shortcut filled in, the Priority values
 * offered, where to answer, and once created the Case's number and
 * link), and the view's private_metadata is the row's key and nothing
 * else.  The row's state says where the form is:
 *
 *	OPEN ──submit──▶ CREATING ──▶ CREATED
 *	  ▲                 │
 *	  └──── errors ─────┘      OPEN ──unlinked──▶ WAITING ──linked──▶
 *	                                               CREATING
 *
 * and a step is a compare-and-set, so a second submission of the same
 * view finds CREATING or CREATED and creates nothing.
 *
 * Views (Block Kit JSON, allocated; NULL only on memory exhaustion):
 * callback_id "case", a title within Slack's 24 characters, stable
 * block_id/action_id pairs (case_subject/subject,
 * case_description/description, case_priority/priority,
 * case_account/account), so that an update keeps what was typed and an
 * error names its input.  Every text from outside (Salesforce's
 * messages, the person's values shown in text) is escaped for mrkdwn or
 * sent as plain_text.
 *
 * Checks (casefrm_read): Subject required, at most 255 characters, one
 * line; Description at most 32,000 characters; Priority one of the
 * values offered; Account at most 255 characters; no text holding a
 * composite reference ("@{x.y}", see sf_case.h).  Salesforce's own
 * refusals map to the same blocks by errors[].fields (casefrm_map); the
 * others go to the top of the form.
 */
#ifndef FORCELINK_CASEFRM_H
#define FORCELINK_CASEFRM_H

#include "sf_case.h"

/* The view's callback_id, and the message shortcut's. */
#define CASEFRM_CALLBACK	"case"
#define CASEFRM_SHORTCUT	"create_case"

/* A row's states (store_action_step). */
enum casefrm_state {
	CASEFRM_OPEN = 0,	/* shown, may be submitted */
	CASEFRM_CREATING = 1,	/* submitted: the composite runs */
	CASEFRM_CREATED = 2,	/* done: case_number is set */
	CASEFRM_WAITING = 3	/* submitted before linking: created once
				   the person links (resume.h) */
};

/* The form's inputs, in the order shown. */
enum casefrm_block {
	CASEFRM_SUBJECT,
	CASEFRM_DESCRIPTION,
	CASEFRM_PRIORITY,
	CASEFRM_ACCOUNT,
	CASEFRM__NBLOCKS
};

/* block_id and action_id of an input. */
const char	*casefrm_block_id(enum casefrm_block);
const char	*casefrm_action_id(enum casefrm_block);

/* Longest Description a modal takes (Slack's plain_text_input). */
#define CASEFRM_DESC_INPUT_MAX	3000

/*
 * One form.  Strings are allocated (NULL: empty) and freed by
 * casefrm_free(); response_url is a secret (wiped).
 */
struct casefrm {
	char			*subject;
	char			*description;
	char			*priority;	/* a value of pri */
	char			*account;	/* an Account's exact name */
	char			*permalink;	/* a shortcut's message: added
						   to the description */
	char			*response_url;	/* where to answer, or NULL */
	struct sf_case_picklist	 pri;		/* the values offered */
	/* Once created. */
	char			*case_id;
	char			*case_number;
	char			*instance_url;
	char			*note;		/* e.g. an ambiguous Account */
	/* When the row went to CREATING (0: never): a Case still
	 * "creating" long after was cut off (a worker stopped). */
	long long		 creating_at;
};

/* What is wrong with a form: a sentence for the top and one per input
 * ("" when none), plain text. */
struct casefrm_problems {
	char	 top[1024];
	char	 block[CASEFRM__NBLOCKS][512];
};

void		 casefrm_init(struct casefrm *);
void		 casefrm_free(struct casefrm *);

/* 1 when pr holds any problem (at the top or under an input). */
int		 casefrm_has_problems(const struct casefrm_problems *);

/* The form as a row's data (JSON text, allocated), or NULL. */
char		*casefrm_data(const struct casefrm *);

/* Reads a row's data into *f (casefrm_init'ed; free it whatever the
 * result).  Returns 0, or -1 when it is not what casefrm_data() made. */
int		 casefrm_load(const char *data, struct casefrm *f);

/* Replaces *dst with a copy of src (NULL or "" clears it).  Returns 0,
 * or -1 on memory exhaustion. */
int		 casefrm_set(char **dst, const char *src);

/*
 * Fills f from a message shortcut's text (Slack's mrkdwn): the subject
 * is the first non-empty line, as plain text (slack_plain), cut on a
 * character boundary to 255 characters; the description is the whole
 * text as plain text, cut to what the modal takes.  Returns 0, or -1.
 */
int		 casefrm_from_message(struct casefrm *f, const char *text);

/*
 * The one-liner "/case subject: details": 1 when text has that form
 * (a ':' with a non-empty subject before it), filling f's subject and
 * description (trimmed); 0 when it does not; -1 on memory exhaustion.
 */
int		 casefrm_oneliner(struct casefrm *f, const char *text);

/*
 * Takes a view_submission's values (v[block]: what payload_input() read
 * for casefrm_block_id/casefrm_action_id, NULL when empty) into f,
 * replacing subject, description, priority and account, and checks them:
 * problems go into *pr.  Returns the number of problems, or -1 on memory
 * exhaustion.
 */
int		 casefrm_read(struct casefrm *f,
		    const char *const v[CASEFRM__NBLOCKS],
		    struct casefrm_problems *pr);

/* Checks f's values as casefrm_read() does (for the one-liner, which has
 * no modal). */
int		 casefrm_check(const struct casefrm *f,
		    struct casefrm_problems *pr);

/*
 * Fills *c (pointing into f and *desc) with the Case to create: the
 * description with the shortcut's permalink added (*desc: allocated when
 * one was added, else NULL; free it).  Returns 0, or -1.
 */
int		 casefrm_case(const struct casefrm *f, struct sf_case_new *c,
		    char **desc);

/* Salesforce's refusal r mapped onto the form's inputs and top. */
void		 casefrm_map(const struct sf_case_result *r,
		    const char *account, struct casefrm_problems *pr);

/* --- Views ------------------------------------------------------------ */

/* The form with f's values, key as private_metadata, pr (may be NULL)
 * shown: the top sentence first, each input's under it. */
char		*casefrm_view_form(const struct casefrm *f, const char *key,
		    const struct casefrm_problems *pr);

/* A view with text only (plain sentences, escaped here): "Creating…",
 * a refusal, an error.  No submit button. */
char		*casefrm_view_note(const char *key, const char *text);

/* The Case created: its number, subject and an "Open in Salesforce"
 * link button to {instance_url}/{case_id}. */
char		*casefrm_view_created(const struct casefrm *f,
		    const char *key);

/* The login link, for a form submitted before linking: kept says
 * whether the Case will be created once linked. */
char		*casefrm_view_login(const char *key, const char *url,
		    const char *reason, int kept);

/* --- Answers ---------------------------------------------------------- */

/* {"response_action":"errors","errors":{block_id: text}} for pr. */
char		*casefrm_errors_response(const struct casefrm_problems *pr);

/* {"response_action":"update","view":view}. */
char		*casefrm_update_response(const char *view_json);

/* A Slack message (ephemeral) saying the Case was created, with its
 * link, or why not (pr, or text). */
char		*casefrm_message_created(const struct casefrm *f);
char		*casefrm_message_problems(const struct casefrm_problems *pr);

#endif
