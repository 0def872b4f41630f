/*
 * benchutil: helpers of bench/linkuser and bench/store_bench (see
 * benchutil.h).
 */
#include <stdio.h>
#include <string.h>

#include "benchutil.h"

int
bench_read_key(const char *path, struct crypto_key *key)
{
	FILE	*f;
	char	 line[256];
	int	 rc = -1;

	if ((f = fopen(path, "r")) == NULL) {
		perror(path);
		return -1;
	}
	if (fgets(line, sizeof(line), f) == NULL ||
	    crypto_key_from_base64(key, line) == -1)
		fprintf(stderr, "%s: not base64 of 32 bytes\n", path);
	else
		rc = 0;
	crypto_wipe(line, sizeof(line));
	fclose(f);
	return rc;
}

void
bench_user(size_t i, struct slack_user *who)
{
	memset(who, 0, sizeof(*who));
	snprintf(who->team_id, sizeof(who->team_id), "T%07zu", i / 1000);
	snprintf(who->user_id, sizeof(who->user_id), "U%09zu", i);
}

/* n random characters of Salesforce's token alphabet into out. */
static void
bench_token(char *out, const char *prefix, size_t n)
{
	static const char	 alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789._";
	unsigned char		 r[256];
	size_t			 i, p = strlen(prefix);

	crypto_random(r, sizeof(r));
	memcpy(out, prefix, p);
	for (i = p; i < n; i++)
		out[i] = alpha[r[i % sizeof(r)] % (sizeof(alpha) - 1)];
	out[n] = '\0';
}

void
bench_link(struct store_link *l, const char *instance_url, char *access,
    char *refresh)
{
	memset(l, 0, sizeof(*l));
	bench_token(access, "00D5g000004ZyAb!AQ", BENCH_ACCESS_LEN);
	bench_token(refresh, "5Aep861", BENCH_REFRESH_LEN);
	l->org = "";
	l->sf_user_id = "0055g00000Xa001AAB";
	l->sf_org_id = "00D5g000004ZyAbEAK";
	l->sf_username = "alice@example.com";
	l->instance_url = (char *)instance_url;
	l->access_token = access;
	l->refresh_token = refresh;
}
