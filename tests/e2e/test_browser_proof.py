"""The login proof's pages in a real browser (issue 11, point 4).

Headless Chromium (webdriver.py, as in test_browser.py) goes through the
two proofs against the real nginx, FastCGI programs and both stand-ins:

- code: the login link's page (whom the link is for, by name and id),
  Continue (a real form POST with the real cookie and CSRF token, which
  the page's CSP must let go to Salesforce), the consent page, and the
  code page with the code and the command to type; the code typed back
  in Slack then links.
- slack: the login link's page, Continue to Sign in with Slack, the
  sign-in page, on to Salesforce (no prompt), and the success page; the
  same with the browser signed in to Slack as someone else ends on the
  403 page before Salesforce.

Each page is checked for what a person sees (HTTP status, one <h1>,
title, lang, the names, no console error or CSP violation, contrast at
least 4.5:1, a phone laying it out at device width) and screenshotted,
desktop and phone, to artifacts/browser-proof/ in the source tree; with
FL_UPDATE_SCREENSHOTS=1 the main ones are also copied to doc/screenshots/.
"""

import os
import re
import shutil
import sys

import pytest

import webdriver
from harness import ROOT, Stack

_missing = webdriver.missing()
if _missing:
    pytest.skip("browser tests skipped: " + _missing,
                allow_module_level=True)

from test_browser import (DESKTOP, MIN_CONTRAST, PAGE_FACTS_JS,  # noqa: E402
                          PHONE, console_problems, login_link, spki_hash)

TEAM = "T0E2E0001"
ARTIFACTS = ROOT / "artifacts" / "browser-proof"
DOC_SHOTS = ROOT / "doc" / "screenshots"
# The pages copied to doc/screenshots with FL_UPDATE_SCREENSHOTS=1.
DOC_PAGES = ("code-start", "code-page", "code-csrf-refused", "slack-start",
             "slack-other-user")
CODE_RE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}$")


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """Both stand-ins; the mode is set per test (mode())."""
    s = Stack(tmp_path_factory.mktemp("stack"), slack=True).start()
    yield s
    s.stop()


def mode(s, proof):
    want = {"FORCELINK_LINK_PROOF": proof}
    if s.env_overrides != want:
        s.env_overrides = want
        s.restart_programs()


class Shots:
    def __init__(self, stack, tmp):
        self.stack = stack
        self.driver = webdriver.Chromedriver(tmp)
        self.spki = spki_hash(stack.dir / "tls" / "server.pem")
        self.tmp = tmp
        self.sessions = []
        self.shots = []

    def browser(self, name):
        s = self.driver.session(self.tmp / name, spki=[self.spki])
        s.viewport(*DESKTOP)
        self.sessions.append(s)
        return s

    def close(self):
        for s in self.sessions:
            s.quit()
        self.driver.stop()


@pytest.fixture(scope="module")
def shots(stack, tmp_path_factory, request):
    if ARTIFACTS.exists():
        shutil.rmtree(ARTIFACTS)
    ARTIFACTS.mkdir(parents=True)
    b = Shots(stack, tmp_path_factory.mktemp("browser"))
    yield b
    b.close()
    if os.environ.get("FL_UPDATE_SCREENSHOTS") == "1":
        DOC_SHOTS.mkdir(parents=True, exist_ok=True)
        for name in DOC_PAGES:
            for size in ("desktop", "phone"):
                shutil.copyfile(ARTIFACTS / ("%s-%s.png" % (name, size)),
                                DOC_SHOTS / ("%s-%s.png" % (name, size)))
    capman = request.config.pluginmanager.getplugin("capturemanager")
    with capman.global_and_fixture_disabled():
        sys.stdout.write("\nbrowser screenshots (%d): %s\n"
                         % (len(b.shots), ARTIFACTS))


def shoot(b, s, name, product=True):
    """Desktop and phone screenshots; the phone must lay forcelink's own
    pages out at its width with no sideways scrolling."""
    s.screenshot(ARTIFACTS / ("%s-desktop.png" % name))
    b.shots.append(name + "-desktop")
    s.viewport(*PHONE, mobile=True)
    try:
        width, scroll = s.execute("return [innerWidth, "
                                  "document.documentElement.scrollWidth]")
        s.screenshot(ARTIFACTS / ("%s-phone.png" % name))
        b.shots.append(name + "-phone")
    finally:
        s.viewport(*DESKTOP)
    if product:
        assert width == PHONE[0], (name, width)
        assert scroll <= PHONE[0], (name, scroll)


def look(b, s, name, status, title, product=True):
    """What the browser s shows, checked and screenshotted as name.
    Returns the page facts and its visible text."""
    url = s.url
    facts = s.execute(PAGE_FACTS_JS)
    problems = console_problems(s.console(), url, status)
    assert problems == [], problems
    assert facts["status"] == status, (url, facts["status"])
    assert facts["h1"] == [title], facts["h1"]
    if product:
        assert facts["lang"] == "en"
        assert facts["title"] == title + " \u00b7 forcelink", facts["title"]
        assert facts["scripts"] == 0
        # The inline style applied: its CSP hash is right.
        assert facts["bodyFont"].startswith("system-ui"), facts["bodyFont"]
        low = [t for t in facts["texts"] if t["ratio"] < MIN_CONTRAST]
        assert low == [], low
    shoot(b, s, name, product)
    return facts, s.execute("return document.body.innerText")


def test_code_flow(shots, stack):
    """The code proof as a person goes through it."""
    mode(stack, "code")
    b, user = shots, "U0BRCODE01"
    s = b.browser("code")
    link = login_link(stack, user)
    s.get(link)
    facts, seen = look(b, s, "code-start", 200, "Link your Salesforce "
                       "account")
    assert "This login link was made for @tester (%s) in the Slack "\
        "workspace e2e (%s)." % (user, TEAM) in seen, seen
    assert "Then a code is shown, which you type in Slack with /contact "\
        "confirm: nothing is linked before that." in seen, seen
    # The real Continue button, with the cookie the page set and the
    # token in its form: the browser lands on Salesforce's consent page,
    # asked to log in again (prompt=login).
    s.click(s.find('button[type="submit"]'))
    url = s.wait_url(stack.sf_url + "/services/oauth2/authorize?")
    assert "prompt=login" in url.split("?", 1)[1].split("&"), url
    look(b, s, "code-consent", 200, "Allow Access?", product=False)
    s.click(s.find('input[name="user"][value="bob@example.com"]'))
    s.click(s.find('button[name="action"][value="Allow"]'))
    s.wait_url(stack.url + "/oauth/callback?")
    facts, seen = look(b, s, "code-page", 200, "One more step: confirm "
                       "in Slack")
    code = s.text(s.find("p.code"))
    assert CODE_RE.match(code), code
    assert ["Slack user", "@tester (%s)" % user] in facts["dl"], facts["dl"]
    assert ["Slack workspace", "e2e (%s)" % TEAM] in facts["dl"]
    assert ["Salesforce username", "bob@example.com"] in facts["dl"]
    assert facts["next"] == ["Next step: In Slack, as @tester (%s), type "
                             "/contact confirm %s within 10 minutes."
                             % (user, code)], facts["next"]
    assert "Never give this code to anyone else" in seen
    assert not [r for r in stack.links() if r["user_id"] == user]
    r = stack.slash("confirm " + code, TEAM, user)
    assert r.json()["text"].startswith("Linked: Salesforce user "
                                       "bob@example.com"), r.text
    assert [r for r in stack.links() if r["user_id"] == user]


def test_two_links_in_one_browser(shots, stack):
    """Two login links open in two tabs of one browser: the second page
    replaced the first page's cookie, so Continue in the first tab is
    refused (403, the page says to open the link again) and nothing is
    consumed; opened again, that link works.  (Going back to the first
    page instead reloads it, since pages are no-store, and it works.)"""
    mode(stack, "code")
    b, user = shots, "U0BRTWO01"
    s = b.browser("two")
    first, second = login_link(stack, user), login_link(stack, user)
    s.get(first)
    tab1 = s.call("GET", "/window")
    tab2 = s.call("POST", "/window/new", {"type": "tab"})["handle"]
    s.call("POST", "/window", {"handle": tab2})
    s.get(second)
    s.call("POST", "/window", {"handle": tab1})
    assert s.url == first
    s.click(s.find('button[type="submit"]'))
    # The link's own address (/oauth/start?state=...) starts with the
    # refusal's: only the exact one says the POST's answer is shown.
    s.wait_url(stack.url + "/oauth/start", exact=True)
    _, seen = look(b, s, "code-csrf-refused", 403, "Please use the login "
                   "page")
    assert "Open the login link from Slack again and click Continue." \
        in seen, seen
    s.get(first)
    s.click(s.find('button[type="submit"]'))
    s.wait_url(stack.sf_url + "/services/oauth2/authorize?")
    s.get(second)
    s.click(s.find('button[type="submit"]'))
    s.wait_url(stack.sf_url + "/services/oauth2/authorize?")


def test_slack_flow(shots, stack):
    """Sign in with Slack, then Salesforce, then the success page."""
    mode(stack, "slack")
    b, user = shots, "U0BRSLACK1"
    r = stack.slack("POST", "/_control/oidc_identity",
                    {"team_id": TEAM, "user_id": user})
    assert r.status == 200, r.text
    s = b.browser("slack")
    s.get(login_link(stack, user))
    _, seen = look(b, s, "slack-start", 200, "Link your Salesforce account")
    assert "This login link was made for @tester (%s) in the Slack "\
        "workspace e2e (%s)." % (user, TEAM) in seen, seen
    assert "Slack asks you to sign in first, to prove that you are this "\
        "Slack user" in seen, seen
    s.click(s.find('button[type="submit"]'))
    s.wait_url(stack.slack_url + "/openid/connect/authorize?")
    shoot(b, s, "slack-signin", product=False)
    s.click(s.find("#allow"))
    url = s.wait_url(stack.sf_url + "/services/oauth2/authorize?")
    assert "prompt=" not in url, url
    look(b, s, "slack-consent", 200, "Allow Access?", product=False)
    s.click(s.find('input[name="user"][value="alice@example.com"]'))
    s.click(s.find('button[name="action"][value="Allow"]'))
    s.wait_url(stack.url + "/oauth/callback?")
    facts, _ = look(b, s, "slack-linked", 200, "Linked")
    assert ["Slack user", "@tester (%s)" % user] in facts["dl"], facts["dl"]
    assert ["Salesforce username", "alice@example.com"] in facts["dl"]
    assert [r for r in stack.links() if r["user_id"] == user]


def test_slack_flow_signed_in_as_someone_else(shots, stack):
    """The browser is signed in to Slack as B; the link is A's: the 403
    page before Salesforce names whom the link was made for."""
    mode(stack, "slack")
    b, owner, other = shots, "U0BRSLOWN", "U0BRSLOTH"
    r = stack.slack("POST", "/_control/oidc_identity",
                    {"team_id": TEAM, "user_id": other})
    assert r.status == 200, r.text
    before = len(stack.sf("GET", "/_control/requests").json())
    s = b.browser("slack-other")
    s.get(login_link(stack, owner))
    s.click(s.find('button[type="submit"]'))
    s.wait_url(stack.slack_url + "/openid/connect/authorize?")
    s.click(s.find("#allow"))
    s.wait_url(stack.url + "/oauth/callback?")
    _, seen = look(b, s, "slack-other-user", 403, "Signed in as another "
                   "Slack user")
    assert "This login link was made for another Slack user (@tester in "\
        "e2e), so nothing was linked." in seen, seen
    assert len(stack.sf("GET", "/_control/requests").json()) == before
    assert not [r for r in stack.links() if r["user_id"] in (owner, other)]
