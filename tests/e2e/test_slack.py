"""SPEC §4, the Slack side of /contact, end to end through nginx.

Request verification (signature, timestamp window, replay), the request
body and form rules, the shape of the answers, Slack escaping both ways,
Slack's message limits, the 3-second rule with deferred answers posted to
response_url, the legacy verification-token mode and a missing required
setting at start-up.
"""

import http.client
import json
import os
import re
import sqlite3
import subprocess
import threading
import time
import urllib.parse

import pytest

from harness import BUILD, Stack, block_texts

TEAM = "T0E2E0001"
# Linked once for the module; verification tests use it so that a request
# that wrongly got through would reach Salesforce and move the counters.
LINKED = "U0SLACKLINKED"
VERIFY_EVENT = "event=slack.verify"


# -- helpers ------------------------------------------------------------------
def sf_counters(stack):
    """Every stand-in counter a /contact request could move."""
    st = stack.sf_state()
    return {
        "queries": st["queries"],
        "queries_ok": st["queries_ok"],
        "userinfo": st["userinfo"],
        "token_requests": dict(st["token_requests"]),
        "refreshes": st["refreshes"],
        "revocations": len(st["revocations"]),
        "hooks": len(st["hooks"]),
    }


def login_state_rows(stack):
    return stack.sql("SELECT count(*) FROM login_state")[0][0]


def secrets_of(stack):
    return [stack.signing_secret, stack.client_secret, stack.key]


def assert_json_answer(r):
    assert r.status == 200, (r.status, r.text)
    assert r.headers["Content-Type"].split(";")[0].strip() == \
        "application/json", r.headers["Content-Type"]
    body = r.json()
    assert body["response_type"] == "ephemeral", body
    assert isinstance(body["text"], str) and body["text"].strip(), body
    assert isinstance(body["blocks"], list), body
    return body


def assert_slack_limits(msg):
    assert len(msg["blocks"]) <= 50, len(msg["blocks"])
    for t in block_texts(msg["blocks"]):
        assert len(t) <= 3000, len(t)
    assert len(msg["text"]) <= 40000, len(msg["text"])


LINK_RE = re.compile(r"<(?:https?://|mailto:)[^<>|\s]*(?:\|[^<>]*)?>")


def mrkdwn_problems(s):
    """What is wrong with s as escaped Slack text: every "&" must start
    one of the three entities, and "<" / ">" may appear only as the
    brackets of a complete link we built."""
    probs = []
    m = re.search(r"&(?!amp;|lt;|gt;)", s)
    if m:
        probs.append("bare & at %d: %r" % (m.start(), s[m.start() - 20:
                                                       m.start() + 10]))
    rest = LINK_RE.sub("", s)
    for ch in "<>":
        i = rest.find(ch)
        if i != -1:
            probs.append("stray %s: %r" % (ch, rest[max(0, i - 20):i + 40]))
    return probs


def assert_wellformed(msg):
    for t in [msg["text"]] + block_texts(msg["blocks"]):
        assert not mrkdwn_problems(t), (mrkdwn_problems(t), t[-300:])


def expect_rejected(stack, body, ts, sig, outcome, headers=None):
    """Sends the request, expects 401 with a short plain-text body, no
    Salesforce call and exactly one verification log line naming
    outcome, without any secret in what was logged."""
    before = sf_counters(stack)
    log_before = len(stack.log_text())
    r = stack.post_contact(body, ts=ts, sig=sig, headers=headers)
    assert r.status == 401, (r.status, r.text)
    assert r.headers["Content-Type"].startswith("text/plain"), \
        r.headers["Content-Type"]
    assert 0 < len(r.body) <= 100, r.body
    assert b"{" not in r.body
    new_log = stack.log_text()[log_before:]
    lines = [ln for ln in new_log.splitlines() if VERIFY_EVENT in ln]
    assert len(lines) == 1, new_log
    # A value with spaces is quoted (log.h).
    want = '"%s"' % outcome if " " in outcome else outcome
    assert "outcome=" + want in lines[0], lines[0]
    for s in secrets_of(stack):
        assert s not in new_log
    if isinstance(sig, str) and sig:
        assert sig[3:] not in new_log       # not even the presented MAC
    # Give a wrongly accepted request time to reach Salesforce.
    time.sleep(0.2)
    assert sf_counters(stack) == before
    return r, lines[0]


def at_second_start():
    """Waits until just after a second boundary, so that a timestamp
    computed now is still 'now' when the server reads its clock."""
    frac = time.time() % 1
    if frac > 0.3:
        time.sleep(1.02 - frac)
    return int(time.time())


@pytest.fixture(scope="module")
def linked(stack):
    page = stack.link(TEAM, LINKED)
    assert page.status == 200, page.text
    assert [l for l in stack.links() if l["user_id"] == LINKED]
    return LINKED


# -- verification -------------------------------------------------------------
def test_signed_request_works(stack, linked):
    before = sf_counters(stack)
    r = stack.post_contact(stack.form("smith", TEAM, linked))
    body = assert_json_answer(r)
    assert "Jane Smith" in body["text"]
    after = sf_counters(stack)
    assert after["queries_ok"] - before["queries_ok"] == 1


def test_forged_signature_wrong_secret(stack, linked):
    body = stack.form("smith", TEAM, linked)
    ts, sig = stack.sign(body, secret="0" * 32)
    expect_rejected(stack, body, ts, sig, "bad signature")


def test_body_changed_after_signing(stack, linked):
    body = stack.form("smith", TEAM, linked)
    ts, sig = stack.sign(body)
    tampered = body.replace(b"text=smith", b"text=smitt")
    assert tampered != body and len(tampered) == len(body)
    expect_rejected(stack, tampered, ts, sig, "bad signature")


@pytest.mark.parametrize("skew", [-301, 301])
def test_stale_timestamp(stack, linked, skew):
    body = stack.form("smith", TEAM, linked)
    now = at_second_start()
    ts, sig = stack.sign(body, ts=now + skew)
    expect_rejected(stack, body, ts, sig, "stale timestamp")


def test_timestamp_inside_window_accepted(stack, linked):
    body = stack.form("help", TEAM, linked)
    now = at_second_start()
    ts, sig = stack.sign(body, ts=now - 295)
    assert_json_answer(stack.post_contact(body, ts=ts, sig=sig))


def test_missing_signature_header(stack, linked):
    body = stack.form("smith", TEAM, linked)
    ts, _ = stack.sign(body)
    expect_rejected(stack, body, ts, False, "missing signature headers")


def test_missing_timestamp_header(stack, linked):
    body = stack.form("smith", TEAM, linked)
    _, sig = stack.sign(body)
    expect_rejected(stack, body, None, sig, "missing signature headers")


def test_non_numeric_timestamp(stack, linked):
    body = stack.form("smith", TEAM, linked)
    ts, sig = stack.sign(body, ts="1e9x")
    expect_rejected(stack, body, ts, sig, "malformed timestamp")


def test_upper_case_hex_signature(stack, linked):
    body = stack.form("smith", TEAM, linked)
    ts, sig = stack.sign(body)
    upper = "v0=" + sig[3:].upper()
    assert upper != sig
    expect_rejected(stack, body, ts, upper, "bad signature")


def test_replayed_request(stack, linked):
    body = stack.form("smith", TEAM, linked)
    ts, sig = stack.sign(body)
    before = sf_counters(stack)
    first = stack.post_contact(body, ts=ts, sig=sig)
    assert "Jane Smith" in assert_json_answer(first)["text"]
    assert sf_counters(stack)["queries_ok"] - before["queries_ok"] == 1
    expect_rejected(stack, body, ts, sig, "replay")


# -- the request body and form ------------------------------------------------
def test_body_over_64k_is_413(stack, linked):
    base = stack.form("smith", TEAM, linked)
    body = base + b"&pad=" + b"x" * (64 * 1024 + 1 - len(base) - 5)
    assert len(body) == 64 * 1024 + 1
    before = sf_counters(stack)
    r = stack.post_contact(body)
    assert r.status == 413, (r.status, r.text)
    big = base + b"&pad=" + b"x" * (200 * 1024)
    assert stack.post_contact(big).status == 413
    assert sf_counters(stack) == before


def test_body_of_exactly_64k_is_accepted(stack):
    base = stack.form("help", TEAM, "U0BODY64K")
    body = base + b"&pad=" + b"x" * (64 * 1024 - len(base) - 5)
    assert len(body) == 64 * 1024
    assert_json_answer(stack.post_contact(body))


def test_chunked_body_without_content_length(stack):
    body = stack.form("help", TEAM, "U0CHUNKED")
    ts, sig = stack.sign(body)
    conn = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=15)
    try:
        conn.request("POST", "/contact",
                     body=iter([body[:50], body[50:]]),
                     headers={"Content-Type":
                              "application/x-www-form-urlencoded",
                              "Transfer-Encoding": "chunked",
                              "X-Slack-Request-Timestamp": ts,
                              "X-Slack-Signature": sig},
                     encode_chunked=True)
        resp = conn.getresponse()
        data = resp.read()
    finally:
        conn.close()
    assert resp.status < 500, (resp.status, data)
    assert resp.status == 200, (resp.status, data)
    assert json.loads(data)["response_type"] == "ephemeral"
    # The programs are still alive and answering.
    assert_json_answer(stack.slash("help", TEAM, "U0CHUNKED"))


def test_get_contact_refused(stack):
    r = stack.get("/contact")
    assert r.status == 403, (r.status, r.text)
    r = stack.request("PUT", "/contact", b"x=1")
    assert r.status == 403, (r.status, r.text)
    assert_json_answer(stack.slash("help", TEAM, "U0GETCONTACT"))


def _expect_400(stack, body):
    before_rows = login_state_rows(stack)
    before = sf_counters(stack)
    r = stack.post_contact(body)
    assert r.status == 400, (r.status, r.text)
    assert r.headers["Content-Type"].startswith("text/plain")
    assert 0 < len(r.body) <= 100
    assert login_state_rows(stack) == before_rows
    assert sf_counters(stack) == before
    return r


def test_missing_team_id(stack):
    _expect_400(stack, stack.form("login", None, "U0NOTEAM"))
    _expect_400(stack, stack.form("login", "", "U0NOTEAM"))


def test_missing_user_id(stack):
    _expect_400(stack, stack.form("login", TEAM, None))
    _expect_400(stack, stack.form("login", TEAM, ""))


def test_duplicate_user_id(stack):
    body = stack.form("login", TEAM, "U0DUPA") + b"&user_id=U0DUPB"
    _expect_400(stack, body)
    # Same value twice is still two fields.
    body = stack.form("login", TEAM, "U0DUPA") + b"&user_id=U0DUPA"
    _expect_400(stack, body)


def test_bad_percent_encoding(stack):
    body = stack.form("PLACEHOLDER", TEAM, "U0BADPCT")
    _expect_400(stack, body.replace(b"text=PLACEHOLDER", b"text=%ZZ"))
    _expect_400(stack, body.replace(b"text=PLACEHOLDER", b"text=ab%4"))


# -- text that cannot be searched: a message, not a 400 --------------------
TEXT_CHARS = 255
TOO_LONG = ("That search is too long: at most 255 characters, and no "
            "Salesforce contact's name is longer. Try a shorter part of "
            "the name.")
CONTROL = ("That search has a control character (a tab, a line break or "
           "an invisible one), which no contact's name has. Type the name "
           "on one line.")
BAD_UTF8 = ("That search is not valid UTF-8 text, so it cannot be "
            "searched. Type it again or paste it as plain text.")
CJK = "\u5c71"      # one character, three bytes of UTF-8

# id -> (the text field as sent, percent-encoded, and the message).
TEXT_ROWS = {
    "ascii_256": (b"a" * 256, TOO_LONG),
    "cjk_256": (urllib.parse.quote(CJK * 256).encode(), TOO_LONG),
    "cjk_2000": (urllib.parse.quote(CJK * 2000).encode(), TOO_LONG),
    "escaped_amp_256": (b"%26amp%3B" * 256, TOO_LONG),
    "past_the_byte_ceiling": (b"a" * 20000, TOO_LONG),
    "inner_tab": (b"smi%09th", CONTROL),
    "inner_newline": (b"smith%0Ajones", CONTROL),
    "escape_sequence": (b"%1B%5B31msmith", CONTROL),
    "del": (b"smith%7F", CONTROL),
    "c1_control": (b"smi%C2%85th", CONTROL),
    "invalid_utf8_ff": (b"%FF", BAD_UTF8),
    "overlong_slash": (b"%C0%AF", BAD_UTF8),
    "truncated_sequence": (b"%C3%28", BAD_UTF8),
    "surrogate": (b"%ED%A0%80", BAD_UTF8),
}


@pytest.mark.parametrize("row", list(TEXT_ROWS))
def test_unsearchable_text_gets_a_message(stack, linked, row):
    """Answered 200 with an ephemeral message saying what is wrong;
    nothing reaches Salesforce and no login state is made."""
    text, message = TEXT_ROWS[row]
    body = stack.form("PLACEHOLDER", TEAM, linked).replace(
        b"text=PLACEHOLDER", b"text=" + text)
    before_rows = login_state_rows(stack)
    before = sf_counters(stack)
    log_before = len(stack.log_text())
    r = stack.post_contact(body)
    msg = assert_json_answer(r)
    assert msg["text"] == message, msg
    assert_slack_limits(msg)
    assert sf_counters(stack) == before
    assert login_state_rows(stack) == before_rows
    assert "event=request.text" in stack.log_text()[log_before:]


@pytest.mark.parametrize("text", ["a" * TEXT_CHARS, CJK * TEXT_CHARS,
                                  "\U0001F600" * TEXT_CHARS,
                                  "&" * TEXT_CHARS],
                         ids=["ascii", "cjk", "emoji", "ampersands"])
def test_longest_text_is_searched(stack, linked, text):
    """255 characters of any width are searched (one query at
    Salesforce), and the answer says no contact matches."""
    before = sf_counters(stack)["queries"]
    r = stack.post_contact(stack.form(text, TEAM, linked))
    msg = assert_json_answer(r)
    assert msg["text"] not in (TOO_LONG, CONTROL, BAD_UTF8), msg
    assert "match" in msg["text"].lower(), msg["text"][:200]
    assert sf_counters(stack)["queries"] == before + 1


def test_ssl_check(stack):
    before_rows = login_state_rows(stack)
    before = sf_counters(stack)
    # Valid-looking identity and "login": acting on it would store a nonce.
    body = stack.form("login", TEAM, "U0SSLCHECK", ssl_check="1")
    r = stack.post_contact(body)
    assert r.status == 200, (r.status, r.text)
    assert r.body == b""
    # Garbage in every other field.
    garbage = (b"ssl_check=1&token=garbage&team_id=not+an+id&user_id="
               b"&text=login&response_url=ftp%3A%2F%2Fx&whatever=%E2%9C%93")
    r = stack.post_contact(garbage)
    assert r.status == 200, (r.status, r.text)
    assert r.body == b""
    assert login_state_rows(stack) == before_rows
    assert sf_counters(stack) == before
    # Unsigned, it is refused like anything else.
    r = stack.post_contact(garbage, ts=str(int(time.time())), sig=False)
    assert r.status == 401


# -- answers --------------------------------------------------------------------
def test_help_for_empty_text_and_help(stack):
    empty = assert_json_answer(stack.slash("", TEAM, "U0HELP"))
    spaces = assert_json_answer(stack.slash("   ", TEAM, "U0HELP"))
    helped = assert_json_answer(stack.slash("help", TEAM, "U0HELP"))
    upper = assert_json_answer(stack.slash("HeLP", TEAM, "U0HELP"))
    for b in (empty, spaces, helped, upper):
        assert "login" in b["text"] and "logout" in b["text"]
        assert "whoami" in b["text"]
        assert b["blocks"], b
    assert empty["text"] == helped["text"] == upper["text"] == spaces["text"]


def test_login_gives_link_case_insensitive(stack):
    for word in ("login", "LOGIN", "LogIn"):
        before_rows = login_state_rows(stack)
        body = assert_json_answer(stack.slash(word, TEAM, "U0LOGINCASE"))
        assert "/oauth/start?state=" in body["text"], body
        assert stack.url + "/oauth/start?state=" in json.dumps(
            body["blocks"]), body
        assert login_state_rows(stack) == before_rows + 1


def test_subcommands_case_insensitive_for_linked_user(stack):
    page = stack.link(TEAM, "U0WHOCASE", "bob@example.com")
    assert page.status == 200, page.text
    before = sf_counters(stack)
    body = assert_json_answer(stack.slash("WhoAmI", TEAM, "U0WHOCASE"))
    assert "bob@example.com" in body["text"]
    assert sf_counters(stack)["queries"] == before["queries"]  # no search
    body = assert_json_answer(stack.slash("LOGOUT", TEAM, "U0WHOCASE"))
    assert not [l for l in stack.links() if l["user_id"] == "U0WHOCASE"]


# -- escaping -------------------------------------------------------------------
@pytest.fixture(scope="module")
def esc_user(stack):
    user = "U0SLACKESC"
    page = stack.link(TEAM, user)
    assert page.status == 200, page.text
    return user


def test_search_apostrophe(stack, esc_user):
    before = sf_counters(stack)
    body = assert_json_answer(stack.slash("o'brien", TEAM, esc_user))
    assert "Se\u00e1n O'Brien" in body["text"]
    after = sf_counters(stack)
    assert after["queries_ok"] - before["queries_ok"] == 1
    assert after["queries"] - before["queries"] == 1


def test_search_ampersand_escapes_output(stack, esc_user):
    # form() sends "&" as Slack does: "&amp;".
    assert b"text=%26amp%3B" in stack.form("&", TEAM, esc_user)
    body = assert_json_answer(stack.slash("&", TEAM, esc_user))
    raw = json.dumps(body)
    assert "Eve &lt;!channel&gt; &amp; Mallory" in body["text"], body["text"]
    assert "&lt;b&gt;bold&lt;/b&gt;" in body["text"]
    assert any("Eve &lt;!channel&gt; &amp; Mallory" in t
               for t in block_texts(body["blocks"]))
    assert "<!channel>" not in raw
    assert "<b>" not in raw
    # Unescaped once, escaped once: no double escaping either.
    assert "&amp;amp;" not in raw and "&amp;lt;" not in raw


def test_search_mention_text_is_unescaped(stack, esc_user):
    # Typed "<!channel>", sent by Slack as "&lt;!channel&gt;".
    body = assert_json_answer(stack.slash("<!channel>", TEAM, esc_user))
    assert "Eve &lt;!channel&gt; &amp; Mallory" in body["text"]
    assert "<!channel>" not in json.dumps(body)


def test_search_att_is_unescaped_before_searching(stack, esc_user):
    before = sf_counters(stack)
    body = assert_json_answer(stack.slash("AT&T", TEAM, esc_user))
    after = sf_counters(stack)
    # One well-formed query: no MALFORMED_QUERY from the stand-in.
    assert after["queries"] - before["queries"] == 1
    assert after["queries_ok"] - before["queries_ok"] == 1
    assert "No contacts match" in body["text"], body["text"]
    # The query echoed back is AT&T escaped once, not "AT&amp;T" escaped.
    assert "AT&amp;T" in body["text"]
    assert "AT&amp;amp;T" not in body["text"]


# -- Slack's limits -------------------------------------------------------------
def test_limits_on_real_searches(stack, esc_user):
    for q in ("son", "smith", "a", "e", "longtitle", "maximilian", "&",
              "<!channel>", "login", "help", ""):
        body = assert_json_answer(stack.slash(q, TEAM, esc_user))
        assert_slack_limits(body)
        assert_wellformed(body)


def _record(i, name, title, account, email, phone):
    cid = "003%015d" % i
    return {
        "attributes": {"type": "Contact",
                       "url": "/services/data/v62.0/sobjects/Contact/" + cid},
        "Id": cid, "Name": name, "Title": title, "Email": email,
        "Phone": phone, "MobilePhone": phone,
        "Account": {"attributes": {"type": "Account", "url":
                                   "/services/data/v62.0/sobjects/Account/"
                                   "001%015d" % i},
                    "Id": "001%015d" % i, "Name": account},
    }


def test_limits_with_hostile_huge_records(stack, esc_user):
    # Salesforce fields at their longest, full of characters that grow
    # when escaped, and more records than any page.
    records = [_record(i, "&<" * 250, "<!channel>" * 50, "&" * 500,
                       "a&b@example.com" + "&" * 480, "&" * 500)
               for i in range(200)]
    stack.faults(query_body=json.dumps({"totalSize": 5000, "done": False,
                                        "records": records}))
    body = assert_json_answer(stack.slash("hostile", TEAM, esc_user))
    assert_slack_limits(body)
    assert "<!channel>" not in json.dumps(body)
    assert len(body["blocks"]) >= 2       # the records were rendered


def test_clipped_section_stays_wellformed(stack, esc_user):
    # Name, title and account at Salesforce's lengths, all "&": escaped,
    # one contact is just over 3000 characters and gets cut inside the
    # account link.
    records = [_record(i, "&" * 500, "&" * 500, "&" * 500,
                       "x@example.com", "1") for i in range(3)]
    stack.faults(query_body=json.dumps({"totalSize": 3, "done": True,
                                        "records": records}))
    body = assert_json_answer(stack.slash("clipped", TEAM, esc_user))
    assert_slack_limits(body)
    assert len(body["blocks"]) == 1 + 2 * 3     # head, (card, buttons) x 3
    assert_wellformed(body)


# -- the 3-second rule -----------------------------------------------------------
# Slack's 3 seconds are checked where forcelink keeps them, in each
# worker's slack.ack line (harness.late_acks); the client's own times add
# what the machine adds around the worker (nginx, this process) and are
# only reported, as in test_concurrency.
def _timed_slash(stack, text, user, response_url, out, key):
    t0 = time.monotonic()
    r = stack.post_contact(stack.form(text, TEAM, user,
                                      response_url=response_url),
                           timeout=30)
    out[key] = (time.monotonic() - t0, r)


def _assert_ack(elapsed, r):
    body = assert_json_answer(r)
    assert "Searching" in body["text"], body["text"]
    assert "Jane Smith" not in body["text"]
    return body


def _assert_acks_in_time(stack, mark, out, user=None):
    """Every one of the answers in out (_timed_slash's) is a "Searching"
    acknowledgement, and each left its worker in time."""
    for i in out:
        _assert_ack(*out[i])
    acks = stack.assert_acked_in_time(mark, len(out), user)
    assert all(a["deferred"] for a in acks), acks


def _assert_hook_result(posts):
    assert len(posts) == 1, posts
    p = posts[0]
    assert p["status"] == 200, p
    msg = p["body"]
    assert isinstance(msg, dict), p
    assert msg["response_type"] == "ephemeral", msg
    assert "Jane Smith" in msg["text"], msg["text"]
    assert isinstance(msg["blocks"], list) and msg["blocks"]
    assert_slack_limits(msg)


def test_slow_salesforce_deferred_answer(stack):
    user = "U0SLOWONE"
    assert stack.link(TEAM, user).status == 200
    stack.faults(delay=5)
    url = stack.response_url(TEAM)
    out = {}
    mark = stack.log_mark()
    t0 = time.monotonic()
    _timed_slash(stack, "smith", user, url, out, 0)
    _assert_acks_in_time(stack, mark, out, user)
    posts = stack.wait_hook(url, timeout=12)
    assert time.monotonic() - t0 < 10.5
    _assert_hook_result(posts)


def test_store_write_lock_held_past_the_deadline(stack):
    """Another process holds the SQLite write lock for 4 s: a /contact
    login waits for it and is acknowledged in time meanwhile.  Where it
    waited decides what follows: for its one-time nonce, the answer goes
    on ("Working on it…", then the login link at response_url once the
    lock is released); for the replay check (which asks the database in
    the first minutes of a replay cache), nothing is known of the request
    yet, so it gets an apology and nothing else happens."""
    if stack.pg is not None:
        pytest.skip("SQLite's write lock")
    user = "U0LOCKWAIT"
    url = stack.response_url(TEAM)
    out = {}
    rows = login_state_rows(stack)
    mark = stack.log_mark()
    db = sqlite3.connect(str(stack.db_path), timeout=10,
                         isolation_level=None)
    try:
        db.execute("BEGIN IMMEDIATE")
        t = threading.Thread(target=_timed_slash,
                             args=(stack, "login", user, url, out, 0))
        t.start()
        time.sleep(4)
    finally:
        db.execute("ROLLBACK")
        db.close()
    t.join(30)
    body = assert_json_answer(out[0][1])
    acks = stack.assert_acked_in_time(mark, 1, user)
    assert acks[0]["deferred"], acks
    if "Working on it" in body["text"]:
        posts = stack.wait_hook(url, timeout=10)
        assert len(posts) == 1, posts
        assert "/oauth/start?state=" in posts[0]["body"]["text"], posts
        assert login_state_rows(stack) == rows + 1
    else:
        assert body["text"].startswith("Something went wrong on our "
                                       "side"), body
        time.sleep(1)
        assert stack.wait_hook(url, timeout=0.5) == []
        assert login_state_rows(stack) == rows


def _link_many(stack, users, sf_users):
    """Links users[i] as sf_users[i] concurrently."""
    errs = []

    def do_link(u, sf_user):
        try:
            r = stack.link(TEAM, u, sf_user)
            assert r.status == 200, r.text
        except Exception as e:      # noqa: BLE001 - reported below
            errs.append(e)
    ts = [threading.Thread(target=do_link, args=a)
          for a in zip(users, sf_users)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errs, errs
    assert set(users) <= {l["user_id"] for l in stack.links()}


def _concurrent_slow_searches(stack, users):
    """Sends a slow search for every user at once; returns the response
    URLs, {index: (seconds until answered, Response)} and the log mark
    from before they were sent."""
    urls = [stack.response_url(TEAM) for _ in users]
    out = {}
    mark = stack.log_mark()
    ts = [threading.Thread(target=_timed_slash,
                           args=(stack, "smith", u, url, out, i))
          for i, (u, url) in enumerate(zip(users, urls))]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert len(out) == len(users)
    return urls, out, mark


SF_USERS = ["alice@example.com", "bob@example.com", "mallory@example.com"]


def test_eight_concurrent_slow_searches(stack):
    users = ["U0SLOWEIGHT%02d" % i for i in range(8)]
    _link_many(stack, users, [SF_USERS[i % 3] for i in range(8)])
    stack.faults(delay=5)
    urls, out, mark = _concurrent_slow_searches(stack, users)
    for url in urls:
        _assert_hook_result(stack.wait_hook(url, timeout=15))
    _assert_acks_in_time(stack, mark, out)


def test_sixteen_concurrent_slow_searches(stack):
    # The stand-in has three Salesforce users and, like Salesforce, keeps
    # at most 5 grants per user and app: 15 live links at most.  So the
    # 16th Slack user links first, as alice, and its grant is silently
    # dropped by the 5 alice links that follow; its slow search ends in
    # the "revoked or expired" login message, the other 15 in contacts.
    users = ["U0SLOWMANY%02d" % i for i in range(16)]
    dropped_user = users[15]
    assert stack.link(TEAM, dropped_user, SF_USERS[0]).status == 200
    _link_many(stack, users[:15], [SF_USERS[i // 5] for i in range(15)])
    assert stack.sf_state()["live_grants"] == {u: 5 for u in SF_USERS}

    stack.faults(delay=5)
    urls, out, mark = _concurrent_slow_searches(stack, users)
    # Every result is delivered (waited for first, so that nothing from
    # this test is still running when the next one starts).
    for url in urls[:15]:
        _assert_hook_result(stack.wait_hook(url, timeout=15))
    posts = stack.wait_hook(urls[15], timeout=15)
    assert len(posts) == 1 and posts[0]["status"] == 200, posts
    msg = posts[0]["body"]
    assert msg["response_type"] == "ephemeral"
    assert "/oauth/start?state=" in msg["text"], msg["text"]
    assert "revoked or expired" in msg["text"], msg["text"]
    assert dropped_user not in {l["user_id"] for l in stack.links()}
    # Slack's 3 seconds, for every one of the 16.
    _assert_acks_in_time(stack, mark, out)


def test_response_url_outside_prefix_never_called(stack):
    user = "U0EVILURL"
    assert stack.link(TEAM, user).status == 200
    port = urllib.parse.urlparse(stack.sf_url).port
    evil = "https://evil.example.com/hooks/x"
    # Reaches the stand-in (its certificate covers 127.0.0.1), but does
    # not start with SLACK_RESPONSE_URL_PREFIX (https://localhost:PORT/...).
    sneaky_path = "/hooks/commands/%s/sneaky%d" % (TEAM, os.getpid())
    sneaky = "https://127.0.0.1:%d%s" % (port, sneaky_path)
    assert not sneaky.startswith(stack.sf_url + "/hooks/")
    log_before = len(stack.log_text())
    hooks_before = len(stack.hooks())
    stack.faults(delay=5)
    out = {}
    ts = [threading.Thread(target=_timed_slash,
                           args=(stack, "smith", user, u, out, i))
          for i, u in enumerate((evil, sneaky))]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    # The user still gets the ack.
    _assert_acks_in_time(stack, log_before, out, user)
    # Wait until both results were produced and dropped.
    end = time.time() + 12
    dropped = []
    while time.time() < end:
        dropped = [ln for ln in stack.log_text()[log_before:].splitlines()
                   if "event=slack.deferred" in ln]
        if len(dropped) >= 2:
            break
        time.sleep(0.1)
    assert len(dropped) == 2, dropped
    assert all("outcome=dropped" in ln for ln in dropped), dropped
    paths = [p["path"] for p in stack.hooks()]
    assert sneaky_path not in paths
    assert "/hooks/x" not in paths
    assert len(paths) == hooks_before



def test_response_url_normalised_elsewhere_never_called(stack):
    """Each response_url starts with SLACK_RESPONSE_URL_PREFIX as written,
    but libcurl or the receiver would read it as another path (dot
    segments, their escapes, a fragment): none gets a post, although
    today's libcurl would send the first two to /hooks/ paths."""
    user = "U0DOTURL"
    assert stack.link(TEAM, user).status == 200
    tag = "dot%d" % os.getpid()
    base = stack.sf_url + "/hooks/commands/%s/" % TEAM
    urls = [base + "../../../_control/x/../../hooks/" + tag + "a",
            base + "./" + tag + "b",
            base + "x/%2e%2e/" + tag + "c",
            base + "x/%2E%2e%2F" + tag + "d",
            base + tag + "e#frag"]
    log_before = len(stack.log_text())
    hooks_before = len(stack.hooks())
    stack.faults(delay=5)
    out = {}
    ts = [threading.Thread(target=_timed_slash,
                           args=(stack, "smith", user, u, out, i))
          for i, u in enumerate(urls)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    _assert_acks_in_time(stack, log_before, out, user)
    end = time.time() + 15
    dropped = []
    while time.time() < end:
        dropped = [ln for ln in stack.log_text()[log_before:].splitlines()
                   if "event=slack.deferred" in ln]
        if len(dropped) >= len(urls):
            break
        time.sleep(0.1)
    assert len(dropped) == len(urls), dropped
    assert all("outcome=dropped" in ln for ln in dropped), dropped
    hooks = stack.hooks()
    assert len(hooks) == hooks_before, hooks[hooks_before:]
    assert not [h for h in hooks if tag in h["path"]]

# -- legacy verification token --------------------------------------------------
def test_legacy_verification_token(tmp_path):
    legacy = Stack(tmp_path / "legacy",
                   env_overrides={"SLACK_SIGNING_SECRET": None,
                                  "SLACK_VERIFICATION_TOKEN": "legacy-tok"})
    try:
        legacy.start()
        good = legacy.form("help", TEAM, "U0LEGACY", token="legacy-tok")
        r = legacy.post_contact(good, ts=None, sig=False)
        body = assert_json_answer(r)
        assert "login" in body["text"]
        r = legacy.post_contact(legacy.form("login", TEAM, "U0LEGACY",
                                            token="legacy-tok"),
                                ts=None, sig=False)
        assert "/oauth/start?state=" in assert_json_answer(r)["text"]
        log_before = len(legacy.log_text())
        rows = login_state_rows(legacy)
        for tok in ("wrong-tok", "legacy-to", "legacy-tokk", "", None):
            bad = legacy.form("login", TEAM, "U0LEGACY", token=tok)
            r = legacy.post_contact(bad, ts=None, sig=False)
            assert r.status == 401, (tok, r.status, r.text)
            assert r.headers["Content-Type"].startswith("text/plain")
        assert login_state_rows(legacy) == rows
        new_log = legacy.log_text()[log_before:]
        assert new_log.count(VERIFY_EVENT) == 5, new_log
        assert "legacy-tok" not in new_log and "wrong-tok" not in new_log
    finally:
        legacy.stop()


# -- a missing required setting -------------------------------------------------
def test_missing_key_stops_program_at_start(stack, tmp_path):
    env = stack.env()
    env.pop("FORCELINK_KEY", None)
    env.pop("FORCELINK_KEY_FILE", None)
    env["FORCELINK_DB"] = str(tmp_path / "never.db")
    sock = tmp_path / "contact.sock"
    try:
        p = subprocess.run([str(BUILD / "cgi" / "contact"), "-s", str(sock),
                            "-w", "1", "-t", "1"],
                           env=env, cwd=str(tmp_path), capture_output=True,
                           timeout=10)
    except subprocess.TimeoutExpired:
        pytest.fail("contact kept running without FORCELINK_KEY")
    err = p.stderr.decode("utf-8", "replace")
    assert p.returncode != 0, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert "FORCELINK_KEY" in lines[0], err
    assert not sock.exists()
    assert not (tmp_path / "never.db").exists()
    assert p.stdout == b""
