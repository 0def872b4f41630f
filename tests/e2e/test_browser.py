"""The login pages in a real browser (issue 5, point 5).

Headless Chromium (Debian's chromium and chromium-driver, driven over
W3C WebDriver by webdriver.py) goes through the demo flow against the
real nginx, FastCGI programs and Salesforce stand-in of harness.py: a
signed /contact login as Slack sends it, the login link from that
answer, the page it opens (Continue is clicked), Sign in with Slack on
the Slack stand-in (FORCELINK_LINK_PROOF=slack here: Sign in is
clicked), the stand-in's consent page (Allow is clicked), the callback
and the success page; then the failure pages a person can reach: a reused
login link, a reused callback, an expired link, denied consent, and a
login finished in another browser (a fresh profile: no cookie).  A
second browser has JavaScript turned off and goes through the flow
again.

Every page is checked for what a person sees: the HTTP status the spec
gives, a <title>, lang, exactly one <h1>, what happened and the next
step, on the success page the linked Salesforce user and the Slack user
and workspace; and for how it is made: no console error and no CSP
violation (the inline style must be allowed by its hash), a readable
width, text contrast of at least 4.5:1 (WCAG AA) computed from the
styles the browser applied, and a phone (390 CSS px, mobile viewport
rules) laying it out at device width with no sideways scrolling.  A
first test shows that these instruments do catch a broken page.

Screenshots of every page, desktop (1280x800) and phone (390x844), go
to artifacts/browser/ in the source tree (printed at the end).  With
FL_UPDATE_SCREENSHOTS=1 the success and main failure pages are also
copied to doc/screenshots/, which is committed for reviewers.

The stand-in's certificate comes from a throwaway CA.  Chromium is told
to trust exactly that certificate's key
(--ignore-certificate-errors-spki-list, honoured only with a
--user-data-dir), never to ignore certificate errors in general.

Without Chromium the whole module is skipped with one message saying
what to install.
"""

import base64
import concurrent.futures
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.parse

import pytest

import webdriver
from harness import ROOT, Stack

_missing = webdriver.missing()
if _missing:
    pytest.skip("browser tests skipped: " + _missing,
                allow_module_level=True)

TEAM = "T0E2E0001"
ARTIFACTS = ROOT / "artifacts" / "browser"
DOC_SHOTS = ROOT / "doc" / "screenshots"
# The pages copied to doc/screenshots with FL_UPDATE_SCREENSHOTS=1.
DOC_PAGES = ("linked", "link-used", "link-expired", "login-cancelled",
             "other-browser")
DESKTOP = (1280, 800)
PHONE = (390, 844)
MIN_CONTRAST = 4.5

# What the browser reports, as data: the HTTP status of the document,
# the document's outline, whether the inline style applied, and every
# piece of visible text with its contrast against what is behind it.
PAGE_FACTS_JS = r"""
function parse(s) {
    var m = /^rgba?\(([^)]*)\)$/.exec(s);
    if (!m)
        return null;
    var p = m[1].split(/[\s,\/]+/).filter(function (x) { return x; })
        .map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
}
function over(top, under) {
    return [0, 1, 2].map(function (k) {
        return top[k] * top[3] + under[k] * (1 - top[3]);
    });
}
function behind(el) {
    var layers = [], e, c, bg = [255, 255, 255], i;
    for (e = el; e; e = e.parentElement) {
        c = parse(getComputedStyle(e).backgroundColor);
        if (c === null)
            return null;
        if (c[3] > 0)
            layers.push(c);
        if (c[3] >= 1)
            break;
    }
    for (i = layers.length - 1; i >= 0; i--)
        bg = over(layers[i], bg);
    return bg;
}
function lum(c) {
    var v = c.map(function (x) {
        x /= 255;
        return x <= 0.03928 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2];
}
var texts = [], all = document.body.querySelectorAll('*'), i, el, own, fg,
    bg, a, b, r;
for (i = 0; i < all.length; i++) {
    el = all[i];
    own = Array.prototype.filter.call(el.childNodes, function (n) {
        return n.nodeType === 3 && n.textContent.trim() !== '';
    }).map(function (n) { return n.textContent.trim(); }).join(' ');
    r = el.getBoundingClientRect();
    if (own === '' || r.width === 0 || r.height === 0)
        continue;
    fg = parse(getComputedStyle(el).color);
    bg = behind(el);
    if (fg === null || bg === null) {
        texts.push({tag: el.tagName, text: own.slice(0, 40), ratio: 0,
                    why: 'unparsed colour ' + getComputedStyle(el).color});
        continue;
    }
    a = lum(over(fg, bg));
    b = lum(bg);
    texts.push({tag: el.tagName, text: own.slice(0, 40),
                ratio: (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)});
}
var nav = performance.getEntriesByType('navigation')[0];
var main = document.querySelector('main');
var vp = document.querySelector('meta[name="viewport"]');
return {
    status: nav ? nav.responseStatus : null,
    title: document.title,
    lang: document.documentElement.lang,
    h1: Array.prototype.map.call(document.querySelectorAll('h1'),
        function (h) { return h.innerText; }),
    viewport: vp ? vp.content : null,
    mainMaxWidth: main ? getComputedStyle(main).maxWidth : null,
    bodyFont: getComputedStyle(document.body).fontFamily,
    scripts: document.scripts.length,
    dl: Array.prototype.map.call(document.querySelectorAll('dt'),
        function (dt) {
            return [dt.innerText, dt.nextElementSibling.innerText];
        }),
    said: Array.prototype.map.call(document.querySelectorAll(
        'main > p:not(.brand):not(.next):not(.note)'),
        function (p) { return p.innerText; }),
    next: Array.prototype.map.call(document.querySelectorAll('.next'),
        function (n) { return n.innerText; }),
    texts: texts,
    innerWidth: innerWidth,
    scrollWidth: document.documentElement.scrollWidth
};
"""


def spki_hash(pem):
    """base64(SHA-256(SubjectPublicKeyInfo)) of the certificate in pem,
    as --ignore-certificate-errors-spki-list takes it."""
    pub = subprocess.run(["openssl", "x509", "-in", str(pem), "-noout",
                          "-pubkey"], check=True, capture_output=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"],
                         input=pub, check=True, capture_output=True).stdout
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


class Browsers:
    """chromedriver and the two browsers of this module: "js" with
    scripts on, "nojs" a second, fresh profile with scripts off."""

    def __init__(self, stack, tmp):
        self.stack = stack
        self.driver = webdriver.Chromedriver(tmp)
        self.spki = spki_hash(stack.dir / "tls" / "server.pem")
        self.js = self.nojs = None
        self.shots = []
        # Both browsers start at once: a start is mostly waiting.
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            js = pool.submit(self.open, tmp / "profile-js", True)
            nojs = pool.submit(self.open, tmp / "profile-nojs", False)
        if js.exception() is None:
            self.js = js.result()
        if nojs.exception() is None:
            self.nojs = nojs.result()
        if js.exception() or nojs.exception():
            self.close()
            raise js.exception() or nojs.exception()

    def open(self, profile, javascript):
        s = self.driver.session(profile, spki=[self.spki],
                                javascript=javascript)
        s.viewport(*DESKTOP)
        return s

    def close(self):
        for s in (self.js, self.nojs):
            if s is not None:
                s.quit()
        self.driver.stop()


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """This module's stack links through Sign in with Slack, so that the
    success page is the callback's (the code proof's pages are
    test_link_proof's)."""
    s = Stack(tmp_path_factory.mktemp("stack"), slack=True,
              env_overrides={"FORCELINK_LINK_PROOF": "slack"}).start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def browsers(stack, tmp_path_factory, capsys_disabled):
    if ARTIFACTS.exists():
        shutil.rmtree(ARTIFACTS)
    ARTIFACTS.mkdir(parents=True)
    b = Browsers(stack, tmp_path_factory.mktemp("browser"))
    yield b
    b.close()
    if os.environ.get("FL_UPDATE_SCREENSHOTS") == "1":
        DOC_SHOTS.mkdir(parents=True, exist_ok=True)
        for name in DOC_PAGES:
            for size in ("desktop", "phone"):
                shutil.copyfile(ARTIFACTS / ("%s-%s.png" % (name, size)),
                                DOC_SHOTS / ("%s-%s.png" % (name, size)))
    capsys_disabled("\nbrowser screenshots (%d): %s\n"
                    % (len(b.shots), ARTIFACTS))


@pytest.fixture(scope="module")
def capsys_disabled(request):
    """Writes straight to the terminal, past pytest's capture."""
    capman = request.config.pluginmanager.getplugin("capturemanager")

    def write(msg):
        with capman.global_and_fixture_disabled():
            sys.stdout.write(msg)
            sys.stdout.flush()
    return write


# -- the Slack side -------------------------------------------------------
def login_link(stack, user, team=TEAM):
    """Sends a signed /contact login as Slack does and returns the login
    link from the answer's button, checking the text carries it too."""
    r = stack.slash("login", team, user)
    assert r.status == 200, r.text
    msg = r.json()
    assert msg["response_type"] == "ephemeral", msg
    urls = []

    def walk(o):
        if isinstance(o, dict):
            for k, v in o.items():
                if k == "url" and isinstance(v, str):
                    urls.append(v)
                else:
                    walk(v)
        elif isinstance(o, list):
            for v in o:
                walk(v)
    walk(msg["blocks"])
    assert len(urls) == 1, msg
    assert re.fullmatch(re.escape(stack.url) +
                        r"/oauth/start\?state=[A-Za-z0-9_-]{22,}",
                        urls[0]), urls
    assert urls[0] in msg["text"], msg
    return urls[0]


def expire_link(stack, link):
    nonce = urllib.parse.parse_qs(urllib.parse.urlsplit(link).query)[
        "state"][0]
    with stack.db() as c:
        n = c.execute("UPDATE login_state SET expires_at = ? WHERE "
                      "nonce_hash = ?", (int(time.time()) - 1,
                                         hashlib.sha256(nonce.encode())
                                         .digest())).rowcount
    assert n == 1


# -- what the browser shows -----------------------------------------------
def console_problems(entries, url=None, status=None):
    """The console entries that are problems: any SEVERE entry and any
    CSP message.  The one exception is Chrome's own note that the
    document it shows came with the error status the spec asks for."""
    bad = []
    for e in entries:
        msg = e.get("message", "")
        if (status is not None and status >= 400 and
                e.get("source") == "network" and
                msg.startswith(url + " - Failed to load resource: the "
                               "server responded with a status of %d "
                               % status)):
            continue
        if e.get("level") == "SEVERE" or "Content Security Policy" in msg \
                or "Content-Security-Policy" in msg:
            bad.append(e)
    return bad


def shoot(b, s, name):
    """Screenshots the current page at desktop and phone widths; checks
    that a phone lays it out at device width with no sideways scroll."""
    s.screenshot(ARTIFACTS / ("%s-desktop.png" % name))
    b.shots.append(name + "-desktop")
    s.viewport(*PHONE, mobile=True)
    try:
        phone = s.execute("return [innerWidth, "
                          "document.documentElement.scrollWidth]")
        s.screenshot(ARTIFACTS / ("%s-phone.png" % name))
        b.shots.append(name + "-phone")
    finally:
        s.viewport(*DESKTOP)
    return phone


def check_page(b, s, name, status, title, said=None, next_step=None,
               product=True):
    """Checks the page the browser s shows and screenshots it as name.
    status: the HTTP status; title: the <h1> (and the <title> before
    " · forcelink"); said: the paragraph saying what happened;
    next_step: the visible text of the next step.  Returns the page
    facts."""
    url = s.url
    facts = s.execute(PAGE_FACTS_JS)
    problems = console_problems(s.console(), url, status)
    assert problems == [], problems
    assert facts["status"] == status, (url, facts["status"])
    assert facts["lang"] == "en", facts["lang"]
    assert facts["h1"] == [title], facts["h1"]
    if product:
        assert facts["title"] == title + " \u00b7 forcelink", facts["title"]
        assert facts["scripts"] == 0
        assert facts["viewport"] == "width=device-width, initial-scale=1"
        # The inline style applied (its CSP hash is right): a readable
        # measure and the system font.
        assert facts["mainMaxWidth"].endswith("px"), facts["mainMaxWidth"]
        assert 400 <= float(facts["mainMaxWidth"][:-2]) <= 800, facts
        assert facts["bodyFont"].startswith("system-ui"), facts["bodyFont"]
        assert facts["said"] == [said], facts["said"]
        assert facts["next"] == ["Next step: " + next_step], facts["next"]
        low = [t for t in facts["texts"] if t["ratio"] < MIN_CONTRAST]
        assert low == [], low
        assert len(facts["texts"]) >= 4, facts["texts"]
    width, scroll = shoot(b, s, name)
    assert width == PHONE[0], (name, width)
    assert scroll <= PHONE[0], (name, scroll)
    return facts


def open_link(b, s, link, user, name="start"):
    """Opens a login link in s, checks the page it shows (as name) and
    clicks Continue; signs in with Slack (the stand-in's page) as user,
    and follows the redirects to the Salesforce stand-in's consent page,
    whose address is returned."""
    r = b.stack.slack("POST", "/_control/oidc_identity",
                      {"team_id": TEAM, "user_id": user})
    assert r.status == 200, r.text
    s.get(link)
    check_page(b, s, name, 200, "Link your Salesforce account",
               product=False)
    s.click(s.find('button[type="submit"]'))
    # The Slack stand-in's sign-in page (not forcelink's: not judged).
    s.wait_url(b.stack.slack_url + "/openid/connect/authorize")
    s.click(s.find("#allow"))
    s.wait_url(b.stack.sf_url + "/services/oauth2/authorize?")
    return s.url


def consent(b, s, name, action="Allow", user=None):
    """Answers the consent page by clicking, as a person would."""
    check_page(b, s, name, 200, "Allow Access?", product=False)
    if user is not None:
        s.click(s.find('input[name="user"][value="%s"]' % user))
    s.click(s.find('button[name="action"][value="%s"]' % action))
    return s.wait_url(b.stack.url + "/oauth/callback?")


def data_url(doc):
    return "data:text/html;base64," + base64.b64encode(doc.encode()).decode()


def link_of(stack, user):
    rows = [r for r in stack.links()
            if r["team_id"] == TEAM and r["user_id"] == user]
    return rows[0] if rows else None


# -- the tests --------------------------------------------------------------
def test_instruments_catch_a_broken_page(browsers):
    """The checks can fail: a CSP violation and a script error reach the
    console log, a page without the viewport meta is 980 px wide on the
    phone, and grey on white is measured below 4.5:1."""
    s = browsers.js
    doc = ("<!doctype html><html lang=en><meta http-equiv="
           "Content-Security-Policy content=\"style-src 'none'\">"
           "<title>t</title><style>p{color:red}</style>"
           "<script>console.error('boom')</script><p>csp</p>")
    s.get(data_url(doc))
    problems = console_problems(s.console())
    assert any("Content Security Policy" in p["message"] for p in problems)
    assert any('"boom"' in p["message"] for p in problems)
    s.get(data_url("<!doctype html><html lang=en><title>t</title>"
                   "<p style='color:#aaa;background:#fff'>grey</p>"))
    assert console_problems(s.console()) == []
    facts = s.execute(PAGE_FACTS_JS)
    (grey,) = [t for t in facts["texts"] if t["text"] == "grey"]
    assert 2.2 < grey["ratio"] < 2.4, grey       # #aaa on #fff is 2.32:1
    s.viewport(*PHONE, mobile=True)
    try:
        assert s.execute("return innerWidth") == 980
    finally:
        s.viewport(*DESKTOP)


LINKED_SAID = ("Your Salesforce account is now linked to your Slack "
               "account. Searches you run with /contact use this "
               "Salesforce user's access.")
LINKED_NEXT = ("Go back to Slack and run /contact followed by a name, "
               "for example /contact smith.")
NEW_LINK = "Run /contact login in Slack to get a new link."


def test_link_and_its_failure_pages(browsers):
    b, s, stack = browsers, browsers.js, browsers.stack
    user = "U0BRWSJS01"
    link = login_link(stack, user)
    open_link(b, s, link, user)
    callback = consent(b, s, "consent")
    facts = check_page(b, s, "linked", 200, "Linked", LINKED_SAID,
                       LINKED_NEXT)
    assert facts["dl"] == [
        ["Salesforce username", "alice@example.com"],
        ["Salesforce org id", "00D5g000004ZyAbEAK"],
        ["Salesforce instance", stack.sf_url],
        ["Slack workspace", "e2e (%s)" % TEAM],
        ["Slack user", "@tester (%s)" % user]], facts["dl"]
    assert link_of(stack, user)["sf_username"] == "alice@example.com"

    # The same callback again (a reload, or the back button).
    s.get(callback)
    check_page(b, s, "login-finished", 400, "Login already finished",
               "This login has been used already, so nothing was "
               "changed.",
               "Run /contact whoami in Slack to see which Salesforce "
               "user you are linked to, or /contact login to link again.")

    # The same login link again.
    s.get(link)
    assert s.url == link
    check_page(b, s, "link-used", 400, "Login link already used",
               "This login link has been used already, and each link "
               "works only once.", NEW_LINK)

    # A link past its 10 minutes.
    link = login_link(stack, user)
    expire_link(stack, link)
    s.get(link)
    assert s.url == link
    check_page(b, s, "link-expired", 400, "Login link expired",
               "This login link has expired: links work for 10 minutes.",
               NEW_LINK)

    # Deny on the consent page: nothing linked, nothing changed.
    before = link_of(stack, user)
    open_link(b, s, login_link(stack, user), user, "start-deny")
    consent(b, s, "consent-deny", action="Deny")
    check_page(b, s, "login-cancelled", 400, "Login cancelled",
               "You did not allow forcelink to use your Salesforce "
               "account, so nothing was linked.",
               "If you change your mind, run /contact login in Slack and "
               "choose Allow.")
    assert link_of(stack, user) == before


def test_login_finished_in_another_browser(browsers):
    """The authorize URL forwarded to someone else: their browser (a
    fresh profile, no cookie from /oauth/start) is refused."""
    b, stack = browsers, browsers.stack
    user = "U0BRWSJS02"
    authorize = open_link(b, b.js, login_link(stack, user), user,
                          "start-other-browser")
    s = b.nojs
    s.get(authorize)
    consent(b, s, "consent-other-browser")
    check_page(b, s, "other-browser", 400, "Login could not be matched",
               "This login was started in another browser, or is not "
               "known, so nothing was linked.",
               "Run /contact login in Slack, then open the new link in "
               "this browser and finish the login here.")
    assert link_of(stack, user) is None


def test_without_javascript(browsers):
    """The whole flow with scripts turned off in the browser."""
    b, s, stack = browsers, browsers.nojs, browsers.stack
    s.get("data:text/html,<title>off</title>"
          "<script>document.title='on'</script>")
    assert s.title == "off"
    user = "U0BRWSNOJS"
    open_link(b, s, login_link(stack, user), user, "nojs-start")
    consent(b, s, "nojs-consent", user="bob@example.com")
    facts = check_page(b, s, "nojs-linked", 200, "Linked", LINKED_SAID,
                       LINKED_NEXT)
    assert ["Salesforce username", "bob@example.com"] in facts["dl"]
    assert ["Slack user", "@tester (%s)" % user] in facts["dl"]
    assert link_of(stack, user)["sf_username"] == "bob@example.com"
    link = login_link(stack, user)
    expire_link(stack, link)
    s.get(link)
    check_page(b, s, "nojs-link-expired", 400, "Login link expired",
               "This login link has expired: links work for 10 minutes.",
               NEW_LINK)
