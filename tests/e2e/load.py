"""Helpers for the load tests (test_concurrency.py, test_crash.py and
scripts/soak): many Slack users and browsers at once against one Stack.

Every request here is judged by what its user would see.  A /contact
answer is "contacts" only when it lists exactly the contacts the search
must find, whether it came in the HTTP answer or, after the "Searching…"
acknowledgement, in the one post to the request's response_url.  Every
other outcome gets a name (see classify()), so a test can count them and
fail on the ones that must not happen.
"""

import os
import re
import threading
import time
import urllib.parse

import harness

TEAM = "T0E2E0001"
# The seed contacts whose Name contains "smith" (tests/standin/README.md).
SMITHS = {"Adam Smithers", "Carla Blacksmith", "Jane Smith", "John Smith",
          "Oliver Goldsmith", "Pat Smith"}
SF_USERS = ("alice@example.com", "bob@example.com", "mallory@example.com")
LOGIN_LINK = re.compile(r"/oauth/start\?state=[A-Za-z0-9_-]{20,}")
# What must never reach a user, in any answer or page.
BAD_WORDS = ("busy", "locked", "sqlite", "database", "went wrong",
             "internal", "errorcode", "traceback")


def contact_names(msg):
    """The names of the contacts listed in a search answer (sections that
    are not contacts are skipped: the caller classifies the answer)."""
    return harness.contact_names(msg, strict=False)


def figure(line):
    """Prints a measured figure, and appends it to $FL_FIGURES when set
    (scripts/soak collects them)."""
    print("figure: " + line)
    path = os.environ.get("FL_FIGURES")
    if path:
        with open(path, "a") as f:
            f.write(line + "\n")


def is_ack(msg):
    t = msg.get("text", "")
    return t.startswith(("Searching", "Asking Salesforce", "Logging you",
                         "Working on it"))


def message_text(msg):
    parts = [msg.get("text", "")]
    for b in msg.get("blocks", []):
        t = b.get("text")
        if isinstance(t, dict):
            parts.append(t.get("text", ""))
        for e in b.get("elements", []) or []:
            if isinstance(e, dict) and isinstance(e.get("text"), dict):
                parts.append(e["text"].get("text", ""))
    return "\n".join(parts)


def bad_words(text):
    low = text.lower()
    return [w for w in BAD_WORDS if w in low]


class Hooks:
    """The stand-in's record of response_url posts, fetched in bulk: one
    GET for every request still waiting instead of one each."""

    def __init__(self, stack):
        self.stack = stack
        self.lock = threading.Lock()
        self.seen = {}
        self.fetched = 0.0

    def get(self, path, timeout):
        end = time.monotonic() + timeout
        while True:
            with self.lock:
                if path not in self.seen and \
                        time.monotonic() - self.fetched > 0.2:
                    seen = {}
                    for p in self.stack.hooks():
                        seen.setdefault(p["path"], []).append(p)
                    self.seen = seen
                    self.fetched = time.monotonic()
                posts = self.seen.get(path)
            if posts or time.monotonic() >= end:
                return posts or []
            time.sleep(0.1)


def final_message(stack, r, url, hooks=None, wait=25):
    """The message the user finally sees for a /contact answered with r:
    (kind, msg) where kind is "direct", "deferred" or an error kind."""
    if r.status != 200:
        return "http_%d" % r.status, None
    try:
        msg = r.json()
    except ValueError:
        return "not_json", None
    if not is_ack(msg):
        return "direct", msg
    path = urllib.parse.urlparse(url).path
    posts = hooks.get(path, wait) if hooks else stack.wait_hook(url, wait)
    if len(posts) != 1 or posts[0]["status"] != 200:
        return "deferred_missing", msg
    return "deferred", posts[0]["body"]


def classify(kind, msg, want=SMITHS):
    """Names what a search answer amounts to: "contacts" (exactly want),
    "login" (a login link: the link is gone), "bad_words" (an internal
    or busy error reached the user), "other" (any other message) or the
    transport kind (http_502, deferred_missing, ...)."""
    if msg is None or kind not in ("direct", "deferred"):
        return kind
    text = message_text(msg)
    if bad_words(text):
        return "bad_words"
    if LOGIN_LINK.search(text):
        return "login"
    if contact_names(msg) == want:
        return "contacts"
    return "other"


def search(stack, user, text="smith", team=TEAM, timeout=30):
    """Posts a signed /contact; returns (response, response_url)."""
    url = stack.response_url(team)
    body = stack.form(text, team, user, response_url=url)
    return stack.post_contact(body, timeout=timeout), url


def send_searches(stack, user, n, team=TEAM):
    """Starts n signed searches at once; returns (threads, results,
    response URLs): results[i] is set to the HTTP response (or the
    exception) once search i is answered."""
    urls = [stack.response_url(team) for _ in range(n)]
    out = [None] * n

    def one(i):
        body = stack.form("smith", team, user, response_url=urls[i])
        try:
            out[i] = stack.post_contact(body, timeout=30)
        except Exception as e:      # noqa: BLE001 - judged by the test
            out[i] = e
    ts = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    return ts, out, urls


def link_flow(stack, user, sf_user, team=TEAM, timeout=30):
    """A browser's whole login: /contact login, /oauth/start (and Sign in
    with Slack in that mode), the consent page, /oauth/callback, and in
    the code mode /contact confirm.  Returns ("linked", page) when the
    link for sf_user was made, else (step name, detail)."""
    try:
        r = stack.slash("login", team, user)
        if r.status != 200:
            return "login_http_%d" % r.status, r.text[:200]
        m = re.search(r"(http://127\.0\.0\.1:\d+/oauth/start\?state="
                      r"[A-Za-z0-9_-]+)", r.json()["text"])
        if not m:
            return "login_no_link", r.text[:200]
        r, cookie = stack.start_login(m.group(1))
        if r.status != 302 or not cookie:
            return "start_http_%d" % r.status, r.text[:200]
        location = stack.consent(r.headers["Location"], sf_user)
        page = stack.callback(location, cookie, confirm=False)
        if page.status != 200:
            return "callback_http_%d" % page.status, page.text[:300]
        if sf_user not in page.text:
            return "callback_wrong_page", page.text[:300]
        if not stack.page_code(page):
            page.confirmed = None
            if "Linked" not in page.text:
                return "callback_wrong_page", page.text[:300]
            return "linked", page
        # The code proof: the link's own user types the code in Slack.
        page.confirmed = stack.confirm(page, team, user)
        if page.confirmed.status != 200:
            return "confirm_http_%d" % page.confirmed.status, \
                page.confirmed.text[:300]
        if not page.confirmed.json()["text"].startswith("Linked:"):
            return "confirm_refused", page.confirmed.text[:300]
        return "linked", page
    except OSError as e:
        return "connection", repr(e)


def whoami(stack, user, team=TEAM, hooks=None):
    """The Salesforce username /contact whoami reports, or None with the
    kind of answer it was."""
    url = stack.response_url(team)
    body = stack.form("whoami", team, user, response_url=url)
    r = stack.post_contact(body, timeout=30)
    kind, msg = final_message(stack, r, url, hooks)
    if msg is None or kind not in ("direct", "deferred"):
        return None, kind
    text = message_text(msg)
    for u in SF_USERS:
        if u in text:
            return u, kind
    return None, text[:300]
