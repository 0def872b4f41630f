"""Issue 6, point 5: a search made before linking is answered once the
user has linked, end to end through nginx.

An unlinked `/contact smith` answers with a login link and keeps the
search (sealed) with it; the whole browser flow (as harness.Stack runs it)
ends on the success page, which says the answer is waiting in Slack (in
the code mode of FORCELINK_LINK_PROOF: on the code page, which says the
answer is posted once confirmed, and the confirm's reply, which says it
follows), and the stand-in's response_url receiver gets exactly one post:
the contacts, prefaced as the answer to the earlier command.  Around that: a reused
callback posts nothing more, a response_url outside
SLACK_RESPONSE_URL_PREFIX is never called (also when the setting changes
between the command and the callback), a search past Slack's 30 minutes
is not posted and the page says so, `login` and `whoami` keep nothing, a
failing Salesforce gets a friendly message posted while the link stays,
the page does not wait for a slow search, two searches before one link
each keep their own, and neither the search nor the response_url is ever
on disk in plain text.
"""

import hashlib
import json
import re
import time
import urllib.parse

import pytest

from harness import contact_names

TEAM = "T0E2E0001"
SMITHS = {"Adam Smithers", "Carla Blacksmith", "Jane Smith", "John Smith",
          "Oliver Goldsmith", "Pat Smith"}
LOGIN_LINK = re.compile(r"(http://127\.0\.0\.1:\d+/oauth/start\?state="
                        r"([A-Za-z0-9_-]+))")
LQ, RQ = "\u201c", "\u201d"
KEPT_NOTE = ("Once you have linked, the answer to this search will appear "
             "here: there is no need to run it again.")
PLAIN_NEXT = "Go back to Slack and run <code>/contact</code> followed by"
TRANSIENT = ("Salesforce did not answer properly just now. Please run your "
             "search again in a minute.")
# SESSION_RESUME_MAX_AGE in common/session.h: 30 minutes less one.
MAX_AGE = 30 * 60 - 60


# -- helpers ------------------------------------------------------------------
def preface(query):
    return "Your search for %s%s%s from before you linked:" % (LQ, query, RQ)


def sent_sentence(query_html):
    return ("Go back to Slack: the answer to your search for %s%s%s will be "
            "waiting there, where you ran it." % (LQ, query_html, RQ))


def too_old_sentence(query_html):
    return ("Your search for %s%s%s is too old to be answered in Slack now "
            "(Slack takes answers only for 30 minutes after a command), so "
            "go back to Slack and run it again." % (LQ, query_html, RQ))


# The same on the code page (FORCELINK_LINK_PROOF=code), and in the reply
# to /contact confirm, which stores the link.
def code_sent_sentence(query_html):
    return ("Once you have confirmed, the answer to your search for %s%s%s "
            "will be posted there, where you ran it." % (LQ, query_html, RQ))


def code_too_old_sentence(query_html):
    return ("Your search for %s%s%s is too old to be answered in Slack now "
            "(Slack takes answers only for 30 minutes after a command), so "
            "run it again once you have confirmed." % (LQ, query_html, RQ))


CONFIRM_SENT = " The answer to your earlier search follows."
CONFIRM_TOO_OLD = (" Your earlier search is too old to be answered now "
                   "(Slack takes answers only for 30 minutes after a "
                   "command): please run it again.")


def assert_page_sent(page, query_html):
    """The page (and in the code mode the confirm's reply) says the
    answer to the search will be waiting in Slack."""
    if page.confirmed is None:
        assert sent_sentence(query_html) in page.text, page.text
        return
    assert code_sent_sentence(query_html) in page.text, page.text
    assert page.confirmed.json()["text"].endswith(CONFIRM_SENT), \
        page.confirmed.text


def assert_page_too_old(page, query_html):
    """The page (and the confirm's reply) says the search is too old to
    be answered, and promises no answer."""
    if page.confirmed is None:
        assert too_old_sentence(query_html) in page.text, page.text
    else:
        assert code_too_old_sentence(query_html) in page.text, page.text
        text = page.confirmed.json()["text"]
        assert text.endswith(CONFIRM_TOO_OLD), text
        assert "follows" not in text
    assert "will be waiting there" not in page.text
    assert "will be posted there" not in page.text


def assert_page_no_search(page):
    """Neither the page nor the confirm's reply mentions a search: the
    page's next step is the plain one (the linked page's) or the code."""
    assert "your search" not in page.text.lower(), page.text
    if page.confirmed is None:
        assert PLAIN_NEXT in page.text
    else:
        assert "earlier search" not in page.confirmed.json()["text"]


class Before:
    """A slash command from an unlinked user, up to its login link."""

    def __init__(self, stack, user, text, response_url=None):
        self.stack, self.user, self.text = stack, user, text
        self.response_url = response_url or stack.response_url(TEAM)
        body = stack.form(text, TEAM, user, response_url=self.response_url)
        self.answer = stack.post_contact(body)
        assert self.answer.status == 200, self.answer.text
        self.msg = self.answer.json()
        m = LOGIN_LINK.search(self.msg["text"])
        assert m, self.msg
        self.login_url, self.nonce = m.group(1), m.group(2)
        self.nonce_hash = hashlib.sha256(self.nonce.encode()).digest()
        self.path = urllib.parse.urlparse(self.response_url).path

    def row(self):
        """The login_state row of this link's nonce, as a dict."""
        rows = self.stack.sql("SELECT created_at, expires_at, used_at, "
                              "search_ct, search_url_ct, search_key_id "
                              "FROM login_state WHERE nonce_hash = ?",
                              (self.nonce_hash,), dicts=True)
        return rows[0] if rows else None

    def age_by(self, seconds):
        """Makes the command look seconds older (the row's created_at)."""
        n = self.stack.sql_exec("UPDATE login_state SET created_at = "
                                "created_at - ? WHERE nonce_hash = ?",
                                (seconds, self.nonce_hash))
        assert n == 1

    def browser(self, sf_user="alice@example.com"):
        """/oauth/start, the consent page: returns (location, cookie)."""
        r, cookie = self.stack.start_login(self.login_url)
        assert r.status == 302, (r.status, r.text)
        return self.stack.consent(r.headers["Location"], sf_user), cookie

    def link(self, sf_user="alice@example.com"):
        """The rest of the flow; returns (page, seconds it took, location,
        cookie)."""
        location, cookie = self.browser(sf_user)
        t0 = time.monotonic()
        page = self.stack.callback(location, cookie)
        return page, time.monotonic() - t0, location, cookie

    def posts(self):
        return [p for p in self.stack.hooks() if p["path"] == self.path]


def resume_lines(stack, start, event):
    """forcelink.log lines of event ("resume.post", ...) after offset
    start."""
    return [ln for ln in stack.log_text()[start:].splitlines()
            if "event=%s " % event in ln or ln.endswith("event=" + event)]


def wait_lines(stack, start, event, n=1, timeout=20):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        lines = resume_lines(stack, start, event)
        if len(lines) >= n:
            return lines
        time.sleep(0.05)
    return resume_lines(stack, start, event)


def linked_users(stack):
    return {l["user_id"] for l in stack.links() if l["team_id"] == TEAM}


def assert_linked_page(page, sf_user="alice@example.com"):
    """The callback's page (in the code mode: the code page, whose code
    the harness typed back) and the link it led to."""
    assert page.status == 200, (page.status, page.text[:1000])
    assert sf_user in page.text
    if page.confirmed is not None:
        assert "Linked:" in page.confirmed.json()["text"]
    else:
        assert "<h1>Linked</h1>" in page.text, page.text


def assert_search_cleared(before):
    row = before.row()
    assert row is not None and row["used_at"] is not None, row
    assert (row["search_ct"], row["search_url_ct"],
            row["search_key_id"]) == (None, None, None), row


# -- the resumed search -------------------------------------------------------
def test_search_before_linking_is_answered_once(stack):
    user = "U0RES0001"
    log0 = len(stack.log_text())
    b = Before(stack, user, "smith")
    # The answer: the login link, and that the search is kept.
    assert b.msg["response_type"] == "ephemeral"
    assert b.msg["text"].endswith("\n" + KEPT_NOTE), b.msg["text"]
    assert b.msg["blocks"][-1]["text"]["text"] == KEPT_NOTE
    row = b.row()
    assert row["search_ct"] is not None and row["search_url_ct"] is not None
    assert len(row["search_key_id"]) == 16
    # Sealed: nonce, ciphertext and tag around the plaintext's length.
    assert len(row["search_ct"]) == len("smith") + 40
    assert len(row["search_url_ct"]) == len(b.response_url) + 40

    page, _, location, cookie = b.link()
    assert_linked_page(page)
    assert_page_sent(page, "smith")
    assert PLAIN_NEXT not in page.text
    assert user in linked_users(stack)
    assert_search_cleared(b)

    assert len(wait_lines(stack, log0, "resume.post")) == 1
    posts = b.posts()
    assert len(posts) == 1, posts
    assert posts[0]["status"] == 200
    msg = posts[0]["body"]
    assert msg["response_type"] == "ephemeral"
    assert msg["text"].startswith(
        preface("smith") + "\n6 contacts matching " + LQ + "smith" + RQ +
        "\n\n"), msg["text"]
    assert msg["blocks"][0]["text"]["text"] == (
        preface("smith") + "\n6 contacts matching " + LQ + "smith" + RQ)
    assert contact_names(msg) == SMITHS
    assert len(msg["blocks"]) == 1 + 2 * 6     # head, (card, buttons) x 6
    (search_line,) = resume_lines(stack, log0, "resume.search")
    assert "outcome=ok found=6" in search_line

    # The same callback again: refused, and nothing more is posted.
    again = stack.callback(location, cookie)
    assert again.status == 400
    assert "Login already finished" in again.text
    time.sleep(0.5)
    assert len(b.posts()) == 1
    assert len(resume_lines(stack, log0, "resume.post")) == 1
    assert len(resume_lines(stack, log0, "resume.search")) == 1


def test_page_does_not_wait_for_the_search(stack):
    """The page is finished before the search runs: a query that takes 5 s
    delays the post, not the page."""
    b = Before(stack, "U0RES0002", "wilson")
    location, cookie = b.browser()
    stack.faults(query_delay=5)
    t0 = time.time()
    page = stack.callback(location, cookie)
    took = time.time() - t0
    assert_linked_page(page)
    assert_page_sent(page, "wilson")
    assert took < 4.0, "the page waited %.2f s for the search" % took
    posts = stack.wait_hook(b.response_url, timeout=20)
    assert len(posts) == 1, posts
    assert posts[0]["time"] - t0 >= 5.0
    print("figure: callback page %.3f s, answer posted %.3f s after the "
          "callback began (query delayed 5 s)" % (took, posts[0]["time"] - t0))
    msg = posts[0]["body"]
    assert msg["text"].startswith(preface("wilson") + "\n1 contact matching "
                                  + LQ + "wilson" + RQ), msg["text"]
    assert contact_names(msg) == {"Emma Wilson"}


@pytest.mark.parametrize("age, posted", [(MAX_AGE - 60, True),
                                         (30 * 60 + 60, False)])
def test_search_older_than_slack_allows_is_not_posted(stack, age, posted):
    user = "U0RESAGE%d" % int(posted)
    log0 = len(stack.log_text())
    b = Before(stack, user, "smith")
    b.age_by(age)
    page, _, _, _ = b.link()
    assert_linked_page(page)
    assert user in linked_users(stack)
    assert_search_cleared(b)
    if posted:
        assert_page_sent(page, "smith")
        posts = stack.wait_hook(b.response_url, timeout=20)
        assert len(posts) == 1 and posts[0]["status"] == 200, posts
        assert contact_names(posts[0]["body"]) == SMITHS
        return
    assert_page_too_old(page, "smith")
    lines = resume_lines(stack, log0, "resume")
    assert len(lines) == 1 and "outcome=too_old" in lines[0], lines
    time.sleep(0.5)
    assert b.posts() == []
    assert resume_lines(stack, log0, "resume.search") == []


@pytest.mark.parametrize("word", ["login", "whoami"])
def test_not_a_search_keeps_nothing(stack, word):
    user = "U0RESW" + word.upper()
    log0 = len(stack.log_text())
    b = Before(stack, user, word)
    assert KEPT_NOTE not in json.dumps(b.msg)
    row = b.row()
    assert row["search_ct"] is None and row["search_url_ct"] is None, row
    page, _, _, _ = b.link()
    assert_linked_page(page)
    assert_page_no_search(page)
    time.sleep(0.5)
    assert b.posts() == []
    assert resume_lines(stack, log0, "resume.search") == []
    assert resume_lines(stack, log0, "resume.post") == []


def test_response_url_outside_the_allow_list_is_never_called(stack):
    """A response_url that reaches the stand-in's receiver but not through
    SLACK_RESPONSE_URL_PREFIX (https://localhost:PORT/hooks/) is not kept,
    so the page promises nothing and nothing is posted."""
    port = urllib.parse.urlparse(stack.sf_url).port
    sneaky = "https://127.0.0.1:%d/hooks/commands/%s/sneaky%s" % (
        port, TEAM, hashlib.sha256(str(time.time()).encode()).hexdigest()[:8])
    assert not sneaky.startswith(stack.sf_url + "/hooks/")
    log0 = len(stack.log_text())
    b = Before(stack, "U0RESOUT1", "smith", response_url=sneaky)
    assert KEPT_NOTE not in json.dumps(b.msg)
    assert b.row()["search_ct"] is None
    page, _, _, _ = b.link()
    assert_linked_page(page)
    assert_page_no_search(page)
    time.sleep(0.5)
    assert b.posts() == []
    assert resume_lines(stack, log0, "resume.search") == []


def test_prefix_changed_before_the_callback_is_never_called(stack):
    """Kept under one SLACK_RESPONSE_URL_PREFIX, then the programs restart
    with another before the callback: the response_url is not called."""
    log0 = len(stack.log_text())
    b = Before(stack, "U0RESOUT2", "smith")
    assert b.row()["search_ct"] is not None
    location, cookie = b.browser()
    env = stack.env()
    env["SLACK_RESPONSE_URL_PREFIX"] = stack.sf_url + "/hooks/elsewhere/"
    stack.restart_programs(env)
    try:
        page = stack.callback(location, cookie)
        assert_linked_page(page)
        assert_page_no_search(page)
        assert_search_cleared(b)
        lines = resume_lines(stack, log0, "resume")
        assert len(lines) == 1, lines
        assert "outcome=dropped" in lines[0]
        assert "response_url outside" in lines[0]
        assert b.path not in lines[0]
        time.sleep(0.5)
        assert b.posts() == []
        assert resume_lines(stack, log0, "resume.search") == []
    finally:
        stack.restart_programs()


def test_salesforce_failure_posts_a_friendly_error(stack):
    user = "U0RESFAIL"
    log0 = len(stack.log_text())
    b = Before(stack, user, "smith")
    location, cookie = b.browser()
    stack.faults(query_status=500)
    page = stack.callback(location, cookie)
    assert_linked_page(page)
    assert_page_sent(page, "smith")
    posts = stack.wait_hook(b.response_url, timeout=20)
    assert len(posts) == 1 and posts[0]["status"] == 200, posts
    msg = posts[0]["body"]
    assert msg["response_type"] == "ephemeral"
    assert msg["text"] == preface("smith") + "\n" + TRANSIENT
    assert len(msg["blocks"]) == 1
    assert msg["blocks"][0]["text"]["text"] == msg["text"]
    (line,) = wait_lines(stack, log0, "resume.search")
    assert "outcome=transient" in line
    # The link stays, and works once Salesforce does.
    assert user in linked_users(stack)
    stack.faults(query_status=None)
    r = stack.slash("smith", TEAM, user)
    assert r.status == 200
    assert contact_names(r.json()) == SMITHS


def test_each_login_link_keeps_its_own_search(stack):
    """Two searches before linking: two login links, each with its search;
    a callback answers the one whose state it consumed."""
    user = "U0RESTWO"
    first = Before(stack, user, "smith")
    second = Before(stack, user, "wilson")
    page, _, _, _ = second.link()
    assert_page_sent(page, "wilson")
    posts = stack.wait_hook(second.response_url, timeout=20)
    assert len(posts) == 1
    assert contact_names(posts[0]["body"]) == {"Emma Wilson"}
    assert first.row()["search_ct"] is not None
    time.sleep(0.3)
    assert first.posts() == []
    # The first link still works (a relink) and answers its own search.
    page, _, _, _ = first.link("bob@example.com")
    assert_linked_page(page, "bob@example.com")
    assert_page_sent(page, "smith")
    posts = stack.wait_hook(first.response_url, timeout=20)
    assert len(posts) == 1
    assert contact_names(posts[0]["body"]) == SMITHS
    assert len(second.posts()) == 1


def test_search_and_response_url_never_on_disk_in_plain_text(stack):
    """Looked for while the search waits (in the database, its WAL and
    shared memory, and every log) and after it was answered.  Also checks
    the escaping of what the person typed on the page and in Slack."""
    marker = "Qx%sZ" % hashlib.sha256(
        str(time.time()).encode()).hexdigest()[:12]
    text = '<b>Tom & "Jerry" %s' % marker
    b = Before(stack, "U0RESDISK", text)
    token = b.path.rsplit("/", 1)[1]
    assert len(token) == 16
    needles = [marker.encode(), token.encode(), b.response_url.encode(),
               urllib.parse.quote(b.response_url, safe="").encode()]
    assert b.row()["search_ct"] is not None

    def disk(include_standin):
        out = {}
        for p in stack.dir.rglob("*"):
            if p.is_file() and (p.name.startswith("forcelink.db") or
                                p.suffix == ".log"):
                if include_standin or p.name != "standin.log":
                    out[p.name] = p.read_bytes()
        return out

    files = disk(True)
    assert {"forcelink.db", "forcelink.db-wal"} <= set(files), set(files)
    for name, data in files.items():
        for n in needles:
            assert n not in data, (name, n)

    page, _, _, _ = b.link()
    assert_linked_page(page)
    shown = "&lt;b&gt;Tom &amp; &quot;Jerry&quot; " + marker
    assert_page_sent(page, shown)
    assert text not in page.text
    posts = stack.wait_hook(b.response_url, timeout=20)
    assert len(posts) == 1
    msg = posts[0]["body"]
    slack = "&lt;b&gt;Tom &amp; \"Jerry\" " + marker
    assert msg["text"].startswith(preface(slack) + "\nNo contacts match "
                                  + LQ + slack + RQ + "."), msg["text"]
    assert "<b>" not in json.dumps(msg)

    # The stand-in's own request log names the path it was posted to.
    for name, data in disk(False).items():
        for n in needles:
            assert n not in data, (name, n)
