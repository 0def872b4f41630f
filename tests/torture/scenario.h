/*
 * scenario: the fixed cast of the torture test, shared by the driver
 * (torture.c) and the Salesforce peer (peer.c).
 *
 * One Slack user, Alice, is linked to an old Salesforce user whose
 * access token has expired.  The link path replaces that link with a new
 * Salesforce user; search with refresh trades the old refresh token for a
 * new pair (the peer rotates refresh tokens) and finds two contacts;
 * logout revokes the old refresh token and deletes the link; confirm
 * stores the new Salesforce user's grant, held pending for a code, in
 * place of the old link.  Tokens use
 * only characters that form encoding leaves alone, so the peer can find
 * them in a request as they are; every secret here is also looked for
 * in the log afterwards, where none may appear.
 */
#ifndef FORCELINK_SCENARIO_H
#define FORCELINK_SCENARIO_H

#define SC_TEAM		"T0TORTURE"
#define SC_USER		"U0ALICE"

#define SC_CLIENT_ID	"3MVG9.torture.client"
#define SC_CLIENT_SECRET "torture-client-secret-5b1f09c2"
#define SC_SIGNING_SECRET "torture-signing-secret-77e3a0d4"
#define SC_KEY		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define SC_API		"v62.0"

#define SC_ORG		"00D000000000001AAA"
#define SC_OLD_USER	"005000000000001AAA"
#define SC_OLD_NAME	"old.user@example.com"
#define SC_NEW_USER	"005000000000002AAA"
#define SC_NEW_NAME	"new.user@example.com"

/* The old link: its access token has expired. */
#define SC_AT_OLD	"00D000000000001.AT-old-expired-7f3c9a61"
#define SC_RT_OLD	"5Aep861.RT-old-4c2d8e0b"
/* What the authorization code buys. */
#define SC_AT_NEW	"00D000000000001.AT-new-linked-b81e02aa"
#define SC_RT_NEW	"5Aep861.RT-new-0d9a7f13"
/* What the old refresh token buys (rotated). */
#define SC_AT_REFRESHED	"00D000000000001.AT-refreshed-3e5f11c7"
#define SC_RT_ROTATED	"5Aep861.RT-rotated-8b2c46d5"

/* The login in flight: code, PKCE verifier, state and its cookie. */
#define SC_CODE		"aPrx.torture.code.0123456789"
#define SC_VERIFIER	"torture-verifier-0123456789-0123456789-abcdef"
#define SC_NONCE	"torture-nonce-0123456789-0123456789-abcdefgh"
#define SC_STATE	"torture-state-0123456789-0123456789-abcdefgh"
#define SC_COOKIE	"torture-cookie-0123456789-0123456789-abcdefg"

/* A second login of Alice's, waiting for its code (FORCELINK_LINK_PROOF=
 * code): the grant SC_CODE buys is held pending on its row until Alice
 * types /contact confirm SC_CONFIRM_CODE (stored by its hash only). */
#define SC_CONFIRM_NONCE "torture-confirm-nonce-0123456789-0123456789-a"
#define SC_CONFIRM_STATE "torture-confirm-state-0123456789-0123456789-a"
#define SC_CONFIRM_COOKIE "torture-confirm-cookie-0123456789-012345678-a"
#define SC_CONFIRM_CODE	"7K3QM-9XW2P"

/* The search and what it finds. */
#define SC_QUERY	"smith"
#define SC_CONTACT1	"Ada Smith"
#define SC_CONTACT2	"Bob Smithers"

/*
 * The buttons of search results (POST /slack/actions).  Alice's search
 * "smith", one card a page, ran once in the set-up: its row holds her
 * card of SC_CONTACT1 and the next OFFSET, 1, where "More" finds
 * SC_CONTACT2.  Mallory, another user of the workspace, has a row of
 * his own whose card (SC_FOREIGN) no press of Alice's may ever post,
 * not even of his Share button (which she may have seen in a channel).
 * Slack's response_url is the peer's SC_HOOK path.
 */
#define SC_MALLORY	"U0MALLORY"
#define SC_FOREIGN	"Mallory Private Card 5e2f"
#define SC_HOOK		"/hooks/actions/" SC_TEAM "/1/x"

/*
 * The Case form (submit): opened for Alice in the set-up through the
 * real code (casejob_open: its row, views.open at the peer, the row
 * bound to SC_VIEW), then submitted.  The peer plays Slack's Web API
 * (views.open, views.update) for the run's bot token (sc_bot_token,
 * peer.h: made at random by peer_start, so that no token-shaped string
 * is committed) and Salesforce's composite create, which answers
 * SC_CASE_ID and SC_CASE_NUMBER.
 */
#define SC_VIEW		"V0TORTURE1"
#define SC_VIEW_HASH	"1700000000.abcdEFGH"
#define SC_SUBJECT	"Printer on fire"
#define SC_CASE_ID	"500000000000001AAA"
#define SC_CASE_NUMBER	"00001026"

#endif
