"""Issue 15, items 3 and 4: /case and "Create Case from this message".

Through nginx, with the Salesforce and Slack stand-ins: the form is
opened with views.open at once (before any Salesforce call, also while
Salesforce takes 5 s), submitted through /slack/actions, and every view
Slack was given is read back from the Slack stand-in's record; every Case
from the Salesforce stand-in's.

  - /case opens the form (empty 200) within Slack's 3 s while Salesforce
    is slow; its Priority values are Salesforce's, refreshed after the
    answer (views.update with the view's hash) when they changed;
  - a submission creates exactly one Case, however often the same view is
    submitted, and the modal then shows its CaseNumber and link;
  - local checks answer response_action errors under the right input;
    Salesforce's REQUIRED_FIELD_MISSING and FIELD_CUSTOM_VALIDATION_EXCEPTION
    come back in the re-opened form under the right input, or at the top,
    with the values kept; nothing is created;
  - an Account named exactly is put on the Case; an unknown one is shown
    under Account and nothing is created;
  - an unlinked user's form is kept with the login link, and the Case is
    created once the user links (modal updated, answer at response_url);
  - a forged private_metadata, another user's, or a closed form's, is
    refused and creates nothing;
  - the message shortcut fills the form from the message (Slack markup
    made plain) and adds its permalink;
  - /case subject: details creates at once, and a refusal is never told
    as a success; views.open's refusals are told in one sentence;
  - an expired session is refreshed once and makes one Case; a workspace
    in integration-user mode creates without anybody linking;
  - every view forcelink answers a submission with passes the Slack
    stand-in's rules for views, and every error names an input block;
  - what a form keeps (the person's text, the response_url) is sealed in
    the store and never logged.
"""

import json
import re
import secrets
import subprocess
import threading
import time
import urllib.parse

import sys
from pathlib import Path

import pytest

from harness import BUILD, Stack

# Slack's rules for a view, as the Slack stand-in enforces them on
# views.open and views.update, held to the views forcelink answers a
# submission with too (which no stand-in sees).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "standin"))
from slack_web import view_problems  # noqa: E402

TEAM = "T0E2E0001"
USER = "U0CASE0001"         # linked (alice)
LATE = "U0CASE0002"         # links during a test (bob)
OTHER = "U0CASE0003"        # linked (alice too), another Slack user


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    s = Stack(tmp_path_factory.mktemp("stack"), slack=True).start()
    r = s.install(TEAM)
    assert r.status == 200, r.text
    s.link(TEAM, USER, sf_user="alice@example.com")
    s.link(TEAM, OTHER, sf_user="alice@example.com")
    yield s
    s.stop()


@pytest.fixture(autouse=True)
def clean(stack):
    yield
    stack.faults(**{k: None for k in ("delay", "case_required",
                                      "case_validation", "case_lengths")})


def trigger(stack, user=USER):
    r = stack.slack("POST", "/_control/trigger",
                    {"team_id": TEAM, "user_id": user})
    assert r.status == 200, r.text
    return r.json()["trigger_id"]


def views(stack, user=None):
    out = stack.slack("GET", "/_control/views").json()
    return [v for v in out if user is None or v["user_id"] == user]


def web_calls(stack, method):
    return [c for c in stack.slack("GET", "/_control/web_calls").json()
            if c["method"] == method]


def cases(stack):
    return stack.sf("GET", "/_control/cases").json()


def blocks_by_id(view):
    return {b.get("block_id"): (i, b) for i, b in enumerate(view["blocks"])}


def wait_for(pred, timeout=15):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    return pred()


def open_form(stack, user=USER, text="", **extra):
    """Runs /case as user; returns (Response, the view as Slack has it)."""
    before = {v["id"] for v in views(stack)}
    r = stack.slash(text, TEAM, user, command="/case",
                    trigger_id=trigger(stack, user), **extra)
    assert r.status == 200, r.text
    assert r.body == b"", r.text
    new = wait_for(lambda: [v for v in views(stack, user)
                            if v["id"] not in before])
    assert len(new) == 1, new
    return r, new[0]


def latest(stack, view_id):
    return next(v for v in views(stack) if v["id"] == view_id)


def submit(stack, view, values, user=USER, metadata=None):
    """Submits view with values {block: value} as Slack does; returns the
    parsed response_action body (None for an empty answer)."""
    state = {}
    for block, value in values.items():
        action = block[len("case_"):]
        if action == "priority":
            state[block] = {action: {
                "type": "static_select",
                "selected_option": None if value is None else {
                    "text": {"type": "plain_text", "text": value},
                    "value": value}}}
        else:
            state[block] = {action: {"type": "plain_text_input",
                                     "value": value}}
    v = latest(stack, view["id"])
    p = stack.payload("view_submission", TEAM, user, view={
        "id": v["id"], "hash": v["hash"], "type": "modal",
        "callback_id": v["view"].get("callback_id", ""),
        "private_metadata": v["view"]["private_metadata"]
        if metadata is None else metadata,
        "state": {"values": state}})
    r = stack.post_action(p)
    assert r.status == 200, r.text
    out = json.loads(r.body) if r.body else None
    if out is not None and out.get("response_action") == "update":
        assert view_problems(out["view"]) == [], out["view"]
    if out is not None and out.get("response_action") == "errors":
        ids = blocks_by_id(v["view"])
        assert all(ids[b][1]["type"] == "input" for b in out["errors"])
    return out


def fill(subject="Printer on fire", description="Since Monday",
         priority="High", account=None):
    return {"case_subject": subject, "case_description": description,
            "case_priority": priority, "case_account": account}


def shown_text(view):
    out = []

    def walk(o):
        if isinstance(o, dict):
            if o.get("type") in ("mrkdwn", "plain_text"):
                out.append(o.get("text", ""))
            for v in o.values():
                walk(v)
        elif isinstance(o, list):
            for v in o:
                walk(v)
    walk(view["blocks"])
    return "\n".join(out)


def test_form_opens_at_once_while_salesforce_takes_5s(stack):
    stack.faults(delay=5)
    t0 = time.time()
    r, view = open_form(stack)
    took = time.time() - t0
    assert took < 3, took
    v = view["view"]
    assert v["callback_id"] == "case"
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", v["private_metadata"])
    assert v["notify_on_close"] is True
    assert len(v["title"]["text"]) <= 24
    ids = blocks_by_id(v)
    for block in ("case_subject", "case_description", "case_priority",
                  "case_account"):
        assert ids[block][1]["type"] == "input"
    pri = ids["case_priority"][1]["element"]
    assert [o["value"] for o in pri["options"]] == ["High", "Medium", "Low"]
    assert pri["initial_option"]["value"] == "Medium"
    ok = [c for c in web_calls(stack, "views.open") if c["ok"]]
    assert ok and ok[-1]["args"]["trigger_id"]
    # Nothing secret in what Slack keeps: the key only.
    assert "hooks" not in json.dumps(v)


def test_double_submit_creates_one_case(stack):
    _, view = open_form(stack)
    before = len(cases(stack))
    stack.faults(delay=2)
    out = []

    def go():
        out.append(submit(stack, view, fill(subject="Double trouble")))
    ts = [threading.Thread(target=go) for _ in range(3)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert all(o["response_action"] == "update" for o in out), out
    made = wait_for(lambda: [c for c in cases(stack)
                             if c["Subject"] == "Double trouble"])
    time.sleep(3)
    assert len([c for c in cases(stack)
                if c["Subject"] == "Double trouble"]) == 1
    assert len(cases(stack)) == before + 1
    case = made[0]
    assert (case["Priority"], case["Description"]) == ("High",
                                                       "Since Monday")
    done = wait_for(lambda: "case_done" in blocks_by_id(
        latest(stack, view["id"])["view"]) and latest(stack, view["id"]))
    text = shown_text(done["view"])
    assert case["CaseNumber"] in text
    btn = blocks_by_id(done["view"])["case_open"][1]["elements"][0]
    assert btn["url"].endswith("/" + case["Id"])
    assert btn["url"].startswith("https://")
    # Submitted once more later: the same Case, shown again.
    again = submit(stack, view, fill(subject="Double trouble"))
    assert again["response_action"] == "update"
    assert case["CaseNumber"] in shown_text(again["view"])
    assert len(cases(stack)) == before + 1


@pytest.mark.parametrize("values,block", [
    (fill(subject=None), "case_subject"),
    (fill(subject="   "), "case_subject"),
    (fill(subject="x" * 256), "case_subject"),
    (fill(priority="Bogus"), "case_priority"),
    (fill(account="A\nB"), "case_account"),
    (fill(description="see @{newCase.id}"), "case_description"),
])
def test_local_checks_answer_errors(stack, values, block):
    _, view = open_form(stack)
    before = stack.sf_state()["composites"]
    out = submit(stack, view, values)
    assert out["response_action"] == "errors"
    assert list(out["errors"]) == [block]
    time.sleep(0.5)
    assert stack.sf_state()["composites"] == before


def test_required_field_missing_under_its_input(stack):
    stack.faults(case_required=["Description"])
    _, view = open_form(stack)
    before = len(cases(stack))
    out = submit(stack, view, fill(subject="Needs more", description=None))
    assert out["response_action"] == "update"
    form = wait_for(lambda: (lambda v: v if "case_description_error" in
                             blocks_by_id(v["view"]) else None)(
        latest(stack, view["id"])))
    ids = blocks_by_id(form["view"])
    at, err = ids["case_description_error"]
    assert at == ids["case_description"][0] + 1
    assert "Salesforce requires this field." in shown_text(
        {"blocks": [err]})
    # The values are kept.
    assert ids["case_subject"][1]["element"]["initial_value"] == \
        "Needs more"
    assert len(cases(stack)) == before
    # Fixed and submitted again: created, once.
    stack.faults(case_required=None)
    out = submit(stack, form, fill(subject="Needs more",
                                   description="Here it is"))
    assert out["response_action"] == "update"
    assert wait_for(lambda: len(cases(stack)) == before + 1)


def test_string_too_long_under_its_input(stack):
    # An org whose fields are shorter than forcelink's checks know.
    stack.faults(case_lengths={"Subject": 20, "Description": 10})
    _, view = open_form(stack)
    before = len(cases(stack))
    submit(stack, view, fill(subject="A subject of 27 characters",
                             description="Eleven char"))
    form = wait_for(lambda: (lambda v: v if "case_subject_error" in
                             blocks_by_id(v["view"]) else None)(
        latest(stack, view["id"])))
    ids = blocks_by_id(form["view"])
    assert ids["case_subject_error"][0] == ids["case_subject"][0] + 1
    assert "Too long for Salesforce: at most 20 characters." in shown_text(
        {"blocks": [ids["case_subject_error"][1]]})
    assert "Too long for Salesforce: at most 10 characters." in shown_text(
        {"blocks": [ids["case_description_error"][1]]})
    # Salesforce's message quotes the whole value: not shown as it is.
    assert "data value too large" not in json.dumps(form["view"])
    assert len(cases(stack)) == before


def test_validation_rule_at_the_top_or_under_its_field(stack):
    stack.faults(case_validation={"message": "No refunds <here> & now",
                                  "fields": []})
    _, view = open_form(stack)
    before = len(cases(stack))
    submit(stack, view, fill(subject="Refund please"))
    form = wait_for(lambda: (lambda v: v if "case_top" in
                             blocks_by_id(v["view"]) else None)(
        latest(stack, view["id"])))
    top = blocks_by_id(form["view"])["case_top"]
    assert top[0] == 0
    assert top[1]["text"]["text"] == (":warning: Salesforce did not create "
                                      "the Case: No refunds &lt;here&gt; "
                                      "&amp; now")
    stack.faults(case_validation={"message": "Say it nicer",
                                  "fields": ["Subject"]})
    submit(stack, form, fill(subject="Refund please"))
    form = wait_for(lambda: (lambda v: v if "case_subject_error" in
                             blocks_by_id(v["view"]) else None)(
        latest(stack, view["id"])))
    assert "Say it nicer" in shown_text(
        {"blocks": [blocks_by_id(form["view"])["case_subject_error"][1]]})
    assert len(cases(stack)) == before


def test_account_by_exact_name(stack):
    _, view = open_form(stack)
    submit(stack, view, fill(subject="For Acme", account="acme corporation"))
    made = wait_for(lambda: [c for c in cases(stack)
                             if c["Subject"] == "For Acme"])
    assert made and made[0]["AccountId"]
    _, view = open_form(stack)
    before = len(cases(stack))
    submit(stack, view, fill(subject="For nobody", account="No Such Co"))
    form = wait_for(lambda: (lambda v: v if "case_account_error" in
                             blocks_by_id(v["view"]) else None)(
        latest(stack, view["id"])))
    assert "No Salesforce account is named" in shown_text(
        {"blocks": [blocks_by_id(form["view"])["case_account_error"][1]]})
    assert len(cases(stack)) == before


def test_unlinked_user_case_created_after_linking(stack):
    hook = stack.response_url(TEAM)
    r, view = open_form(stack, LATE, response_url=hook)
    before = len(cases(stack))
    out = submit(stack, view, fill(subject="After linking"), user=LATE)
    assert out["response_action"] == "update"
    btn = blocks_by_id(out["view"])["case_login_link"][1]["elements"][0]
    login = btn["url"]
    assert "/oauth/start?state=" in login
    assert "created and shown here" in shown_text(out["view"])
    assert len(cases(stack)) == before
    # Submitted again (Slack retries an answer it missed): a login link
    # again, not a second form waiting.
    again = submit(stack, view, fill(subject="After linking"), user=LATE)
    assert "case_login_link" in blocks_by_id(again["view"])
    assert len(cases(stack)) == before
    # The person links, with the code shown and typed back in Slack.
    r, cookie = stack.start_login(login)
    assert r.status == 302, r.text
    page = stack.callback(stack.consent(r.headers["Location"],
                                        "bob@example.com"), cookie)
    assert page.status == 200
    # The page names the Case, never the form's key.
    key = view["view"]["private_metadata"]
    assert key not in page.text
    assert "/case: the Case you submitted" in page.text
    assert "The Case you submitted is being created" in \
        page.confirmed.json()["text"]
    made = wait_for(lambda: [c for c in cases(stack)
                             if c["Subject"] == "After linking"])
    assert len(made) == 1
    done = wait_for(lambda: (lambda v: v if "case_done" in
                             blocks_by_id(v["view"]) else None)(
        latest(stack, view["id"])))
    assert made[0]["CaseNumber"] in shown_text(done["view"])
    # And privately where /case was typed.
    posts = stack.wait_hook(hook)
    assert len(posts) == 1
    assert "Case %s was created" % made[0]["CaseNumber"] in \
        json.dumps(posts[0])
    # Submitting the view again creates nothing more.
    submit(stack, view, fill(subject="After linking"), user=LATE)
    time.sleep(0.5)
    assert len([c for c in cases(stack)
                if c["Subject"] == "After linking"]) == 1


def test_forged_and_foreign_metadata_refused(stack):
    _, view = open_form(stack)
    before = stack.sf_state()["composites"]
    forged = secrets.token_urlsafe(32)
    for user, meta in ((USER, forged), (USER, "x" * 3000), (USER, ""),
                       (OTHER, None)):
        out = submit(stack, view, fill(subject="Not mine"), user=user,
                     metadata=meta)
        assert out["response_action"] == "update"
        text = shown_text(out["view"])
        assert "nothing was created" in text
        # The key is never echoed into the refusal.
        assert out["view"]["private_metadata"] == ""
    time.sleep(0.5)
    assert stack.sf_state()["composites"] == before
    # The owner's own submission still works.
    submit(stack, view, fill(subject="Mine after all"))
    assert wait_for(lambda: [c for c in cases(stack)
                             if c["Subject"] == "Mine after all"])


def test_closed_form_is_forgotten(stack):
    _, view = open_form(stack)
    v = latest(stack, view["id"])
    p = stack.payload("view_closed", TEAM, USER, view={
        "id": v["id"], "hash": v["hash"], "type": "modal",
        "callback_id": "case",
        "private_metadata": v["view"]["private_metadata"],
        "state": {"values": {}}}, is_cleared=False)
    r = stack.post_action(p)
    assert r.status == 200 and r.body == b""
    out = submit(stack, view, fill(subject="After closing"))
    assert "nothing was created" in shown_text(out["view"])


def test_message_shortcut(stack):
    text = ("<@U0CASE0001|alice> says the printer &amp; the fax are down, "
            "see <https://status.example/x|the status page>\n"
            "second line <#C0E2E0001|general>")
    r = stack.slack("POST", "/_control/messages", {
        "team_id": TEAM, "channel": "C0E2E0001", "text": text})
    ts = r.json()["ts"]
    before = {v["id"] for v in views(stack)}
    p = stack.payload("message_action", TEAM, USER,
                      callback_id="create_case",
                      trigger_id=trigger(stack),
                      message={"type": "message", "text": text, "ts": ts,
                               "user": "U0CASE0001"})
    r = stack.post_action(p)
    assert r.status == 200 and r.body == b""
    view = wait_for(lambda: [v for v in views(stack, USER)
                             if v["id"] not in before])[0]
    first = view["versions"][0]
    ids = blocks_by_id(first)
    subject = ("@alice says the printer & the fax are down, see the "
               "status page (https://status.example/x)")
    assert ids["case_subject"][1]["element"]["initial_value"] == subject
    assert ids["case_description"][1]["element"]["initial_value"] == (
        subject + "\nsecond line #general")
    # The permalink comes after, in a second version.
    later = wait_for(lambda: (lambda v: v if len(v["versions"]) > 1
                              else None)(latest(stack, view["id"])))
    link = "https://e2e.slack.com/archives/C0E2E0001/p" + \
        ts.replace(".", "")
    assert link in json.dumps(later["view"])
    submit(stack, later, fill(subject=subject, description="Down."))
    made = wait_for(lambda: [c for c in cases(stack)
                             if c["Subject"] == subject])
    assert made[0]["Description"] == "Down.\n\nFrom Slack: " + link


def test_priorities_refreshed_after_the_form_opened(stack):
    open_form(stack)        # the cache holds the standard values
    # Asked again with the describe's Last-Modified: 304, nothing read.
    mark = stack.log_mark()
    open_form(stack)
    assert wait_for(lambda: "event=sf.case_describe" in stack.log_text()[
        mark:])
    assert "outcome=not_modified" in stack.log_text()[mark:]
    stack.faults(case_priorities=["P1", "P2 <urgent>"])
    try:
        _, view = open_form(stack)
        first = blocks_by_id(view["versions"][0])
        assert [o["value"] for o in first["case_priority"][1]["element"]
                ["options"]] == ["High", "Medium", "Low"]
        now = wait_for(lambda: (lambda v: v if len(v["versions"]) > 1
                                else None)(latest(stack, view["id"])))
        pri = blocks_by_id(now["view"])["case_priority"][1]["element"]
        assert [o["value"] for o in pri["options"]] == ["P1", "P2 <urgent>"]
        # Only the values offered now are taken.
        out = submit(stack, now, fill(priority="High"))
        assert out["response_action"] == "errors"
        # The next form opens with them at once.
        _, view = open_form(stack)
        assert [o["value"] for o in blocks_by_id(view["versions"][0])[
            "case_priority"][1]["element"]["options"]] == ["P1",
                                                           "P2 <urgent>"]
    finally:
        stack.faults(case_priorities=None)
    # Salesforce's values back: the next form offers them again.
    _, view = open_form(stack)
    now = wait_for(lambda: (lambda v: v if len(v["versions"]) > 1
                            else None)(latest(stack, view["id"])))
    assert [o["value"] for o in blocks_by_id(now["view"])["case_priority"][
        1]["element"]["options"]] == ["High", "Medium", "Low"]


def test_oneliner_creates_or_says_why_not(stack):
    before = len(cases(stack))
    r = stack.slash("Toner low: third floor", TEAM, USER, command="/case")
    msg = r.json()
    made = wait_for(lambda: [c for c in cases(stack)
                             if c["Subject"] == "Toner low"])
    assert made and made[0]["Description"] == "third floor"
    assert "Case %s was created" % made[0]["CaseNumber"] in msg["text"]
    stack.faults(case_validation={"message": "Closed for the holidays",
                                  "fields": []})
    r = stack.slash("Toner low: again", TEAM, USER, command="/case")
    msg = r.json()
    assert "was created" not in json.dumps(msg)
    assert "The Case was not created" in msg["text"]
    assert "Closed for the holidays" in msg["text"]
    assert len(cases(stack)) == before + 1


def test_views_open_refusals_are_told(stack):
    # A trigger Slack did not issue, then one rate limited.
    r = stack.slash("", TEAM, USER, command="/case",
                    trigger_id="1.2." + "0" * 32)
    assert "too little time" in r.json()["text"]
    stack.slack("POST", "/_control/ratelimit",
                {"method": "views.open", "count": 1, "retry_after": 30})
    r = stack.slash("", TEAM, USER, command="/case",
                    trigger_id=trigger(stack))
    assert "slow down" in r.json()["text"]
    # No row is left behind for the forms that did not open.
    assert stack.sql("SELECT count(*) FROM slack_action WHERE view_id IS "
                     "NULL OR view_id = ''")[0][0] == 0


def test_expired_session_refreshed_once_and_one_case(stack):
    _, view = open_form(stack)
    before = stack.sf_state()
    assert stack.sf("POST", "/_control/expire_access_tokens").status == 200
    submit(stack, view, fill(subject="After expiry"))
    made = wait_for(lambda: [c for c in cases(stack)
                             if c["Subject"] == "After expiry"])
    assert len(made) == 1
    after = stack.sf_state()
    # Refused with 401 (nothing created), refreshed once, sent again.
    assert after["refreshes_ok"] == before["refreshes_ok"] + 1
    assert after["composites"] == before["composites"] + 1
    assert after["case_creates"] == before["case_creates"] + 1
    done = wait_for(lambda: (lambda v: v if "case_done" in
                             blocks_by_id(v["view"]) else None)(
        latest(stack, view["id"])))
    assert made[0]["CaseNumber"] in shown_text(done["view"])


def test_integration_user_mode_creates_without_linking(stack):
    """A workspace in integration-user mode: nobody links, the form is
    submitted and the Case made in that integration's org as its Run-As
    user."""
    team, user = "T0E2E0002", "U0CASE0009"
    b = stack.start_extra_standin("bcase", "3MVG9e2e.case_org_b", org="b",
                                  run_as="integration@orgb.example")

    def admin(*args):
        r = subprocess.run([str(BUILD / "admin" / "forcelink-admin")] +
                           list(args), env=stack.env(), cwd=str(stack.dir),
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
    admin("integration", "add", "bcase", "--integration-user",
          "--login-url", b.url, "--client-id", "3MVG9e2e.case_org_b",
          "--client-secret-file", str(b.secret_file))
    admin("workspace", "set-integration", team, "bcase")
    assert stack.install(team).status == 200
    before = {v["id"] for v in views(stack)}
    r = stack.slash("", team, user, command="/case", trigger_id=stack.slack(
        "POST", "/_control/trigger", {"team_id": team, "user_id": user})
        .json()["trigger_id"])
    assert r.status == 200 and r.body == b"", r.text
    view = wait_for(lambda: [v for v in views(stack, user)
                             if v["id"] not in before])[0]
    state = {"case_subject": {"subject": {"type": "plain_text_input",
                                          "value": "As the integration"}},
             "case_priority": {"priority": {"type": "static_select",
                                            "selected_option": {
                                                "value": "Low"}}}}
    p = stack.payload("view_submission", team, user, view={
        "id": view["id"], "hash": view["hash"], "type": "modal",
        "callback_id": "case",
        "private_metadata": view["view"]["private_metadata"],
        "state": {"values": state}})
    out = json.loads(stack.post_action(p).body)
    assert out["response_action"] == "update"
    made = wait_for(lambda: [c for c in b.sf("GET", "/_control/cases")
                             .json() if c["Subject"] == "As the integration"])
    assert len(made) == 1 and made[0]["Priority"] == "Low"
    done = wait_for(lambda: (lambda v: v if "case_done" in
                             blocks_by_id(v["view"]) else None)(
        latest(stack, view["id"])))
    assert made[0]["CaseNumber"] in shown_text(done["view"])
    assert "as the integration user integration@orgb.example" in \
        shown_text(done["view"])
    assert not [c for c in cases(stack)
                if c["Subject"] == "As the integration"]
    assert stack.sql("SELECT count(*) FROM sf_link WHERE user_id = ?",
                     (user,))[0][0] == 0


FOUND = {}      # account name -> the AccountId its Case got


@pytest.mark.parametrize("typed,found", [
    ("o'brien & partners", "O'Brien & Partners"),
    ("100% Organic Ltd", "100% Organic Ltd"),
    ("Back\\slash Systems", "Back\\slash Systems"),
    ("{x} Labs", "{x} Labs"),
    # Wildcards typed are letters: no account is named like this.
    ("100_ Organic Ltd", None),
    ("%", None),
    ("Under%Holdings", None),
    ("1; DROP TABLE Account' OR Name LIKE '%", None),
])
def test_account_names_are_literal(stack, typed, found):
    _, view = open_form(stack)
    subject = "Account " + secrets.token_hex(4)
    submit(stack, view, fill(subject=subject, account=typed))
    if found is None:
        form = wait_for(lambda: (lambda v: v if "case_account_error" in
                                 blocks_by_id(v["view"]) else None)(
            latest(stack, view["id"])))
        assert form, "no error under Account"
        assert not [c for c in cases(stack) if c["Subject"] == subject]
        return
    made = wait_for(lambda: [c for c in cases(stack)
                             if c["Subject"] == subject])
    assert len(made) == 1 and made[0]["AccountId"], made
    FOUND[found] = made[0]["AccountId"]
    # Each name is its own account.
    assert len(set(FOUND.values())) == len(FOUND)


def test_expired_trigger_is_told(stack):
    trig = trigger(stack)
    # Slack's clock moves 4 s: the trigger is past its 3 s.
    stack.slack("POST", "/_control/advance", {"seconds": 4})
    r = stack.slash("", TEAM, USER, command="/case", trigger_id=trig)
    assert "too little time" in r.json()["text"]
    assert [c for c in web_calls(stack, "views.open")
            if c["error"] == "expired_trigger_id"]


def test_without_a_bot_token(tmp_path):
    """A single workspace without installation and without
    SLACK_BOT_TOKEN: the form cannot open, and says what to do; the
    one-liner works."""
    s = Stack(tmp_path).start()
    try:
        s.link(TEAM, USER, sf_user="alice@example.com")
        r = s.slash("", TEAM, USER, command="/case",
                    trigger_id="1.2." + "0" * 32)
        text = r.json()["text"]
        assert "no Slack bot token" in text and "SLACK_BOT_TOKEN" in text
        assert s.sql("SELECT count(*) FROM slack_action")[0][0] == 0
        r = s.slash("No token: still works", TEAM, USER, command="/case")
        assert "was created" in r.json()["text"]
    finally:
        s.stop()


def test_nothing_in_the_clear(stack):
    """What a form keeps (the person's text, the response_url) is sealed
    in the store and never logged; no token or secret leaks either."""
    hook = stack.response_url(TEAM)
    subject = "Confidential " + secrets.token_hex(12)
    details = "Details " + secrets.token_hex(12)
    _, view = open_form(stack, response_url=hook)
    # Kept while the form waits (submitted, not linked yet) and after.
    _, late = open_form(stack, "U0CASE0077", response_url=hook)
    submit(stack, late, fill(subject=subject, description=details),
           user="U0CASE0077")
    submit(stack, view, fill(subject=subject, description=details))
    assert wait_for(lambda: [c for c in cases(stack)
                             if c["Subject"] == subject])
    stored = stack.store_bytes()
    logged = stack.log_text()
    for value in (subject, details, hook, urllib.parse.urlparse(hook).path):
        assert value.encode() not in stored, value
        assert value not in logged, value
    assert stack.secret_leaks() == []
