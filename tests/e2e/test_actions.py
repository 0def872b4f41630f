"""Issue 15, item 1: the interactivity endpoint, POST /slack/actions.

The program cgi/actions behind nginx, reached the way Slack reaches it:
one form field, `payload`, holding JSON, signed over the raw body.  What
every payload goes through before any handler runs is proven here; the
handlers' own behaviour (share, more, the Case form, the message
shortcut) is in test_commands.py and test_case.py.

  - verification exactly as for commands: a forged, stale, unsigned or
    replayed request is 401 and reaches no handler (no response_url post);
  - a payload that is not JSON or has a field of the wrong shape is 400,
    naming only the field in the log, never a value;
  - a type forcelink does not serve (a global shortcut configured by
    mistake) is an empty 200, so Slack shows no error;
  - a click and a shortcut are acknowledged with an empty 200 (Slack reads
    no body from that answer) and answered at their response_url;
  - a link button ("Open in Salesforce") is acknowledged and nothing else;
  - a button or shortcut this build does not know gets one ephemeral
    sentence at its response_url; a view it does not know is closed;
  - a workspace that has not installed the app (once installation is
    required) is told so at the response_url and nothing else happens;
  - a body over 256 KiB is 413 from nginx.
"""

import json
import time
import urllib.parse

import pytest

from harness import Stack

TEAM = "T0ACT0001"
USER = "U0ACT0001"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """With the Slack stand-in, so that installation can be required."""
    s = Stack(tmp_path_factory.mktemp("stack"), slack=True).start()
    yield s
    s.stop()


def log_lines(stack, event):
    return [ln for ln in (stack.dir / "forcelink.log").read_text(
        errors="replace").splitlines() if event in ln]


def no_post(stack, payload, wait=1.0):
    """No message reached the payload's response_url within wait s."""
    path = urllib.parse.urlparse(payload["response_url"]).path
    time.sleep(wait)
    assert [p for p in stack.hooks() if p["path"] == path] == []


def test_link_button_is_acknowledged_and_nothing_else(stack):
    r, p = stack.click("open", team=TEAM, user=USER)
    assert r.status == 200, r.text
    assert r.body == b""
    no_post(stack, p)
    assert any("actions.route" in ln and "id=open" in ln
               for ln in log_lines(stack, "actions.route"))


def test_unknown_button_gets_one_sentence(stack):
    r, p = stack.click("no-such-button", value="x", team=TEAM, user=USER)
    assert r.status == 200 and r.body == b"", (r.status, r.text)
    posts = stack.wait_hook(p["response_url"])
    assert len(posts) == 1, posts
    body = posts[0]["body"]
    assert "no longer knows this button" in body["text"]
    assert body.get("response_type", "ephemeral") == "ephemeral"


def test_unknown_view_is_closed(stack):
    p = stack.payload("view_submission", TEAM, USER, view={
        "id": "V0ACT0001", "type": "modal", "callback_id": "nobody",
        "hash": "1.2", "private_metadata": "", "state": {"values": {}}})
    r = stack.post_action(p)
    assert r.status == 200 and r.body == b"", (r.status, r.text)


def test_unserved_type_is_an_empty_200(stack):
    p = stack.payload("shortcut", TEAM, USER, callback_id="create_case")
    r = stack.post_action(p)
    assert r.status == 200 and r.body == b"", (r.status, r.text)
    assert any("outcome=\"unserved\"" in ln
               for ln in log_lines(stack, "request.payload"))


@pytest.mark.parametrize("name,payload,field", [
    ("not_json", "{\"type\":", "payload"),
    ("array", "[]", "payload"),
    ("no_type", {"user": {"id": USER}}, "type"),
    ("lower_case_user", {"type": "block_actions", "user": {"id": "u0x"},
                         "team": {"id": TEAM}, "actions": [
                             {"action_id": "open"}]}, "user.id"),
    ("http_response_url", {"type": "block_actions", "user": {"id": USER},
                           "team": {"id": TEAM},
                           "response_url": "http://evil.example/x",
                           "actions": [{"action_id": "open"}]},
     "response_url"),
    ("no_actions", {"type": "block_actions", "user": {"id": USER},
                    "team": {"id": TEAM}, "actions": []}, "actions"),
    ("view_without_id", {"type": "view_submission", "user": {"id": USER},
                         "team": {"id": TEAM}, "view": {"hash": "1.2"}},
     "view.id"),
])
def test_malformed_payload_is_400(stack, name, payload, field):
    before = len(log_lines(stack, "request.payload"))
    r = stack.post_action(payload)
    assert r.status == 400, (name, r.status, r.text)
    assert r.text == "malformed payload\n"
    lines = log_lines(stack, "request.payload")[before:]
    assert any("field=%s" % field in ln for ln in lines), lines


def test_no_payload_field_is_400(stack):
    body = b"actions=%7B%7D"
    r = stack.post_signed("/slack/actions", body)
    assert r.status == 400, r.text


def test_forged_signature_is_refused_before_anything(stack):
    r0, p = stack.click("no-such-button", team=TEAM, user=USER)
    assert r0.status == 200
    stack.wait_hook(p["response_url"])
    p2 = stack.payload("block_actions", TEAM, USER)
    p2["actions"] = [{"action_id": "no-such-button", "value": ""}]
    body = b"payload=" + urllib.parse.quote(json.dumps(p2)).encode()
    ts, sig = stack.sign(body, secret="not-the-secret")
    r = stack.post_signed("/slack/actions", body, ts=ts, sig=sig)
    assert r.status == 401, r.text
    # Unsigned, and stale by six minutes.
    assert stack.post_signed("/slack/actions", body, ts=str(int(time.time())),
                             sig=False).status == 401
    ts, sig = stack.sign(body, ts=int(time.time()) - 360)
    assert stack.post_signed("/slack/actions", body, ts=ts,
                             sig=sig).status == 401
    # The body changed after signing.
    ts, sig = stack.sign(body)
    r = stack.post_signed("/slack/actions", body.replace(
        b"no-such-button", b"no-such-buttox"), ts=ts, sig=sig)
    assert r.status == 401
    no_post(stack, p2)


def test_replayed_click_is_refused(stack):
    p = stack.payload("block_actions", TEAM, USER)
    p["actions"] = [{"action_id": "no-such-button", "value": ""}]
    body = b"payload=" + urllib.parse.quote(json.dumps(p)).encode()
    ts, sig = stack.sign(body)
    first = stack.post_signed("/slack/actions", body, ts=ts, sig=sig)
    assert first.status == 200
    assert len(stack.wait_hook(p["response_url"])) == 1
    again = stack.post_signed("/slack/actions", body, ts=ts, sig=sig)
    assert again.status == 401 and again.text == "replayed request\n"
    time.sleep(1)
    path = urllib.parse.urlparse(p["response_url"]).path
    assert len([h for h in stack.hooks() if h["path"] == path]) == 1


def test_body_over_256k_is_413(stack):
    p = stack.payload("block_actions", TEAM, USER)
    p["actions"] = [{"action_id": "open", "value": "x" * (257 * 1024)}]
    r = stack.post_action(p)
    assert r.status == 413, (r.status, r.text[:200])


def test_get_is_refused(stack):
    r = stack.request("GET", "/slack/actions")
    assert r.status in (403, 405), r.status


def test_health_of_the_program(stack):
    r = stack.get("/healthz/actions")
    assert r.status == 200, r.text
    assert r.json()["program"] == "actions"


def test_not_installed_workspace_is_told_at_response_url(stack):
    stack.restart_programs(dict(stack.env(), FORCELINK_REQUIRE_INSTALL="1"))
    try:
        routed = len(log_lines(stack, "actions.route"))
        r, p = stack.click("no-such-button", team=TEAM, user=USER)
        assert r.status == 200 and r.body == b"", (r.status, r.text)
        posts = stack.wait_hook(p["response_url"])
        assert len(posts) == 1, posts
        assert "has not installed forcelink" in posts[0]["body"]["text"]
        # No handler ran (not even the one for an unknown button).
        assert len(log_lines(stack, "actions.route")) == routed
    finally:
        stack.restart_programs()


def test_legacy_token_is_read_inside_the_payload(tmp_path):
    """Without a signing secret (legacy apps) the verification token
    Slack puts inside the payload's JSON must match: a wrong, missing or
    non-string token, or one only in the form, is 401 and reaches no
    handler."""
    legacy = Stack(tmp_path / "legacy",
                   env_overrides={"SLACK_SIGNING_SECRET": None,
                                  "SLACK_VERIFICATION_TOKEN": "legacy-tok"})
    try:
        legacy.start()
        p = legacy.payload("block_actions", TEAM, USER, token="legacy-tok")
        p["actions"] = [{"action_id": "no-such-button", "value": ""}]
        r = legacy.post_action(p, ts=None, sig=False)
        assert r.status == 200, (r.status, r.text)
        assert len(legacy.wait_hook(p["response_url"])) == 1
        # "legacy-tok\0x" reads as the token to a C string reader.
        for tok in ("wrong-tok", "legacy-to", "", None, 7, ["legacy-tok"],
                    "legacy-tok\u0000x"):
            bad = legacy.payload("block_actions", TEAM, USER, token=tok)
            bad["actions"] = [{"action_id": "no-such-button", "value": ""}]
            r = legacy.post_action(bad, ts=None, sig=False)
            assert r.status == 401, (tok, r.status, r.text)
            no_post(legacy, bad, wait=0.2)
        # The token in the form, not in the payload, is not Slack's way.
        bad = legacy.payload("block_actions", TEAM, USER, token=None)
        bad["actions"] = [{"action_id": "no-such-button", "value": ""}]
        body = ("token=legacy-tok&payload=" + urllib.parse.quote(
            json.dumps(bad))).encode()
        r = legacy.post_signed("/slack/actions", body, ts=None, sig=False)
        assert r.status == 401, (r.status, r.text)
        no_post(legacy, bad, wait=0.5)
        assert "legacy-tok" not in legacy.log_text()
    finally:
        legacy.stop()
