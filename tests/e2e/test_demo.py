"""The demo (README "Quick start", issue 15 item 7): scripts/run in demo
mode and scripts/slash playing Slack, as a person at a terminal would use
them, every command and button of issue 15 included.

scripts/run starts everything itself (the Salesforce and Slack stand-ins,
the programs, nginx) in a run directory and a demo directory of the
test's own (FORCELINK_RUN_DIR, FORCELINK_DEMO_DIR), so a demo someone runs
in the tree is not touched.  The browser's part of the login (the
consent page, the code page) is played with the harness's steps; every
Slack side goes through scripts/slash, and the test reads only what it
prints.
"""

import os
import re
import signal
import socket
import ssl
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from harness import ROOT, NoRedirect, Stack

SLASH = str(ROOT / "scripts" / "slash")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("demo")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SF_", "SLACK_", "FORCELINK_"))}
    port = free_port()
    env.update(FORCELINK_PORT=str(port), FORCELINK_RUN_DIR=str(tmp / "run"),
               FORCELINK_DEMO_DIR=str(tmp / "demo"))
    out = open(tmp / "run.out", "w")
    proc = subprocess.Popen([str(ROOT / "scripts" / "run")], cwd=ROOT,
                            env=env, stdout=out, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        end = time.time() + 300
        while "Press Ctrl-C to stop." not in (tmp / "run.out").read_text():
            assert proc.poll() is None, (tmp / "run.out").read_text()
            assert time.time() < end, "scripts/run did not start"
            time.sleep(0.2)
        yield Demo(tmp, env, port)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        out.close()


class Demo:
    def __init__(self, tmp, env, port):
        self.tmp, self.env = tmp, env
        self.url = "http://127.0.0.1:%d" % port
        self.denv = dict(line.split("=", 1) for line in
                         (tmp / "run" / "demo.env").read_text().split())

    def slash(self, *args, user=None):
        env = dict(self.env)
        if user:
            env["SLASH_USER"] = user
        r = subprocess.run([SLASH] + list(args), env=env, cwd=ROOT,
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, (args, r.stdout, r.stderr)
        return r.stdout

    def browser(self):
        """The harness's browser steps, pointed at the demo."""
        b = Stack(self.tmp / "browser")
        b.url = b.public_url = self.url
        b.sf_url = self.denv["FL_SF_URL"]
        b.ctx = ssl.create_default_context(cafile=self.denv["FL_CA"])
        b.sf_opener = urllib.request.build_opener(
            urllib.request.HTTPSHandler(context=b.ctx), NoRedirect)
        return b


def login_link(text):
    m = re.search(r"\((http://127\.0\.0\.1:\d+/oauth/start\?state=[\w-]+)\)",
                  text)
    assert m, text
    return m.group(1)


def test_help_of_every_command(demo):
    assert "/contact smith" in demo.slash("help")
    assert "/account" in demo.slash("/account", "help")
    assert "/pipeline" in demo.slash("/pipeline", "help")
    out = demo.slash("/pipeline", "many")
    assert out.startswith("Usage: `/pipeline [N]`"), out


def test_case_form_before_linking_keeps_the_case(demo):
    out = demo.slash("/case")
    assert "== New Salesforce Case ==" in out, out
    assert "subject *:" in out and "(one of High, Medium, Low)" in out
    out = demo.slash("--submit", "subject=Printer on fire",
                     "priority=High")
    assert "Your Case is kept" in out, out
    assert "/oauth/start?state=" in out
    # A required input left empty is refused under its input.
    demo.slash("/case")
    out = demo.slash("--submit", "priority=Low")
    assert out.startswith("case_subject:"), out


def test_shortcut_makes_the_message_plain(demo):
    out = demo.slash("--shortcut", "hey <@U0DEMO0001> the printer &amp; "
                     "fax <https://x.example|are> down")
    assert "subject *: hey @U0DEMO0001 the printer & fax are " \
        "(https://x.example) down" in out, out
    assert "A link to the message (https://demo.slack.com/archives/" \
        "C0DEMO0001/p" in out, out


def test_linked_user_searches_shares_and_creates(demo):
    user = "U0DEMO0002"
    out = demo.slash("smith", user=user)
    b = demo.browser()
    r, cookie = b.start_login(login_link(out))
    assert r.status == 302, r.text
    page = b.callback(b.consent(r.headers["Location"]), cookie,
                      confirm=False)
    code = b.page_code(page)
    assert code, page.text
    out = demo.slash("confirm", code, user=user)
    assert "Linked:" in out, out
    # The search kept with the login is answered too, at its
    # response_url; a new one shows cards with numbered buttons.
    out = demo.slash("smith", user=user)
    assert "Jane Smith" in out, out
    buttons = re.findall(r"\[(\d+)\] ([^\n(]+)", out)
    share = [n for n, label in buttons if label.strip() ==
             "Share in channel"]
    assert share, out
    out = demo.slash("--press", share[0], user=user)
    assert "(posted in the channel for everyone)" in out, out
    assert re.search(r"Shared by @%s\b" % user, out), out
    out = demo.slash("/account", "acme", user=user)
    assert "Open in Salesforce" in out, out
    out = demo.slash("/pipeline", "3", user=user)
    assert "Open in Salesforce" in out and "Stage" in out, out
    demo.slash("/case", user=user)
    out = demo.slash("--submit", "subject=Printer on fire",
                     "description=Smoke", "priority=High", user=user)
    assert re.search(r"Case\W+\d{8}", out), out
