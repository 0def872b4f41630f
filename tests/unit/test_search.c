/*
 * test_search: the commands' texts (search_command: /pipeline's N
 * clamped, never text), and the presses of Share and More
 * (search_share, search_more) on rows in a real store: the owner only,
 * the index checked against the row, expired and forged keys refused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <json-c/json.h>

#include "search.h"
#include "testutil.h"
#include "tu_db.h"

static char			 dbpath[64];
static struct config		 cfg;
static struct crypto_key	 cfg_key;
static const struct slack_user	 alice = { "", "T0000001", "U0000001" };
static const struct slack_user	 bob = { "", "T0000001", "U0000002" };

static const struct {
	const char	*command;
	const char	*text;
	enum search_cmd	 want;
	enum sf_kind	 kind;
	int		 limit;
} cmd_cases[] = {
	{ NULL, "smith", SEARCH_CMD_OK, SF_KIND_CONTACT, 10 },
	{ "/contact", "O'Brien", SEARCH_CMD_OK, SF_KIND_CONTACT, 10 },
	{ "/account", "1; DROP", SEARCH_CMD_OK, SF_KIND_ACCOUNT, 10 },
	{ "/account", "", SEARCH_CMD_OK, SF_KIND_ACCOUNT, 10 },
	{ "/pipeline", "", SEARCH_CMD_OK, SF_KIND_OPPORTUNITY, 10 },
	{ "/pipeline", NULL, SEARCH_CMD_OK, SF_KIND_OPPORTUNITY, 10 },
	{ "/pipeline", "3", SEARCH_CMD_OK, SF_KIND_OPPORTUNITY, 3 },
	{ "/pipeline", "007", SEARCH_CMD_OK, SF_KIND_OPPORTUNITY, 7 },
	{ "/pipeline", "+4", SEARCH_CMD_OK, SF_KIND_OPPORTUNITY, 4 },
	{ "/pipeline", "10", SEARCH_CMD_OK, SF_KIND_OPPORTUNITY, 10 },
	{ "/pipeline", "11", SEARCH_CMD_OK, SF_KIND_OPPORTUNITY, 10 },
	{ "/pipeline", "99999", SEARCH_CMD_OK, SF_KIND_OPPORTUNITY, 10 },
	{ "/pipeline", "99999999999999999999999999", SEARCH_CMD_OK,
	    SF_KIND_OPPORTUNITY, 10 },
	{ "/pipeline", "0", SEARCH_CMD_OK, SF_KIND_OPPORTUNITY, 1 },
	{ "/pipeline", "-5", SEARCH_CMD_OK, SF_KIND_OPPORTUNITY, 1 },
	{ "/pipeline", "1; DROP", SEARCH_CMD_USAGE, SF_KIND_OPPORTUNITY, 0 },
	{ "/pipeline", "O'Brien", SEARCH_CMD_USAGE, SF_KIND_OPPORTUNITY, 0 },
	{ "/pipeline", "%", SEARCH_CMD_USAGE, SF_KIND_OPPORTUNITY, 0 },
	{ "/pipeline", "{x}", SEARCH_CMD_USAGE, SF_KIND_OPPORTUNITY, 0 },
	{ "/pipeline", "5 ", SEARCH_CMD_USAGE, SF_KIND_OPPORTUNITY, 0 },
	{ "/pipeline", "-", SEARCH_CMD_USAGE, SF_KIND_OPPORTUNITY, 0 },
	{ "/pipeline", "1e3", SEARCH_CMD_USAGE, SF_KIND_OPPORTUNITY, 0 },
	{ "/case", "x", SEARCH_CMD_NONE, SF_KIND_CONTACT, 0 },
	{ "/Contact", "x", SEARCH_CMD_NONE, SF_KIND_CONTACT, 0 },
};

START_TEST(command_table)
{
	struct search_page	 page;
	const char		*canon = NULL;
	enum search_cmd		 r;

	r = search_command(cmd_cases[_i].command, cmd_cases[_i].text, &page,
	    &canon);
	ck_assert_msg(r == cmd_cases[_i].want, "case %d: %d", _i, r);
	if (r != SEARCH_CMD_OK)
		return;
	ck_assert_int_eq(page.kind, cmd_cases[_i].kind);
	ck_assert_int_eq(page.limit, cmd_cases[_i].limit);
	ck_assert_int_eq(page.offset, 0);
	ck_assert_str_eq(canon, cmd_cases[_i].command != NULL ?
	    cmd_cases[_i].command : "/contact");
	/* A count never goes anywhere as text. */
	if (page.kind == SF_KIND_OPPORTUNITY)
		ck_assert_ptr_null(page.text);
	else
		ck_assert_str_eq(page.text, cmd_cases[_i].text);
}
END_TEST

static void
setup(void)
{
	int	 fd;

	crypto_init();
	http_init();
	tu_session_config(&cfg, &cfg_key);
	strcpy(dbpath, "/tmp/fl-search-XXXXXX");
	fd = mkstemp(dbpath);
	ck_assert_int_ne(fd, -1);
	close(fd);
	unlink(dbpath);
	cfg.db_path = (char *)tu_db_create(dbpath);
}

static void
teardown(void)
{
	tu_db_destroy();
	keyring_free(cfg.keyring);
	cfg.keyring = NULL;
}

/* A page's row as search_run() keeps it, for who. */
#define ROW \
	"{\"kind\":\"account\",\"text\":\"O'Brien %%\",\"limit\":2," \
	"\"next\":%s,\"cards\":[[\"*<https://x.my.salesforce.com/" \
	"001000000000001AAA|A &amp; B>*\",\"https://x.my.salesforce.com/" \
	"001000000000001AAA\"],[\"*C*\",null]]}"

static void
put_row(struct session *s, const struct slack_user *who, const char *next,
    time_t expires, char key[STORE_ACTION_KEY_LEN + 1])
{
	char	 data[1024];

	snprintf(data, sizeof(data), ROW, next);
	ck_assert_int_eq(store_action_put(s->st, who, STORE_ACTION_SHARE, data,
	    expires, key), STORE_OK);
}

START_TEST(share_owner_only)
{
	struct session		*s;
	struct json_object	*o, *v;
	char			 key[STORE_ACTION_KEY_LEN + 1], value[64];
	char			*json = NULL;

	ck_assert_ptr_nonnull(s = session_new(&cfg));
	put_row(s, &alice, "2", time(NULL) + 600, key);
	snprintf(value, sizeof(value), "%s:0", key);
	ck_assert_int_eq(search_share(s, &alice, value, &json),
	    SEARCH_PRESS_OK);
	ck_assert_ptr_nonnull(o = json_tokener_parse(json));
	ck_assert(json_object_object_get_ex(o, "response_type", &v));
	ck_assert_str_eq(json_object_get_string(v), "in_channel");
	ck_assert(json_object_object_get_ex(o, "text", &v));
	ck_assert_str_eq(json_object_get_string(v), "*<https://x.my."
	    "salesforce.com/001000000000001AAA|A &amp; B>*\nShared by "
	    "<@U0000001>");
	json_object_put(o);
	free(json);
	/* Another user of the same workspace: refused, nothing made. */
	json = NULL;
	ck_assert_int_eq(search_share(s, &bob, value, &json),
	    SEARCH_PRESS_NOT_YOURS);
	ck_assert_ptr_null(json);
	/* An index the row does not have; a value of another shape. */
	snprintf(value, sizeof(value), "%s:2", key);
	ck_assert_int_eq(search_share(s, &alice, value, &json),
	    SEARCH_PRESS_EXPIRED);
	snprintf(value, sizeof(value), "%s:-1", key);
	ck_assert_int_eq(search_share(s, &alice, value, &json),
	    SEARCH_PRESS_EXPIRED);
	snprintf(value, sizeof(value), "%s:100", key);
	ck_assert_int_eq(search_share(s, &alice, value, &json),
	    SEARCH_PRESS_EXPIRED);
	ck_assert_int_eq(search_share(s, &alice, key, &json),
	    SEARCH_PRESS_EXPIRED);
	ck_assert_int_eq(search_share(s, &alice, NULL, &json),
	    SEARCH_PRESS_EXPIRED);
	ck_assert_int_eq(search_share(s, &alice, "x:0", &json),
	    SEARCH_PRESS_EXPIRED);
	/* The card of index 1 has no URL: shared all the same. */
	snprintf(value, sizeof(value), "%s:1", key);
	ck_assert_int_eq(search_share(s, &alice, value, &json),
	    SEARCH_PRESS_OK);
	free(json);
	session_free(s);
}
END_TEST

START_TEST(share_expired)
{
	struct session	*s;
	char		 key[STORE_ACTION_KEY_LEN + 1], value[64];
	char		*json = NULL;

	ck_assert_ptr_nonnull(s = session_new(&cfg));
	put_row(s, &alice, "-1", time(NULL) - 1, key);
	snprintf(value, sizeof(value), "%s:0", key);
	ck_assert_int_eq(search_share(s, &alice, value, &json),
	    SEARCH_PRESS_EXPIRED);
	/* A key nobody made. */
	memset(value, 'B', STORE_ACTION_KEY_LEN);
	strcpy(value + STORE_ACTION_KEY_LEN, ":0");
	ck_assert_int_eq(search_share(s, &alice, value, &json),
	    SEARCH_PRESS_EXPIRED);
	ck_assert_ptr_null(json);
	ck_assert_ptr_nonnull(json = search_press_message(
	    SEARCH_PRESS_EXPIRED));
	ck_assert_ptr_nonnull(strstr(json, "expired"));
	free(json);
	session_free(s);
}
END_TEST

START_TEST(more_next_page)
{
	struct session		*s;
	struct search_page	 page;
	char			 key[STORE_ACTION_KEY_LEN + 1], *text = NULL;

	ck_assert_ptr_nonnull(s = session_new(&cfg));
	put_row(s, &alice, "2", time(NULL) + 600, key);
	ck_assert_int_eq(search_more(s, &alice, key, &page, &text),
	    SEARCH_PRESS_OK);
	ck_assert_int_eq(page.kind, SF_KIND_ACCOUNT);
	ck_assert_str_eq(page.text, "O'Brien %");
	ck_assert_int_eq(page.limit, 2);
	ck_assert_int_eq(page.offset, 2);
	free(text);
	ck_assert_int_eq(search_more(s, &bob, key, &page, &text),
	    SEARCH_PRESS_NOT_YOURS);
	ck_assert_ptr_null(text);
	/* A page with nothing after it has no More button: forged. */
	put_row(s, &alice, "-1", time(NULL) + 600, key);
	ck_assert_int_eq(search_more(s, &alice, key, &page, &text),
	    SEARCH_PRESS_EXPIRED);
	put_row(s, &alice, "2001", time(NULL) + 600, key);
	ck_assert_int_eq(search_more(s, &alice, key, &page, &text),
	    SEARCH_PRESS_EXPIRED);
	ck_assert_int_eq(search_more(s, &alice, "short", &page, &text),
	    SEARCH_PRESS_EXPIRED);
	session_free(s);
}
END_TEST

static Suite *
suite(void)
{
	Suite	*s = suite_create("search");
	TCase	*tc = tcase_create("command");

	tcase_add_loop_test(tc, command_table, 0,
	    sizeof(cmd_cases) / sizeof(cmd_cases[0]));
	suite_add_tcase(s, tc);
	tu_db_init();
	tc = tcase_create("press");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, share_owner_only);
	tcase_add_test(tc, share_expired);
	tcase_add_test(tc, more_next_page);
	suite_add_tcase(s, tc);
	return s;
}

#include "check_main.h"
