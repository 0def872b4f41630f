"""Issue 14: the single-host flows on PostgreSQL, as on SQLite.

The same tests as test_linking.py (the login link, /oauth/start, the
callback, relinking, a restart, a wrong key, a tampered ciphertext, no
secret in the store or the logs), test_salesforce.py (searches, refresh
and rotation, single-flight refresh of 20 concurrent searches, revoked
and failing refreshes, logout, whoami) and test_slack.py (a replay),
imported from those modules and run here against a stack whose store is
a database of the module's throwaway PostgreSQL server (tests/e2e/pg.py).
They read the store through Stack.sql(), so every check they make of a
row holds on both engines; what they call "the database file" is here
the database's rows as pg_dump writes them (Stack.store_bytes()), and the
stack's stop searches that dump for secrets too.

Then what only PostgreSQL has to show: the schema version the engine
applied, and no file of the SQLite engine (no database file, no refresh
lock file, nothing named after the URI) anywhere in the run directory.
"""

import re

import pytest

from harness import ROOT, Stack
import test_linking
import test_salesforce
import test_slack

# The tests below run here, on this module's stack: pytest collects every
# test function (and fixture) in a module's namespace, in the order they
# were bound.  test_slack's first: its module fixture "linked" links
# before the function fixture that clears the stand-in's faults, which a
# test of test_salesforce's leaves on.
for _mod, _names in (
        (test_slack, ("linked", "test_replayed_request")),
        (test_linking, (
            "test_unlinked_search_gets_one_time_login_link",
            "test_start_redirects_to_authorize_with_pkce_and_cookie",
            "test_start_refuses_used_unknown_expired_and_missing_nonce",
            "test_callback_success_page_and_links_row",
            "test_callback_reused_state_no_second_exchange",
            "test_parallel_callbacks_one_exchange",
            "test_relink_replaces_link_and_revokes_old_refresh_token",
            "test_no_token_code_or_secret_on_disk_or_in_logs",
            "test_restart_keeps_links",
            "test_wrong_key_clear_message_nothing_changed",
            "test_tampered_ciphertext_clear_message_nothing_deleted")),
        (test_salesforce, (
            "test_results_smith_links_and_fields",
            "test_expired_session_refreshes_once",
            "test_rotation_stores_new_refresh_token",
            "test_single_flight_refresh_20_concurrent",
            "test_revoked_refresh_token_relinks",
            "test_failed_refresh_keeps_link",
            "test_logout_revokes_and_unlinks",
            "test_whoami"))):
    for _name in _names:
        globals()[_name] = getattr(_mod, _name)


@pytest.fixture(scope="module")
def stack(tmp_path_factory, pg):
    s = Stack(tmp_path_factory.mktemp("pgflows"), pg=pg, workers=1,
              threads=2).start()
    yield s
    s.stop()


def test_schema_applied_and_no_sqlite_files(stack):
    """The engine applied every migration of sql/postgresql/ (the version
    in forcelink_schema), and after links, searches and a refresh the run
    directory holds no file of the SQLite engine: no database, no
    -refresh.lock (the single-flight lock is PostgreSQL's), nothing named
    after the URI."""
    latest = max(int(re.match(r"(\d+)_", p.name).group(1))
                 for p in (ROOT / "sql" / "postgresql").glob("*.sql"))
    assert stack.sql("SELECT version FROM forcelink_schema") == [(latest,)]
    user = "U0PGFILES"
    page = stack.link(user=user)
    assert page.status == 200, page.text
    assert stack.sf("POST", "/_control/expire_access_tokens").status == 200
    before = stack.sf_state()["refreshes_ok"]
    r = stack.slash("smith", user=user)
    assert r.status == 200 and "Jane Smith" in r.text, r.text
    assert stack.sf_state()["refreshes_ok"] == before + 1
    files = sorted(str(p.relative_to(stack.dir))
                   for p in stack.dir.rglob("*") if not p.is_dir())
    bad = [f for f in files
           if re.search(r"forcelink\.db|refresh\.lock|postgres", f)]
    assert bad == [], files
