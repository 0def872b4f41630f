/*
 * linkuser: links one Slack user directly in the store, for scripts/bench.
 *
 *     linkuser DB KEYFILE TEAM USER INSTANCE_URL
 *
 * The benchmark's Salesforce is a static nginx that has no OAuth flow,
 * so the link is written the way the callback would write it
 * (store_link_put: sealed tokens, the same associated data), with the
 * instance URL pointing at that server.  Built only with make bench.
 */
#include <stdio.h>
#include <string.h>

#include "benchutil.h"
#include "crypto.h"
#include "store.h"

int
main(int argc, char *argv[])
{
	struct crypto_key	 key;
	struct slack_user	 who;
	struct store_link	 l;
	struct store		*st = NULL;
	char			 access[BENCH_ACCESS_LEN + 1];
	char			 refresh[BENCH_REFRESH_LEN + 1];
	int			 rc = 1;

	if (argc != 6) {
		fprintf(stderr, "usage: linkuser DB KEYFILE TEAM USER "
		    "INSTANCE_URL\n");
		return 2;
	}
	if (crypto_init() == -1 || bench_read_key(argv[2], &key) == -1)
		return 1;
	memset(&who, 0, sizeof(who));
	if (strlen(argv[3]) > SLACK_ID_MAX || strlen(argv[4]) > SLACK_ID_MAX) {
		fprintf(stderr, "linkuser: team or user id too long\n");
		goto out;
	}
	strcpy(who.team_id, argv[3]);
	strcpy(who.user_id, argv[4]);
	bench_link(&l, argv[5], access, refresh);
	if ((st = store_open(argv[1], &key)) == NULL ||
	    store_link_put(st, &who, &l, NULL) != STORE_OK) {
		fprintf(stderr, "linkuser: cannot store the link\n");
		goto out;
	}
	rc = 0;
out:
	store_close(st);
	crypto_key_wipe(&key);
	crypto_wipe(access, sizeof(access));
	crypto_wipe(refresh, sizeof(refresh));
	return rc;
}
