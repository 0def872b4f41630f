"""Issue 11: a login proves that the person in the browser is the Slack
user the login link was made for, end to end through nginx with the
Salesforce stand-in (and the Slack stand-in where a mode needs it).

The attack these tests play: Slack user A runs /contact login and sends
the link to B; B opens it in B's own browser, logs in to Salesforce as
B's Salesforce user and allows.  Without a proof, B's tokens would be
stored under A.  Each browser here is a cookie jar of its own (Browser),
so forcelink's cookies and the Salesforce stand-in's session cookie
(remembered approvals) stay with the person they belong to.

FORCELINK_LINK_PROOF=code (the module's stack, harness default): the
forwarded-link attack (B never gives the code / B confirms as B / A
guesses), the honest path, wrong, reused, expired and malformed codes,
confirm with nothing pending, one code confirmed twice at once.

The start page (GET/HEAD /oauth/start): prefetches change nothing, the
page names the user and workspace by name (escaped) and id, the Continue
POST needs the CSRF token of its own cookie and nonce, used, expired and
unknown links are 400 pages.

FORCELINK_LINK_PROOF=slack, email, slack,email and code,email (a second
stack with the Slack stand-in): Sign in with Slack as another Slack user
stops before Salesforce; the honest path; Slack denied; a redirect
without the browser's cookie or used twice; the email proof refusing a
different, unverified or unreadable email (grant revoked, no email on
the page) and accepting equal ones whatever their case.
"""

import concurrent.futures
import contextlib
import hashlib
import html
import http.cookiejar
import json
import re
import secrets
import sqlite3
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from harness import BUILD, CLIENT_ID, NoRedirect, Response, Stack

TEAM = "T0E2E0001"
ORG = "00D5g000004ZyAbEAK"
# A code as shown: 10 characters of Crockford's base32, dash in the
# middle.
CODE_RE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}$")
OTHER_USER = ("This login was started by another Slack user; nothing was "
              "linked.")
NOT_RIGHT = ("That code is not right, or it has expired. Run `/contact "
             "login` to start again.")
USAGE = "Usage: `/contact confirm CODE`"


# -- helpers ------------------------------------------------------------------
def sha256(s):
    return hashlib.sha256(s.encode()).digest()


def nonce_of(link):
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(link).query))[
        "state"]


def sql(stack, statement, args=()):
    with contextlib.closing(stack.db()) as c:
        cur = c.execute(statement, args)
        c.commit()
        return cur.rowcount


def row_of(stack, link):
    """The login_state row of a login link (by its nonce's hash)."""
    with contextlib.closing(stack.db()) as c:
        c.row_factory = sqlite3.Row
        r = c.execute("SELECT * FROM login_state WHERE nonce_hash = ?",
                      (sha256(nonce_of(link)),)).fetchone()
    return dict(r) if r is not None else None


def dump(stack):
    """The whole database as SQL text, and the login_state rows."""
    with contextlib.closing(stack.db()) as c:
        return ("\n".join(c.iterdump()),
                c.execute("SELECT * FROM login_state ORDER BY rowid")
                .fetchall())


def link_of(stack, user, team=TEAM):
    rows = [r for r in stack.links()
            if r["team_id"] == team and r["user_id"] == user]
    return rows[0] if rows else None


def grants(stack):
    return stack.sf("GET", "/_control/grants").json()


def last_grant(stack):
    return max(grants(stack), key=lambda g: g["grant"])


def grant(stack, number):
    (g,) = [g for g in grants(stack) if g["grant"] == number]
    return g


def wait_revoked(stack, number, timeout=15):
    """The grant once it is revoked (the sweep runs after the answer is
    out), or as it is at the timeout."""
    end = time.time() + timeout
    while True:
        g = grant(stack, number)
        if g["revoked"] or time.time() > end:
            return g
        time.sleep(0.1)


def text(r):
    assert r.status == 200, r.text
    return r.json()["text"]


def sweep(stack):
    """A request after which forcelink sweeps pending logins along the
    way: any callback, even one without a query (400)."""
    assert stack.get("/oauth/callback").status == 400


def wait_dropped(stack, link, timeout=15):
    """The login's row once its pending link is gone (revoked, then
    dropped), or as it is at the timeout; None when purged."""
    end = time.time() + timeout
    while True:
        row = row_of(stack, link)
        if row is None or row["pend_refresh_ct"] is None or \
                time.time() > end:
            return row
        time.sleep(0.1)


def admin_purge(stack):
    """forcelink-admin purge --json with the programs' settings."""
    r = subprocess.run([str(BUILD / "admin" / "forcelink-admin"), "purge",
                        "--json"], env=stack.env(), cwd=str(stack.dir),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, (r.stdout, r.stderr)
    return json.loads(r.stdout)


def expire(stack, link):
    n = sql(stack, "UPDATE login_state SET expires_at = ? WHERE "
            "nonce_hash = ?", (int(time.time()) - 1, sha256(nonce_of(link))))
    assert n == 1


class Browser:
    """One person's browser: its own cookies for forcelink and for the
    Salesforce stand-in (whose sid cookie carries remembered approvals),
    following no redirect by itself so every hop can be checked."""

    def __init__(self, stack):
        self.stack = stack
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPSHandler(context=stack.ctx),
            urllib.request.HTTPCookieProcessor(self.jar), NoRedirect)

    def request(self, method, url, fields=None):
        data = urllib.parse.urlencode(fields).encode() \
            if fields is not None else None
        headers = {"Content-Type": "application/x-www-form-urlencoded"} \
            if data is not None else {}
        req = urllib.request.Request(url, data=data, method=method,
                                     headers=headers)
        try:
            with self.opener.open(req, timeout=20) as r:
                return Response(r.status, r.headers, r.read())
        except urllib.error.HTTPError as e:
            with e:
                return Response(e.code, e.headers, e.read())

    def cookies(self):
        return {c.name: c.value for c in self.jar}

    @staticmethod
    def hidden(page):
        return {k: html.unescape(v) for k, v in re.findall(
            r'<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*'
            r'value="([^"]*)"', page.text)}

    def open_link(self, link):
        """GET the login link: the start page."""
        return self.request("GET", link)

    def click_continue(self, page):
        """POSTs the start page's form as the browser would."""
        action = html.unescape(re.search(r'<form method="post" '
                                         r'action="([^"]+)"',
                                         page.text).group(1))
        return self.request("POST", action, self.hidden(page))

    def authorize(self, url, sf_user="alice@example.com", action="Allow"):
        """The Salesforce stand-in's authorize URL in this browser: the
        consent page is answered (or skipped by a remembered approval).
        Returns (whether the page was shown, the Location to forcelink)."""
        r = self.request("GET", url)
        if r.status == 302:
            return False, r.headers["Location"]
        assert r.status == 200, r.text
        fields = self.hidden(r)
        fields.update({"user": sf_user, "action": action})
        r = self.request("POST", self.stack.sf_url +
                         "/services/oauth2/authorize", fields)
        assert r.status == 302, r.text
        return True, r.headers["Location"]

    def login(self, link, sf_user="alice@example.com"):
        """Start page, Continue, consent, callback: the callback page."""
        page = self.open_link(link)
        assert page.status == 200, page.text
        go = self.click_continue(page)
        assert go.status == 302, go.text
        _, back = self.authorize(go.headers["Location"], sf_user)
        assert back.startswith(self.stack.url + "/oauth/callback?"), back
        return self.request("GET", back)


def code_of(page):
    m = re.search(r'<p class="code">([^<]*)</p>', page.text)
    return m.group(1) if m else None


def confirm(stack, code, user, team=TEAM, **extra):
    return stack.slash("confirm " + code, team, user, **extra)


def assert_linked(r, sf_user):
    assert text(r).startswith("Linked: Salesforce user %s (org %s) is now "
                              "linked to you." % (sf_user, ORG)), r.text


def pending_code_page(stack, user, sf_user="bob@example.com", browser=None):
    """A login of (TEAM, user) taken to its code page in browser (a
    fresh one by default).  Returns (link, page, code, grant number)."""
    link = stack.login_url(TEAM, user)
    page = (browser or Browser(stack)).login(link, sf_user)
    assert page.status == 200, page.text
    code = code_of(page)
    assert code and CODE_RE.match(code), page.text
    return link, page, code, last_grant(stack)["grant"]


# -- code mode: the forwarded-link attack -------------------------------------
def victim_with_remembered_approval(stack, victim):
    """B's browser, which linked B's own Salesforce user bob before (so
    the stand-in remembers B's approval of the app).  A control shows that
    an authorize request without prompt is then answered silently."""
    stack.faults(remember_approvals=True)
    b = Browser(stack)
    _, page, code, _ = pending_code_page(stack, victim, browser=b)
    assert_linked(confirm(stack, code, victim), "bob@example.com")
    assert "sid" in b.cookies()
    shown, back = b.authorize(
        stack.sf_url + "/services/oauth2/authorize?" + urllib.parse.urlencode({
            "response_type": "code", "client_id": CLIENT_ID,
            "redirect_uri": stack.url + "/oauth/callback",
            "state": "control", "code_challenge": "A" * 43,
            "code_challenge_method": "S256"}))
    assert not shown and "code=" in back, back
    assert stack.sf("GET", "/_control/requests").json()[-1]["remembered"]
    return b


def forwarded_attack(stack, attacker, victim):
    """A's login link opened in B's browser; B logs in as bob and allows.
    Returns (link, code page, code, the pending grant's number)."""
    b = victim_with_remembered_approval(stack, victim)
    victim_link = link_of(stack, victim)
    link = stack.login_url(TEAM, attacker)
    start = b.open_link(link)
    # The page says whom the link was made for: not B.
    assert "@tester (%s)" % attacker in start.text, start.text
    go = b.click_continue(start)
    assert go.status == 302
    assert "prompt=login" in go.headers["Location"].split("?", 1)[1].split(
        "&"), go.headers["Location"]
    shown, back = b.authorize(go.headers["Location"], "bob@example.com")
    # prompt=login: the consent page was shown although B's approval is
    # remembered, so B had to log in and allow, present.
    assert shown
    (auth,) = [r for r in stack.sf("GET", "/_control/requests").json()
               if r["method"] == "GET" and
               r["path"] == "/services/oauth2/authorize"][-1:]
    assert auth["prompt_login"] is True and auth["remembered"] is False, auth
    assert auth["status"] == 200, auth
    page = b.request("GET", back)
    assert page.status == 200, page.text
    code = code_of(page)
    assert code and CODE_RE.match(code), page.text
    # The page names the Slack user the login is for (A), and warns.
    assert "ready to be linked to <strong>@tester (%s)</strong>" % attacker \
        in page.text, page.text
    assert "Never give this code to anyone else" in page.text
    number = last_grant(stack)["grant"]
    assert grant(stack, number)["user"] == "bob@example.com"
    # Nothing is linked yet; B's own link is untouched.
    assert link_of(stack, attacker) is None
    assert link_of(stack, victim) == victim_link
    return link, page, code, number


def test_forwarded_link_code_never_given_is_revoked_at_expiry(stack):
    """(a) B never gives the code: nothing is stored for A, the grant
    stays pending (sealed, code hashed) until it expires, and the sweep
    then revokes it at Salesforce and drops the tokens."""
    attacker, victim = "U0LPATKA1", "U0LPVICA1"
    link, page, code, number = forwarded_attack(stack, attacker, victim)
    row = row_of(stack, link)
    assert row["pend_sf_username"] == "bob@example.com"
    assert row["confirm_hash"] == sha256(code.replace("-", ""))
    assert 590 <= row["expires_at"] - time.time() <= 601, row["expires_at"]
    assert row["confirm_tries"] == 0
    # Sealed, not plain: no token of the grant is in the row.
    blob = repr(row).encode()
    for v in stack.secret_values():
        assert v.encode() not in blob, v[:8]
    assert code.encode() not in blob and code.replace("-", "").encode() \
        not in blob
    # A sweep before the code expires leaves it alone.
    sweep(stack)
    time.sleep(0.5)
    assert grant(stack, number)["revoked"] is False
    assert row_of(stack, link)["pend_refresh_ct"] is not None
    expire(stack, link)
    sweep(stack)
    g = wait_revoked(stack, number)
    assert g["revoked"] and g["revoked_by"] == "revoke", g
    row = wait_dropped(stack, link)
    assert row is None or (row["pend_refresh_ct"] is None and
                           row["pend_access_ct"] is None and
                           row["confirm_hash"] is None), row
    assert link_of(stack, attacker) is None
    # The code is no good now.
    assert text(confirm(stack, code, attacker)) == NOT_RIGHT
    assert link_of(stack, attacker) is None


def test_forwarded_link_expired_code_revoked_by_admin_purge(stack):
    """(a) again, with no request to sweep along the way: forcelink-admin
    purge revokes the expired pending grant at Salesforce, then deletes
    the row; before its expiry purge leaves it alone."""
    attacker, victim = "U0LPATKP1", "U0LPVICP1"
    link, page, code, number = forwarded_attack(stack, attacker, victim)
    out = admin_purge(stack)
    assert grant(stack, number)["revoked"] is False, out
    assert row_of(stack, link)["pend_refresh_ct"] is not None
    expire(stack, link)
    out = admin_purge(stack)
    assert out["pending_revoked"] >= 1 and out["pending_kept"] == 0, out
    g = grant(stack, number)
    assert g["revoked"] and g["revoked_by"] == "revoke", g
    assert row_of(stack, link) is None
    assert link_of(stack, attacker) is None


def test_forwarded_link_confirmed_by_victim_voids_and_revokes(stack):
    """(b) B types /contact confirm CODE as B: started by another Slack
    user, nothing linked, the grant revoked; A cannot use the code
    after."""
    attacker, victim = "U0LPATKB1", "U0LPVICB1"
    link, page, code, number = forwarded_attack(stack, attacker, victim)
    before = link_of(stack, victim)
    assert text(confirm(stack, code, victim)) == OTHER_USER
    g = wait_revoked(stack, number)
    assert g["revoked"] and g["revoked_by"] == "revoke", g
    assert link_of(stack, attacker) is None
    assert link_of(stack, victim) == before
    # The code is void for everyone now, A included.
    assert text(confirm(stack, code, attacker)) == NOT_RIGHT
    assert link_of(stack, attacker) is None
    row = wait_dropped(stack, link)
    assert row is None or row["pend_refresh_ct"] is None, row


def test_forwarded_link_attacker_guessing_voids_after_five(stack):
    """(c) A guesses: 4 wrong codes say how many tries are left, the 5th
    voids the login and the grant is revoked; even the right code (had B
    given it then) links nothing."""
    attacker, victim = "U0LPATKC1", "U0LPVICC1"
    link, page, code, number = forwarded_attack(stack, attacker, victim)
    wrong = "ZZZZZ-ZZZZZ" if code != "ZZZZZ-ZZZZZ" else "YYYYY-YYYYY"
    for left in (4, 3, 2):
        assert text(confirm(stack, wrong, attacker)) == \
            "That code is not right (%d tries left)." % left
    assert text(confirm(stack, wrong, attacker)) == \
        "That code is not right (1 try left)."
    assert grant(stack, number)["revoked"] is False
    assert row_of(stack, link)["confirm_tries"] == 4
    assert text(confirm(stack, wrong, attacker)) == (
        "That code is not right, and that was too many wrong tries: the "
        "login is cancelled. Run `/contact login` again.")
    g = wait_revoked(stack, number)
    assert g["revoked"] and g["revoked_by"] == "revoke", g
    assert text(confirm(stack, code, attacker)) == NOT_RIGHT
    assert link_of(stack, attacker) is None


def ledger(s):
    return s.sf("GET", "/_control/requests").json()


def token_calls(s):
    return len([r for r in ledger(s) if r["path"] ==
                "/services/oauth2/token"])


def test_forwarded_authorize_url_cannot_be_finished_elsewhere(stack):
    """A clicks Continue in A's browser and forwards the Salesforce
    authorize URL instead: B logs in and allows in B's browser, whose
    callback has no cookie of that login: 400, no code exchanged, nothing
    pending or linked."""
    attacker = "U0LPATKURL"
    link = stack.login_url(TEAM, attacker)
    a = Browser(stack)
    go = a.click_continue(a.open_link(link))
    assert go.status == 302
    before = token_calls(stack)
    b = Browser(stack)
    _, back = b.authorize(go.headers["Location"], "bob@example.com")
    page = b.request("GET", back)
    assert page.status == 400, page.text
    assert "<h1>Login could not be matched</h1>" in page.text
    assert token_calls(stack) == before
    assert row_of(stack, link)["pend_refresh_ct"] is None
    assert link_of(stack, attacker) is None


def test_authorize_answer_handed_back_cannot_finish(stack):
    """The hand-back: A forwards the Salesforce authorize URL, B logs in
    as bob in B's browser (400 there: no cookie), and B sends A the
    callback address.  It reached a browser without its cookie, so the
    state is spent: in A's browser, which has the cookie, it is refused
    too, no code is exchanged, nothing is pending, bob is never linked."""
    attacker = "U0LPHANDBK"
    link = stack.login_url(TEAM, attacker)
    a = Browser(stack)
    go = a.click_continue(a.open_link(link))
    assert go.status == 302
    before = token_calls(stack)
    b = Browser(stack)
    _, back = b.authorize(go.headers["Location"], "bob@example.com")
    assert b.request("GET", back).status == 400
    page = a.request("GET", back)
    assert page.status == 400, page.text
    assert code_of(page) is None
    assert token_calls(stack) == before
    row = row_of(stack, link)
    assert row["used_at"] is not None and row["pend_refresh_ct"] is None
    assert link_of(stack, attacker) is None


def test_other_workspace_same_user_id_cannot_confirm(stack):
    """The Slack user is team and user: the same user id typed from
    another workspace is another Slack user."""
    user = "U0LPSAMEID"
    link, page, code, number = pending_code_page(stack, user)
    assert text(confirm(stack, code, user, team="T0LPOTHER")) == OTHER_USER
    g = wait_revoked(stack, number)
    assert g["revoked_by"] == "revoke", g
    assert link_of(stack, user) is None
    assert link_of(stack, user, team="T0LPOTHER") is None


# -- code mode: the honest path and its mistakes ------------------------------
def test_honest_path_links_and_whoami_works(stack):
    """A opens A's own link in A's browser and confirms as A: linked, the
    grant live, whoami names the Salesforce user; the authorize request
    carried prompt=login."""
    user = "U0LPHONEST"
    link = stack.login_url(TEAM, user)
    b = Browser(stack)
    start = b.open_link(link)
    assert start.status == 200
    # Opening the page consumed nothing: the nonce is still unused.
    assert row_of(stack, link)["used_at"] is None
    go = b.click_continue(start)
    assert go.status == 302
    assert go.headers["Location"].startswith(
        stack.sf_url + "/services/oauth2/authorize?")
    assert "prompt=login" in go.headers["Location"]
    assert "forcelink_oauth" in b.cookies()
    _, back = b.authorize(go.headers["Location"], "alice@example.com")
    page = b.request("GET", back)
    code = code_of(page)
    assert code and CODE_RE.match(code), page.text
    assert page.headers["Cache-Control"] == "no-store"
    assert link_of(stack, user) is None
    number = last_grant(stack)["grant"]
    assert_linked(confirm(stack, code, user), "alice@example.com")
    row = link_of(stack, user)
    assert row["sf_username"] == "alice@example.com"
    assert row["sf_user_id"] == "0055g00000Xa001AAB"
    assert grant(stack, number)["revoked"] is False
    assert "alice@example.com" in text(stack.slash("whoami", TEAM, user))
    # The code is in no log line.
    log = stack.log_text()
    assert code not in log and code.replace("-", "") not in log


def test_code_page_reloaded_shows_no_code_and_keeps_it(stack):
    """Reloading the code page (the callback again) shows no code and
    changes nothing: the code shown first still links."""
    user = "U0LPRELOAD"
    link = stack.login_url(TEAM, user)
    b = Browser(stack)
    go = b.click_continue(b.open_link(link))
    _, back = b.authorize(go.headers["Location"], "alice@example.com")
    page = b.request("GET", back)
    code = code_of(page)
    assert code, page.text
    again = b.request("GET", back)
    assert again.status == 400, again.text
    assert code_of(again) is None and code not in again.text
    assert row_of(stack, link)["confirm_tries"] == 0
    assert_linked(confirm(stack, code, user), "alice@example.com")


def test_confirm_replaces_an_older_link_and_revokes_it(stack):
    """Linking again through the code proof replaces the link and
    revokes the replaced grant at Salesforce."""
    user = "U0LPRELINK"
    _, _, code, first = pending_code_page(stack, user, "alice@example.com")
    assert_linked(confirm(stack, code, user), "alice@example.com")
    _, _, code, second = pending_code_page(stack, user, "bob@example.com")
    assert grant(stack, first)["revoked"] is False
    assert_linked(confirm(stack, code, user), "bob@example.com")
    assert link_of(stack, user)["sf_username"] == "bob@example.com"
    g = wait_revoked(stack, first)
    assert g["revoked_by"] == "revoke", g
    assert grant(stack, second)["revoked"] is False


def test_code_typed_lower_case_without_dash(stack):
    """The code may be typed in lower case and without its dash."""
    user = "U0LPLOWER"
    _, _, code, _ = pending_code_page(stack, user, "alice@example.com")
    assert_linked(confirm(stack, code.replace("-", "").lower(), user),
                  "alice@example.com")


def test_wrong_code_then_right_code(stack):
    user = "U0LPWRONG"
    link, _, code, number = pending_code_page(stack, user)
    wrong = "ZZZZZ-ZZZZZ" if code != "ZZZZZ-ZZZZZ" else "YYYYY-YYYYY"
    assert text(confirm(stack, wrong, user)) == \
        "That code is not right (4 tries left)."
    assert link_of(stack, user) is None
    assert row_of(stack, link)["confirm_tries"] == 1
    assert_linked(confirm(stack, code, user), "bob@example.com")
    assert grant(stack, number)["revoked"] is False


def test_reused_code_changes_nothing(stack):
    """A code works once: typed again it is not right, and the link it
    made stays as it is (also after another login replaced it)."""
    user = "U0LPREUSE"
    _, _, code, number = pending_code_page(stack, user)
    assert_linked(confirm(stack, code, user), "bob@example.com")
    before = link_of(stack, user)
    assert text(confirm(stack, code, user)) == NOT_RIGHT
    assert link_of(stack, user) == before
    assert grant(stack, number)["revoked"] is False


def test_same_code_confirmed_twice_at_once(stack):
    """Two confirms of one code at the same moment: one links."""
    user = "U0LPRACE"
    _, _, code, _ = pending_code_page(stack, user)
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda _: text(confirm(stack, code, user)),
                                range(2)))
    assert sum(a.startswith("Linked:") for a in answers) == 1, answers
    assert NOT_RIGHT in answers, answers


def test_expired_code_links_nothing_and_is_revoked(stack):
    user = "U0LPEXPIRED"
    link, _, code, number = pending_code_page(stack, user)
    expire(stack, link)
    assert text(confirm(stack, code, user)) == NOT_RIGHT
    assert link_of(stack, user) is None
    # That confirm swept the expired login along the way.
    g = wait_revoked(stack, number)
    assert g["revoked_by"] == "revoke", g


def test_malformed_confirm_gets_usage_and_costs_no_try(stack):
    user = "U0LPMALFORM"
    link, _, code, _ = pending_code_page(stack, user)
    for typed in ("", "hello", code[:-1], code + "A", code.replace("-", "--"),
                  "ABCDU-12345", "ABCDE 12345", "ABCDE-12345 extra",
                  "-ABCDE12345", "ABCDE-1234\u00e9"):
        r = stack.slash(("confirm " + typed).strip(), TEAM, user)
        assert text(r).startswith(USAGE), (typed, r.text)
    assert row_of(stack, link)["confirm_tries"] == 0
    assert link_of(stack, user) is None
    assert_linked(confirm(stack, code, user), "bob@example.com")


def test_confirm_with_nothing_pending(stack):
    user = "U0LPNOTHING"
    assert text(confirm(stack, "ABCDE-12345", user)) == NOT_RIGHT
    assert link_of(stack, user) is None


# -- the start page -----------------------------------------------------------
def test_prefetch_get_and_head_change_nothing_then_click_works(stack):
    """A link checker's GET and a chat unfurler's HEAD of the login link
    write nothing (the login_state rows and the whole database are the
    same before and after); the person's click afterwards still works."""
    user = "U0LPPREFETCH"
    link = stack.login_url(TEAM, user)
    before = dump(stack)
    for method in ("GET", "HEAD", "GET", "HEAD"):
        r = stack.request(method, link[len(stack.url):])
        assert r.status == 200, r.text
        if method == "HEAD":
            assert r.body == b""
    after = dump(stack)
    assert after[1] == before[1]
    assert after[0] == before[0]
    page = Browser(stack).login(link, "alice@example.com")
    code = code_of(page)
    assert code, page.text
    assert_linked(confirm(stack, code, user), "alice@example.com")


def test_start_page_names_user_and_workspace_escaped(stack):
    """The page names @user_name and the workspace domain as Slack sent
    them, HTML-escaped, next to the ids; so does the code page."""
    user = "U0LPNAMES"
    r = stack.slash("login", TEAM, user, user_name="<b>eve&co</b>",
                    team_domain="acme<&>\"corp\"")
    link = re.search(r"(http://127\.0\.0\.1:\d+/oauth/start\?state=[\w-]+)",
                     text(r)).group(1)
    b = Browser(stack)
    start = b.open_link(link)
    assert start.status == 200
    who = ("This login link was made for <strong>@&lt;b&gt;eve&amp;co&lt;/b"
           "&gt; (%s)</strong> in the Slack workspace <strong>acme&lt;&amp;"
           "&gt;&quot;corp&quot; (%s)</strong>." % (user, TEAM))
    assert who in start.text, start.text
    assert "<b>eve" not in start.text and "acme<" not in start.text
    assert '<button type="submit">Continue</button>' in start.text
    go = b.click_continue(start)
    _, back = b.authorize(go.headers["Location"])
    page = b.request("GET", back)
    assert ("<dt>Slack user</dt><dd>@&lt;b&gt;eve&amp;co&lt;/b&gt; (%s)</dd>"
            % user) in page.text, page.text
    assert "<dt>Slack workspace</dt><dd>acme&lt;&amp;&gt;&quot;corp&quot; " \
        "(%s)</dd>" % TEAM in page.text, page.text
    assert "<b>eve" not in page.text
    assert_linked(confirm(stack, code_of(page), user), "alice@example.com")


def start(stack, user):
    """A login link and its start page's form and CSRF cookie."""
    link = stack.login_url(TEAM, user)
    page, fields, cookie = stack.start_page(link)
    assert page.status == 200 and cookie and fields["csrf"], page.text
    return link, fields, cookie


def assert_403(r):
    assert r.status == 403, r.text
    assert "<h1>Please use the login page</h1>" in r.text, r.text
    assert "Location" not in r.headers
    assert "forcelink_oauth" not in (r.headers.get("Set-Cookie") or "")


def test_continue_needs_its_own_csrf_cookie_and_nonce(stack):
    """POST /oauth/start without the CSRF cookie, with a wrong token,
    with another page's cookie, or with the token of another nonce is
    403, and the nonce is still usable after each."""
    user = "U0LPCSRF"
    link1, f1, c1 = start(stack, user)
    link2, f2, c2 = start(stack, user)
    row = row_of(stack, link1)
    tries = [
        (f1, None),                                     # no cookie
        (dict(f1, csrf="0" * 64), c1),                  # wrong token
        (dict(f1, csrf=f1["csrf"][:-1] +
              ("0" if f1["csrf"][-1] != "0" else "1")), c1),
        (f1, c2),                                       # another page's
        (dict(f2, csrf=f1["csrf"]), c1),                # another nonce's
        (dict(f1, csrf=f2["csrf"]), c2),
        (dict(f1, csrf=""), c1),                        # empty
    ]
    for fields, cookie in tries:
        r, oauth = stack.start_post(fields, cookie)
        if fields.get("csrf") == "":
            assert r.status in (400, 403), r.text
        else:
            assert_403(r)
        assert oauth is None
    assert row_of(stack, link1) == row
    assert row_of(stack, link2)["used_at"] is None
    for fields, cookie in ((f1, c1), (f2, c2)):
        r, oauth = stack.start_post(fields, cookie)
        assert r.status == 302, r.text
        assert oauth and oauth.startswith("forcelink_oauth="), oauth


def test_start_page_cookie_attributes(stack):
    link = stack.login_url(TEAM, "U0LPCOOKIE")
    page, _, _ = stack.start_page(link)
    attrs = [a.strip().lower() for a in
             page.headers["Set-Cookie"].split(";")]
    assert attrs[0].startswith("forcelink_csrf=")
    assert "httponly" in attrs and "samesite=lax" in attrs, attrs
    assert "path=/oauth/" in attrs, attrs
    assert page.headers["Cache-Control"] == "no-store"
    assert "form-action" in page.headers["Content-Security-Policy"]


def test_start_page_under_an_https_base_path(stack):
    """With FORCELINK_PUBLIC_URL https and with a path, the page's cookie
    is Secure and scoped to that path's /oauth/, and its form posts to
    the public URL."""
    public = "https://forcelink.example.com/base"
    env = dict(stack.env())
    env["FORCELINK_PUBLIC_URL"] = public
    stack.restart_programs(env)
    try:
        t = text(stack.slash("login", TEAM, "U0LPBASE"))
        m = re.search(re.escape(public) + r"/oauth/start\?state=([\w-]+)",
                      t)
        assert m, t
        page = stack.get("/oauth/start?state=" + m.group(1))
        assert page.status == 200, page.text
        attrs = [a.strip().lower() for a in
                 page.headers["Set-Cookie"].split(";")]
        assert attrs[0].startswith("forcelink_csrf=")
        assert "secure" in attrs and "path=/base/oauth/" in attrs, attrs
        assert '<form method="post" action="%s/oauth/start">' % public \
            in page.text, page.text
    finally:
        stack.restart_programs()


def test_used_expired_unknown_links_are_400_pages(stack):
    user = "U0LPBADLINK"
    # Used: GET and POST (with its own valid token) after Continue.
    link, fields, cookie = start(stack, user)
    assert stack.start_post(fields, cookie)[0].status == 302
    r = stack.get(link[len(stack.url):])
    assert r.status == 400 and "Login link already used" in r.text, r.text
    assert "forcelink_csrf" not in (r.headers.get("Set-Cookie") or "")
    r, oauth = stack.start_post(fields, cookie)
    assert r.status == 400 and "Login link already used" in r.text, r.text
    assert oauth is None
    # Expired: GET, and a POST from a page opened before it expired.
    link, fields, cookie = start(stack, user)
    expire(stack, link)
    r = stack.get(link[len(stack.url):])
    assert r.status == 400 and "Login link expired" in r.text, r.text
    r, oauth = stack.start_post(fields, cookie)
    assert r.status == 400 and "Login link expired" in r.text, r.text
    assert oauth is None
    # Unknown.
    r = stack.get("/oauth/start?state=" + secrets.token_urlsafe(32))
    assert r.status == 400 and "Unknown login link" in r.text, r.text
    assert r.headers.get("Set-Cookie") is None
    r = stack.request("HEAD", "/oauth/start?state=" +
                      secrets.token_urlsafe(32))
    assert r.status == 400


# -- slack and email modes ----------------------------------------------------
# One stack with the Slack stand-in too; each group of tests sets the mode
# (FORCELINK_LINK_PROOF, and SLACK_BOT_TOKEN for the email proof) and the
# programs are restarted only when it changes.  The stack starts in the
# first group's mode (slack, no bot token), and the tests come in an
# order that changes it as seldom as it can: each restart costs some 3
# CPU-seconds under ASan.
@pytest.fixture(scope="module")
def sstack(tmp_path_factory):
    s = Stack(tmp_path_factory.mktemp("slackstack"), slack=True,
              env_overrides={"FORCELINK_LINK_PROOF": "slack",
                             "SLACK_BOT_TOKEN": None}).start()
    s.bot = {}
    for name, scopes in (("full", "users:read,users:read.email"),
                         ("noemail", "users:read")):
        r = s.slack("POST", "/_control/bot_token",
                    {"team_id": TEAM, "scopes": scopes})
        assert r.status == 200, r.text
        s.bot[name] = r.json()["token"]
    yield s
    s.stop()


def mode(s, proof, bot=None):
    want = {"FORCELINK_LINK_PROOF": proof,
            "SLACK_BOT_TOKEN": s.bot[bot] if bot else None}
    if s.env_overrides != want:
        s.env_overrides = want
        s.restart_programs()


def sf_email(s, sf_user, email, verified=True):
    """Sets the Salesforce stand-in's email of sf_user; None puts back
    the default (the username, verified)."""
    fields = {"email": email, "email_verified": verified} \
        if email is not None else {"email": None, "email_verified": None}
    r = s.sf("POST", "/_control/users", {sf_user: fields})
    assert r.status == 200, r.text


@pytest.fixture
def emails(sstack):
    """Restores the Salesforce users' emails after a test."""
    yield
    for u in ("alice@example.com", "bob@example.com"):
        sf_email(sstack, u, None)


def slack_email(user):
    """The Slack stand-in's default email of a member of TEAM."""
    return "%s@e2e.example" % user.lower()


class SlackBrowser(Browser):
    def signin(self, url, team, user, action="allow"):
        """Answers the Slack stand-in's Sign in with Slack page as (team,
        user); returns the Location back to forcelink."""
        r = self.request("GET", url)
        assert r.status == 200, r.text
        fields = {k: html.unescape(v) for k, v in re.findall(
            r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', r.text)}
        fields.update({"team_id": team, "user_id": user, "action": action})
        r = self.request("POST", self.stack.slack_url +
                         "/openid/connect/authorize", fields)
        assert r.status == 302, r.text
        return r.headers["Location"]

    def slack_leg(self, link, team, user, action="allow"):
        """Start page, Continue, Sign in with Slack as (team, user):
        forcelink's answer to Slack's redirect."""
        start = self.open_link(link)
        assert start.status == 200, start.text
        go = self.click_continue(start)
        assert go.status == 302, go.text
        url = go.headers["Location"]
        assert url.startswith(self.stack.slack_url +
                              "/openid/connect/authorize?"), url
        q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
        # What the Slack app must allow as user scopes: these two.
        assert q["scope"] == "openid profile", q
        assert q["code_challenge_method"] == "S256" and \
            len(q["code_challenge"]) == 43, q
        assert q["team"] == TEAM and q["nonce"], q
        assert q["redirect_uri"] == self.stack.url + "/oauth/callback", q
        back = self.signin(url, team, user, action)
        assert back.startswith(self.stack.url + "/oauth/callback?"), back
        return self.request("GET", back)

    def salesforce_leg(self, r, sf_user):
        """From forcelink's redirect to Salesforce to the final page."""
        assert r.status == 302, r.text
        assert r.headers["Location"].startswith(
            self.stack.sf_url + "/services/oauth2/authorize?")
        _, back = self.authorize(r.headers["Location"], sf_user)
        return self.request("GET", back)


def test_slack_mode_forwarded_link_stops_before_salesforce(sstack):
    """B opens A's link and signs in with Slack as B: a 403 page says the
    link was made for another Slack user (by name), nothing is stored,
    Salesforce is never reached, and the login is spent."""
    mode(sstack, "slack")
    attacker, victim = "U0LPSATK1", "U0LPSVIC1"
    link = sstack.login_url(TEAM, attacker)
    before = len(ledger(sstack))
    st = sstack.slack_state()
    b = SlackBrowser(sstack)
    page = b.slack_leg(link, TEAM, victim)
    assert page.status == 403, page.text
    assert "<h1>Signed in as another Slack user</h1>" in page.text
    assert "This login link was made for another Slack user (@tester in " \
        "e2e), so nothing was linked." in page.text, page.text
    assert "Location" not in page.headers
    assert len(ledger(sstack)) == before      # Salesforce never reached
    after = sstack.slack_state()
    assert after["openid.connect.userInfo_ok"] == \
        st["openid.connect.userInfo_ok"] + 1
    assert after["openid.connect.token_ok"] == \
        st["openid.connect.token_ok"] + 1
    assert link_of(sstack, attacker) is None
    assert link_of(sstack, victim) is None
    row = row_of(sstack, link)
    assert row["used_at"] is not None and row["verifier_ct"] is None, row
    # The link is spent: opening it again is a 400 page.
    again = b.open_link(link)
    assert again.status == 400 and "Login link already used" in again.text


def test_slack_mode_other_workspace_same_user_id(sstack):
    """The same user id signed in to another workspace is someone else."""
    mode(sstack, "slack")
    user = "U0LPSTEAM"
    link = sstack.login_url(TEAM, user)
    before = len(ledger(sstack))
    page = SlackBrowser(sstack).slack_leg(link, "T0E2E0002", user)
    assert page.status == 403, page.text
    assert len(ledger(sstack)) == before
    assert link_of(sstack, user) is None


def test_slack_mode_authorize_answer_handed_back_cannot_finish(sstack):
    """In slack mode A proves to be A, then forwards the Salesforce
    authorize URL; B logs in as bob in B's browser (no prompt: it may be
    silent) and hands the callback address back.  The state reached a
    browser without its cookie and is spent: A's browser cannot finish it
    and nothing is linked."""
    mode(sstack, "slack")
    attacker = "U0LPSHBACK"
    link = sstack.login_url(TEAM, attacker)
    a = SlackBrowser(sstack)
    go = a.slack_leg(link, TEAM, attacker)
    assert go.status == 302, go.text
    before = token_calls(sstack)
    b = SlackBrowser(sstack)
    _, back = b.authorize(go.headers["Location"], "bob@example.com")
    assert b.request("GET", back).status == 400
    page = a.request("GET", back)
    assert page.status == 400, page.text
    assert "<h1>Linked</h1>" not in page.text
    assert token_calls(sstack) == before
    assert link_of(sstack, attacker) is None


def test_slack_mode_honest_path(sstack):
    """A signs in with Slack as A, then logs in to Salesforce: linked at
    once (no code), whoami works; the Salesforce request had no prompt
    (the Slack sign-in is the proof)."""
    mode(sstack, "slack")
    user = "U0LPSHONEST"
    link = sstack.login_url(TEAM, user)
    b = SlackBrowser(sstack)
    r = b.slack_leg(link, TEAM, user)
    assert r.status == 302, r.text
    assert "prompt=" not in r.headers["Location"]
    page = b.salesforce_leg(r, "alice@example.com")
    assert page.status == 200, page.text
    assert "<h1>Linked</h1>" in page.text and code_of(page) is None
    assert "<dt>Slack user</dt><dd>@tester (%s)</dd>" % user in page.text
    assert link_of(sstack, user)["sf_username"] == "alice@example.com"
    assert "alice@example.com" in text(sstack.slash("whoami", TEAM, user))


def test_slack_mode_denied(sstack):
    """Cancel on Slack's sign-in page: nothing stored, Salesforce never
    reached, the login spent."""
    mode(sstack, "slack")
    user = "U0LPSDENY"
    link = sstack.login_url(TEAM, user)
    before = len(ledger(sstack))
    b = SlackBrowser(sstack)
    page = b.slack_leg(link, TEAM, user, action="deny")
    assert page.status == 400, page.text
    assert "<h1>Sign in cancelled</h1>" in page.text, page.text
    assert len(ledger(sstack)) == before
    assert link_of(sstack, user) is None
    assert row_of(sstack, link)["verifier_ct"] is None


def test_slack_mode_callback_replayed_or_without_cookie(sstack):
    """Slack's redirect back opened in another browser (no cookie) is
    refused and spends the login, so the owner's browser cannot go on with
    it either; and an answer used once is refused the second time."""
    mode(sstack, "slack")
    user = "U0LPSCOOKIE"
    link = sstack.login_url(TEAM, user)
    b = SlackBrowser(sstack)
    go = b.click_continue(b.open_link(link))
    back = b.signin(go.headers["Location"], TEAM, user)
    other = Browser(sstack).request("GET", back)
    assert other.status == 400, other.text
    assert "<h1>Login could not be matched</h1>" in other.text
    assert b.request("GET", back).status == 400
    assert link_of(sstack, user) is None
    # A second login in the owner's browser goes on once; the same
    # redirect again is refused.
    link = sstack.login_url(TEAM, user)
    go = b.click_continue(b.open_link(link))
    back = b.signin(go.headers["Location"], TEAM, user)
    first = b.request("GET", back)
    assert first.status == 302, first.text
    assert first.headers["Location"].startswith(
        sstack.sf_url + "/services/oauth2/authorize?")
    second = b.request("GET", back)
    assert second.status == 400, second.text


def test_email_mode_equal_emails_link(sstack, emails):
    """email: the Salesforce user's verified email equals the Slack
    profile email (case differs): linked; prompt=login was sent."""
    mode(sstack, "email", bot="full")
    user = "U0LPEMOK"
    sf_email(sstack, "alice@example.com", slack_email(user).upper())
    link = sstack.login_url(TEAM, user)
    b = Browser(sstack)
    start = b.open_link(link)
    go = b.click_continue(start)
    assert "prompt=login" in go.headers["Location"]
    _, back = b.authorize(go.headers["Location"], "alice@example.com")
    page = b.request("GET", back)
    assert page.status == 200 and "<h1>Linked</h1>" in page.text, page.text
    assert link_of(sstack, user)["sf_username"] == "alice@example.com"


# (Salesforce email, verified, bot token) → the refusal page's title.
EMAIL_REFUSALS = [
    ("different", "bob@example.com", True, "full",
     "Not your Salesforce user"),
    ("unverified", "SAME", False, "full", "Email not verified"),
    ("no Slack email (token lacks users:read.email)", "SAME", True,
     "noemail", "No email from Slack"),
]


@pytest.mark.parametrize("case", EMAIL_REFUSALS, ids=[c[0] for c in
                                                       EMAIL_REFUSALS])
def test_email_mode_refusals_revoke(sstack, emails, case):
    """email: a different, unverified or unreadable email refuses the
    login: 403, nothing stored, the grant revoked at Salesforce, and the
    page shows neither email address."""
    name, email, verified, bot, title = case
    mode(sstack, "email", bot=bot)
    user = "U0LPEMNO%d" % EMAIL_REFUSALS.index(case)
    sf_email(sstack, "bob@example.com",
             slack_email(user) if email == "SAME" else email, verified)
    link = sstack.login_url(TEAM, user)
    page = Browser(sstack).login(link, "bob@example.com")
    assert page.status == 403, page.text
    assert "<h1>%s</h1>" % title in page.text, page.text
    assert "bob@example.com" not in page.text
    assert slack_email(user) not in page.text.lower()
    assert link_of(sstack, user) is None
    g = wait_revoked(sstack, last_grant(sstack)["grant"])
    assert g["user"] == "bob@example.com"
    assert g["revoked"] and g["revoked_by"] == "revoke", g
    row = row_of(sstack, link)
    assert row["pend_refresh_ct"] is None and row["verifier_ct"] is None


def test_slack_email_mode(sstack, emails):
    """slack,email: both proofs: signed in as A with equal emails links;
    signed in as A with another Salesforce user's email is refused and
    revoked; signed in as B stops before Salesforce."""
    mode(sstack, "slack,email", bot="full")
    user = "U0LPSEOK"
    sf_email(sstack, "alice@example.com", slack_email(user))
    b = SlackBrowser(sstack)
    page = b.salesforce_leg(b.slack_leg(sstack.login_url(TEAM, user), TEAM,
                                        user), "alice@example.com")
    assert page.status == 200 and "<h1>Linked</h1>" in page.text, page.text
    assert link_of(sstack, user)["sf_username"] == "alice@example.com"
    # The right Slack user, the wrong Salesforce user.
    user = "U0LPSENO"
    b = SlackBrowser(sstack)
    page = b.salesforce_leg(b.slack_leg(sstack.login_url(TEAM, user), TEAM,
                                        user), "bob@example.com")
    assert page.status == 403 and "Not your Salesforce user" in page.text
    assert link_of(sstack, user) is None
    g = wait_revoked(sstack, last_grant(sstack)["grant"])
    assert g["revoked_by"] == "revoke", g
    # Another Slack user.
    before = len(ledger(sstack))
    page = SlackBrowser(sstack).slack_leg(sstack.login_url(TEAM, "U0LPSEA"),
                                          TEAM, "U0LPSEB")
    assert page.status == 403, page.text
    assert len(ledger(sstack)) == before
    assert link_of(sstack, "U0LPSEA") is None


def test_code_email_mode(sstack, emails):
    """code,email: equal emails lead to the code page (nothing linked
    until confirmed); a different email is refused with no code shown and
    the grant revoked."""
    mode(sstack, "code,email", bot="full")
    user = "U0LPCEOK"
    sf_email(sstack, "alice@example.com", slack_email(user))
    page = Browser(sstack).login(sstack.login_url(TEAM, user),
                                 "alice@example.com")
    code = code_of(page)
    assert code and CODE_RE.match(code), page.text
    assert link_of(sstack, user) is None
    assert_linked(confirm(sstack, code, user), "alice@example.com")
    user = "U0LPCENO"
    page = Browser(sstack).login(sstack.login_url(TEAM, user),
                                 "bob@example.com")
    assert page.status == 403 and code_of(page) is None, page.text
    assert "Not your Salesforce user" in page.text
    g = wait_revoked(sstack, last_grant(sstack)["grant"])
    assert g["revoked_by"] == "revoke", g
    assert link_of(sstack, user) is None


# After test_code_email_mode, whose mode comes first; test_email_mode_
# reads_with_installation_bot_token's follows.
@pytest.mark.parametrize("proof,email", [("code,email", True),
                                         ("email", True), ("slack", False)])
def test_install_asks_email_scopes_in_email_mode(sstack, proof, email):
    """Add to Slack asks for users:read and users:read.email exactly when
    the email proof is on (it reads profiles' emails with the
    installation's bot token)."""
    mode(sstack, proof, bot="full" if email else None)
    r, cookie, url = sstack.install_page()
    assert r.status == 200 and url, r.text
    scopes = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))[
        "scope"].split(",")
    assert "commands" in scopes, scopes
    assert ("users:read.email" in scopes) == email, scopes
    assert ("users:read" in scopes) == email, scopes


def test_email_mode_reads_with_installation_bot_token(sstack, emails):
    """email without SLACK_BOT_TOKEN: the workspace's installation (made
    with users:read.email in this mode) reads the Slack email.  Runs last:
    once installed, only installed workspaces are served."""
    mode(sstack, "email")
    r = sstack.install(TEAM)
    assert r.status == 200, r.text
    (inst,) = [i for i in sstack.installations() if i["team_id"] == TEAM]
    assert "users:read.email" in inst["scopes"].split(","), inst
    user = "U0LPEMINST"
    sf_email(sstack, "alice@example.com", slack_email(user))
    before = sstack.slack_state()["users.info_ok"]
    page = Browser(sstack).login(sstack.login_url(TEAM, user),
                                 "alice@example.com")
    assert page.status == 200 and "<h1>Linked</h1>" in page.text, page.text
    assert sstack.slack_state()["users.info_ok"] == before + 1
    assert link_of(sstack, user)["sf_username"] == "alice@example.com"
