"""Issue 15, items 2 and 3 for searches: /account NAME, /pipeline [N] and
/contact with result cards ("Open in Salesforce", "Share in channel",
"More"), end to end through nginx, the contact and actions programs and
the stand-in's real SOQL parser.

  - every command with the hostile texts, checked in the SOQL the
    stand-in received (the text a literal substring, escaped as SPEC §7
    says; /pipeline's text never in SOQL: a number or a usage message);
  - /pipeline lists the linked user's own open opportunities (OwnerId),
    soonest close first, N clamped to 1..10, amounts in the record's
    currency in a multi-currency org and without a code in a
    single-currency one (learnt from Salesforce's INVALID_FIELD);
  - the cards: one per record, Open (a link button), Share (a key and an
    index, nothing else), More when there are more; one action row per
    answered page, none when nothing matched;
  - Share pressed by the searcher posts the card in the channel naming
    them; pressed by anyone else it is refused and nothing is posted;
  - More pages without repeats or gaps; an expired key says so;
  - an unlinked user's /account is answered as /account once linked.
"""

import re
import time
import urllib.parse

import pytest

from harness import Stack

TEAM = "T0E2E0001"
ALICE = "alice@example.com"
ALICE_ID15 = "0055g00000Xa001"
KEY_RE = r"[A-Za-z0-9_-]{43}"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    s = Stack(tmp_path_factory.mktemp("stack")).start()
    yield s
    s.stop()


def link_user(stack, user, sf_user=ALICE):
    page = stack.link(team=TEAM, user=user, sf_user=sf_user)
    assert page.status == 200, page.text


def soqls(stack):
    """Every SOQL the stand-in received, oldest first."""
    return [r["soql"] for r in stack.sf("GET", "/_control/requests").json()
            if r.get("soql")]


def run(stack, command, text, user, wait=15):
    """Sends COMMAND TEXT as user; returns (answer, SOQL received)."""
    before = len(soqls(stack))
    url = stack.response_url(TEAM)
    r = stack.post_contact(stack.form(text, TEAM, user, command=command,
                                      response_url=url))
    assert r.status == 200, r.text
    msg = r.json()
    if msg["text"].startswith(("Searching", "Working")):
        posts = stack.wait_hook(url, timeout=wait)
        assert len(posts) == 1, posts
        msg = posts[0]["body"]
    return msg, soqls(stack)[before:]


def cards(msg):
    """[(section text, [buttons])] of each card, and the More button (or
    None)."""
    out, more = [], None
    for b in msg["blocks"][1:]:
        if b["type"] == "section":
            out.append((b["text"]["text"], []))
        elif b["type"] == "actions":
            els = b["elements"]
            if len(els) == 1 and els[0]["action_id"] == "more":
                more = els[0]
            else:
                out[-1][1].extend(els)
    return out, more


def share_value(msg, i):
    (_, buttons), = [cards(msg)[0][i]]
    (share,) = [b for b in buttons if b["action_id"] == "share"]
    return share["value"]


def action_rows(stack):
    return stack.sql("SELECT count(*) FROM slack_action")[0][0]


def pressed(stack, action_id, value, user):
    """Presses a button; returns the posts to the press's response_url."""
    r, p = stack.click(action_id, value=value, team=TEAM, user=user)
    assert r.status == 200 and r.body == b"", (r.status, r.text)
    return stack.wait_hook(p["response_url"]), p


# -- the hostile texts, as each command's SOQL has them -------------------

HOSTILE = [
    ("O'Brien", r"O\'Brien"),
    ("\\", "\\\\"),
    ("%", r"\%"),
    ("_", r"\_"),
    ("{x}", "{x}"),
    ("1; DROP", "1; DROP"),
    ("99999", "99999"),
]


@pytest.mark.parametrize("command, obj, select", [
    ("/contact", "Contact", "SELECT Id, Name, Title, Email, Phone, "
     "MobilePhone, Account.Id, Account.Name FROM Contact"),
    ("/account", "Account", "SELECT Id, Name, Industry, BillingCity, "
     "Phone, Website FROM Account"),
])
def test_name_searches_hostile(stack, command, obj, select):
    user = "U0CMD" + obj.upper()[:4]
    link_user(stack, user)
    for text, literal in HOSTILE:
        msg, got = run(stack, command, text, user)
        assert got == ["%s WHERE Name LIKE '%%%s%%' ORDER BY Name, Id "
                       "LIMIT 11" % (select, literal)], (text, got)
        assert "<!" not in msg["text"]
    # The accounts whose names hold what must be escaped are found as
    # literals, nothing more.
    if command == "/account":
        for text, name in [("O'Brien", "O'Brien & Partners"),
                           ("%", "100% Organic Ltd"),
                           ("_", "Under_score Holdings"),
                           ("\\", "Back\\slash Systems"),
                           ("{x}", "{x} Labs"),
                           ("1; DROP", "1; DROP TABLE Account")]:
            msg, _ = run(stack, command, text, user)
            (card,), _ = cards(msg)
            name_esc = (name.replace("&", "&amp;").replace("<", "&lt;")
                        .replace(">", "&gt;"))
            assert re.match(r"\*<https://[^|>]+/001[A-Za-z0-9]{15}\|%s>\*"
                            % re.escape(name_esc), card[0]), card
        msg, _ = run(stack, command, "<!channel>", user)
        assert "&lt;!channel&gt; &amp; &lt;b&gt;Co&lt;/b&gt;" in msg["text"]
        assert "<!channel>" not in msg["text"]
    # Empty: the help of the command itself, no query.
    msg, got = run(stack, command, "", user)
    assert got == []
    assert "`%s %s`" % (command, "acme" if obj == "Account" else "smith") \
        in msg["text"], msg["text"]
    assert "`%s logout`" % command in msg["text"]


@pytest.mark.parametrize("text, limit", [
    ("", 10), ("3", 3), ("99999", 10), ("0", 1), ("-5", 1), ("007", 7),
    ("1; DROP", None), ("O'Brien", None), ("%", None), ("_", None),
    ("{x}", None), ("\\", None)])
def test_pipeline_counts(stack, text, limit):
    user = "U0CMDPIPE"
    link_user(stack, user)
    msg, got = run(stack, "/pipeline", text, user)
    if limit is None:
        assert got == []
        assert msg["text"].startswith("Usage: `/pipeline [N]`"), msg["text"]
        return
    # The owner is the linked user, never anything the user typed.
    assert len(got) == 1, got
    assert re.fullmatch(
        r"SELECT Id, Name, StageName, CloseDate, Amount, CurrencyIsoCode, "
        r"Account\.Id, Account\.Name FROM Opportunity WHERE OwnerId = "
        r"'%s[A-Za-z0-9]{3}' AND IsClosed = false ORDER BY CloseDate, "
        r"Amount DESC NULLS LAST, Id LIMIT %d" % (ALICE_ID15, limit + 1),
        got[0]), got[0]
    shown, more = cards(msg)
    assert len(shown) == limit
    assert (more is not None) == (limit < 12)


def test_pipeline_owner_and_order(stack):
    """Bob's pipeline is Bob's: two open opportunities, soonest first."""
    user = "U0CMDBOB"
    link_user(stack, user, "bob@example.com")
    msg, got = run(stack, "/pipeline", "", user)
    assert "OwnerId = '0055g00000Xa002" in got[0]
    shown, more = cards(msg)
    assert more is None
    assert [re.match(r"\*<[^|]+\|([^>]*)>\*", t).group(1)
            for t, _ in shown] == ["Globex grid", "Wayne vault"]
    assert msg["blocks"][0]["text"]["text"] == \
        "Your 2 open opportunities, soonest close date first"
    assert "Stage: Negotiation/Review\nClose date: 2027-01-20\n" \
        "Amount: GBP 410,000.00" in shown[0][0]


def test_share_by_the_searcher(stack):
    user = "U0CMDSHARE"
    link_user(stack, user)
    msg, _ = run(stack, "/contact", "smith", user)
    shown, more = cards(msg)
    assert len(shown) == 6 and more is None
    for i, (text, buttons) in enumerate(shown):
        assert [b["action_id"] for b in buttons] == ["open", "share"]
        assert buttons[0]["url"].startswith("https://")
        assert "value" not in buttons[0]
        # The value is a key and the card's index: nothing else.
        assert re.fullmatch(KEY_RE + ":%d" % i, buttons[1]["value"])
        assert "url" not in buttons[1]
    value = share_value(msg, 2)
    posts, _ = pressed(stack, "share", value, user)
    assert len(posts) == 1, posts
    body = posts[0]["body"]
    assert body["response_type"] == "in_channel"
    assert body["replace_original"] is False
    assert body["blocks"][0]["text"]["text"] == shown[2][0]
    assert body["blocks"][1]["type"] == "context"
    assert body["blocks"][1]["elements"][0]["text"] == \
        "Shared by <@%s>" % user
    assert all(b["type"] != "actions" for b in body["blocks"])
    assert body["text"].endswith("Shared by <@%s>" % user)


def test_share_by_someone_else_is_refused(stack):
    owner, other = "U0CMDOWNER", "U0CMDOTHER"
    link_user(stack, owner)
    link_user(stack, other)
    msg, _ = run(stack, "/account", "acme", owner)
    value = share_value(msg, 0)
    posts, p = pressed(stack, "share", value, other)
    assert len(posts) == 1, posts
    body = posts[0]["body"]
    assert body.get("response_type", "ephemeral") == "ephemeral"
    assert "Only the person who searched" in body["text"]
    assert body["replace_original"] is False
    # Nothing went to the channel: no in_channel post anywhere.
    assert not [h for h in stack.hooks()
                if h["body"].get("response_type") == "in_channel"
                and "Acme" in h["body"].get("text", "")
                and "<@%s>" % other in h["body"].get("text", "")]
    # A forged index, a forged key: expired, nothing shared.
    key = value.split(":")[0]
    for forged in (key + ":9", key + ":x", "A" * 43 + ":0", "", key):
        posts, _ = pressed(stack, "share", forged, owner)
        assert len(posts) == 1
        assert "expired" in posts[0]["body"]["text"], forged


def test_more_pages(stack):
    user = "U0CMDMORE"
    link_user(stack, user)
    rows0 = action_rows(stack)
    msg, got = run(stack, "/pipeline", "5", user)
    assert action_rows(stack) == rows0 + 1      # one row for the page
    seen = []
    offsets = [got[0]]
    for page in range(3):
        shown, more = cards(msg)
        seen += [re.match(r"\*<[^|]+\|([^>]*)>\*", t).group(1)
                 for t, _ in shown]
        if page < 2:
            assert more is not None and re.fullmatch(KEY_RE, more["value"])
            before = len(soqls(stack))
            posts, _ = pressed(stack, "more", more["value"], user)
            assert len(posts) == 1, posts
            msg = posts[0]["body"]
            assert msg["replace_original"] is False
            offsets += soqls(stack)[before:]
        else:
            assert more is None
    assert len(seen) == 12 and len(set(seen)) == 12, seen
    assert offsets[1].endswith("LIMIT 6 OFFSET 5")
    assert offsets[2].endswith("LIMIT 6 OFFSET 10")
    assert msg["blocks"][0]["text"]["text"].startswith(
        "Your open opportunities 11\u201312")
    assert action_rows(stack) == rows0 + 3
    # The More of another user's page: refused, nothing run.
    link_user(stack, "U0CMDMORE2")
    msg, _ = run(stack, "/pipeline", "2", user)
    _, more = cards(msg)
    before = len(soqls(stack))
    posts, _ = pressed(stack, "more", more["value"], "U0CMDMORE2")
    assert "Only the person who searched" in posts[0]["body"]["text"]
    assert len(soqls(stack)) == before


def test_nothing_found_writes_no_row(stack):
    user = "U0CMDNONE"
    link_user(stack, user)
    rows0 = action_rows(stack)
    msg, _ = run(stack, "/account", "zzzz-no-such-account", user)
    assert msg["text"] == \
        "No accounts match \u201czzzz-no-such-account\u201d."
    assert [b["type"] for b in msg["blocks"]] == ["section"]
    assert action_rows(stack) == rows0


def test_expired_button(stack):
    user = "U0CMDEXP"
    link_user(stack, user)
    msg, _ = run(stack, "/account", "acme", user)
    value = share_value(msg, 0)
    stack.sql_exec("UPDATE slack_action SET expires_at = 1")
    posts, _ = pressed(stack, "share", value, user)
    assert posts[0]["body"]["text"] == \
        "This button has expired. Please search again."


def test_unlinked_account_resumed_as_account(stack):
    user = "U0CMDLATE"
    url = stack.response_url(TEAM)
    r = stack.post_contact(stack.form("acme", TEAM, user, command="/account",
                                      response_url=url))
    m = re.search(r"(http://127\.0\.0\.1:\d+/oauth/start\?state=[A-Za-z0-9_-]+)",
                  r.json()["text"])
    assert m, r.text
    r2, cookie = stack.start_login(m.group(1))
    location = stack.consent(r2.headers["Location"], ALICE)
    page = stack.callback(location, cookie)
    assert page.status == 200, page.text
    posts = stack.wait_hook(url)
    assert len(posts) == 1, posts
    msg = posts[0]["body"]
    assert msg["text"].startswith(
        "Your search for \u201cacme\u201d from before you linked:\n"
        "1 account matching \u201cacme\u201d"), msg["text"]
    (card,), _ = cards(msg)
    assert "Industry: Manufacturing" in card[0]


def test_unlinked_pipeline_resumed_as_pipeline(stack):
    """A /pipeline before linking keeps its count (not the text) and is
    answered as /pipeline, as the newly linked user's own."""
    user = "U0CMDLATE2"
    url = stack.response_url(TEAM)
    r = stack.post_contact(stack.form("3", TEAM, user, command="/pipeline",
                                      response_url=url))
    m = re.search(r"(http://127\.0\.0\.1:\d+/oauth/start\?state=[A-Za-z0-9_-]+)",
                  r.json()["text"])
    assert m, r.text
    assert stack.sql("SELECT search_command FROM login_state WHERE "
                     "search_command IS NOT NULL") == [("/pipeline",)]
    r2, cookie = stack.start_login(m.group(1))
    location = stack.consent(r2.headers["Location"], "bob@example.com")
    assert stack.callback(location, cookie).status == 200
    posts = stack.wait_hook(url)
    assert len(posts) == 1, posts
    msg = posts[0]["body"]
    assert msg["text"].startswith(
        "Your search for \u201c/pipeline 3\u201d from before you linked:\n"
        "Your 2 open opportunities, soonest close date first"), msg["text"]


def test_pipeline_single_currency(stack):
    """Last in this module: the workers remember the org has one
    currency (SESSION_CURRENCY_TTL)."""
    user = "U0CMDCUR"
    link_user(stack, user)
    msg, got = run(stack, "/pipeline", "1", user)
    assert "Amount: USD 8,000.00" in msg["text"], msg["text"]
    assert "CurrencyIsoCode" in got[0]
    r = stack.sf("POST", "/_control/currency", {"multi": False})
    assert r.status == 200
    try:
        msg, got = run(stack, "/pipeline", "1", user)
        # Refused with INVALID_FIELD, then asked again without it.
        assert "CurrencyIsoCode" in got[0] and len(got) == 2, got
        assert "CurrencyIsoCode" not in got[1]
        assert "Amount: 8,000.00" in msg["text"], msg["text"]
        assert "USD" not in msg["text"]
        # Learnt: a worker that made the query does not ask again.
        for _ in range(4):
            msg, got = run(stack, "/pipeline", "1", user)
            assert "Amount: 8,000.00" in msg["text"]
            assert got[-1] == got[-1].replace("CurrencyIsoCode", "")
    finally:
        stack.sf("POST", "/_control/currency", {"multi": True})


@pytest.mark.parametrize("path", ["/contact", "/account", "/pipeline",
                                  "/case"])
def test_routes_reach_contact(stack, path):
    """Each command's own route (its Slack Request URL) is served by the
    contact program, as POST only, with /contact's body limit."""
    body = stack.form("help", TEAM, "U0CMDROUTE", command=path)
    r = stack.post_signed(path, body)
    assert r.status == 200, r.text
    assert "`%s login`" % path in r.json()["text"], r.text
    assert stack.get(path).status == 403
    r = stack.post_signed(path, b"text=" + b"x" * (65 * 1024))
    assert r.status == 413
    # Neither a longer nor a shorter path is a command.
    assert stack.post_signed(path + "s", body).status == 404
    assert stack.post_signed(path + "/", body).status == 404
