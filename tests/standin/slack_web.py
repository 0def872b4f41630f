"""The Slack stand-in's Web API for modals and messages (issue 15).

Mixed into slack.py's handler and state.  It plays, with the rules Slack
documents (docs.slack.dev: "views.open", "views.update",
"chat.getPermalink", "Modals", "Handling user interaction", "Rate
limits", Block Kit's reference):

  * /api/views.open: a bot token of the trigger's workspace, a trigger_id
    that is at most 3 s old (else expired_trigger_id, the code real
    replies carry) and used once (a second use is trigger_exchanged, the
    guide's name; an unknown one invalid_trigger_id), and a view within
    Slack's limits (else invalid_arguments with response_metadata
    messages "[ERROR] ... [json-pointer:/view/...]", or view_too_large
    past 250 kB);
  * /api/views.update: view_id or external_id (exactly one), an optional
    hash that must be the view's current one (else hash_conflict), the
    same limits; each update gives the view a new hash;
  * /api/chat.getPermalink: channel and message_ts of a message posted
    with /_control/messages, in a channel the bot can see (else
    channel_not_found; an unknown ts is message_not_found); no scope
    needed, as documented;
  * on demand (/_control/ratelimit), HTTP 429 with Retry-After and
    {"ok":false,"error":"ratelimited"} for the next N calls of a method;
  * /_control/trigger mints trigger ids (the stand-in plays the Slack
    client whose slash command or click carries one);
    /_control/web_calls is every call made (method, team, outcome, the
    arguments without the token); /_control/views every view opened,
    with each version.

The views calls take a JSON body (application/json) whose "view" is an
object or a JSON string, or a form whose "view" is a JSON string, as
Slack accepts both.  Times follow the stand-in's clock (/_control/advance
moves it), so a test can age a trigger without sleeping.
"""

import json
import re
import secrets
import urllib.parse

from salesforce import Reply, to_json

JSON_TYPE = "application/json; charset=utf-8"
TRIGGER_TTL = 3.0               # "expires three seconds after it's sent"
VIEW_MAX_BYTES = 250 * 1000     # view_too_large above 250 kB
MODAL_BLOCKS_MAX = 100
TITLE_MAX = 24                  # title, submit and close
PRIVATE_METADATA_MAX = 3000
ID_MAX = 255                    # callback_id, external_id, block_id,
                                # action_id
SECTION_TEXT_MAX = 3000
LABEL_MAX = 2000
VIEW_STACK_MAX = 3
CHANNEL_RE = re.compile(r"[CGD][A-Z0-9]{2,}")
TS_RE = re.compile(r"\d{10}\.\d{6}")
TRIGGER_RE = re.compile(r"\d+\.\d+\.[0-9a-f]{32}")
WEB_METHODS = ("views.open", "views.update", "chat.getPermalink")


def web_error(error, messages=None, status=200, headers=None):
    body = {"ok": False, "error": error}
    if messages:
        body["response_metadata"] = {"messages": messages}
    return Reply(status, to_json(body), JSON_TYPE, headers)


def _text_len(obj):
    return len(obj.get("text", "")) if isinstance(obj, dict) else 0


def _plain_text(obj, where, limit, problems, required=True):
    """A plain_text object of at most limit characters."""
    if obj is None:
        if required:
            problems.append("[ERROR] missing required field: %s "
                            "[json-pointer:%s]" % (where.rsplit("/", 1)[1],
                                                  where.rsplit("/", 1)[0]
                                                  or "/"))
        return
    if not isinstance(obj, dict) or obj.get("type") != "plain_text" or \
            not isinstance(obj.get("text"), str):
        problems.append("[ERROR] failed to match all allowed schemas "
                        "[json-pointer:%s]" % where)
        return
    if len(obj["text"]) > limit:
        problems.append("[ERROR] must be less than %d characters "
                        "[json-pointer:%s/text]" % (limit + 1, where))


def view_problems(view):
    """Slack's complaints about a modal view, as response_metadata
    messages; [] when it passes."""
    p = []
    if not isinstance(view, dict):
        return ["[ERROR] must be an object [json-pointer:/view]"]
    if view.get("type") != "modal":
        p.append("[ERROR] must be one of: modal [json-pointer:/view/type]")
    _plain_text(view.get("title"), "/view/title", TITLE_MAX, p)
    _plain_text(view.get("submit"), "/view/submit", TITLE_MAX, p,
                required=False)
    _plain_text(view.get("close"), "/view/close", TITLE_MAX, p,
                required=False)
    for key, limit in (("private_metadata", PRIVATE_METADATA_MAX),
                       ("callback_id", ID_MAX), ("external_id", ID_MAX)):
        v = view.get(key)
        if v is None:
            continue
        if not isinstance(v, str):
            p.append("[ERROR] must be a string [json-pointer:/view/%s]" % key)
        elif len(v) > limit:
            p.append("[ERROR] must be less than %d characters "
                     "[json-pointer:/view/%s]" % (limit + 1, key))
    blocks = view.get("blocks")
    if not isinstance(blocks, list):
        p.append("[ERROR] missing required field: blocks "
                 "[json-pointer:/view]")
        return p
    if len(blocks) > MODAL_BLOCKS_MAX:
        p.append("[ERROR] no more than %d items allowed "
                 "[json-pointer:/view/blocks]" % MODAL_BLOCKS_MAX)
    seen, inputs = set(), 0
    for i, b in enumerate(blocks):
        where = "/view/blocks/%d" % i
        if not isinstance(b, dict) or not isinstance(b.get("type"), str):
            p.append("[ERROR] failed to match all allowed schemas "
                     "[json-pointer:%s]" % where)
            continue
        bid = b.get("block_id")
        if bid is not None:
            if not isinstance(bid, str) or len(bid) > ID_MAX:
                p.append("[ERROR] must be less than %d characters "
                         "[json-pointer:%s/block_id]" % (ID_MAX + 1, where))
            elif bid in seen:
                p.append("[ERROR] duplicate block_id: %s "
                         "[json-pointer:%s/block_id]" % (bid, where))
            seen.add(bid)
        if b["type"] == "section" and _text_len(b.get("text")) > \
                SECTION_TEXT_MAX:
            p.append("[ERROR] must be less than %d characters "
                     "[json-pointer:%s/text/text]" % (SECTION_TEXT_MAX + 1,
                                                     where))
        if b["type"] == "input":
            inputs += 1
            _plain_text(b.get("label"), where + "/label", LABEL_MAX, p)
            el = b.get("element")
            if not isinstance(el, dict) or not isinstance(el.get("type"),
                                                          str):
                p.append("[ERROR] missing required field: element "
                         "[json-pointer:%s]" % where)
            elif len(str(el.get("action_id", ""))) > ID_MAX:
                p.append("[ERROR] must be less than %d characters "
                         "[json-pointer:%s/element/action_id]" %
                         (ID_MAX + 1, where))
    if inputs and view.get("submit") is None:
        p.append("[ERROR] must provide submit when there are input blocks "
                 "[json-pointer:/view/submit]")
    return p


def new_trigger_id():
    # Shaped like Slack's: "398738663015.47445629121.803a0bc887a1...".
    return "%d.%d.%s" % (secrets.randbelow(10 ** 12),
                         secrets.randbelow(10 ** 11), secrets.token_hex(16))


def new_view_id():
    return "V" + "".join(secrets.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                        "0123456789") for _ in range(10))


def new_hash(now):
    return "%d.%s" % (int(now), secrets.token_hex(4))


class WebState:
    """The modals, triggers, messages and the call record.  The owner's
    lock guards everything here."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.triggers = {}      # trigger_id -> dict
        self.views = {}         # view_id -> dict
        self.channels = {}      # (team, channel) -> {"visible", "msgs"}
        self.calls = []         # every Web API call, in order
        self.ratelimit = {}     # method -> [count, retry_after]


class WebApi:
    """Handler methods (mixed into slack.py's Handler)."""

    # -- helpers ---------------------------------------------------------

    def web_args(self):
        """The arguments of a Web API call: a JSON object or a form (and
        the query string).  view may be an object, or a JSON string."""
        body = self.read_body() if self.command == "POST" else b""
        ctype = self.headers.get("Content-Type", "").split(";")[0]
        ctype = ctype.strip().lower()
        if ctype == "application/json" and body:
            try:
                obj = json.loads(body.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                raise web_error("invalid_json")
            if not isinstance(obj, dict):
                raise web_error("json_not_object")
            out = dict(obj)
        else:
            out, _ = self.args(body)
        query = dict(urllib.parse.parse_qsl(
            urllib.parse.urlsplit(self.path).query, keep_blank_values=True))
        for k, v in query.items():
            out.setdefault(k, v)
        if isinstance(out.get("view"), str):
            try:
                out["view"] = json.loads(out["view"])
            except ValueError:
                raise web_error("invalid_arguments", [
                    "[ERROR] the view is not valid JSON "
                    "[json-pointer:/view]"])
        return out

    def web_record(self, method, team, args, status, body):
        rec = {"method": method, "team_id": team, "status": status,
               "ok": body.get("ok", False), "error": body.get("error"),
               "args": {k: v for k, v in args.items() if k != "token"}}
        if "response_metadata" in body:
            rec["messages"] = body["response_metadata"]["messages"]
        with self.st.lock:
            self.st.web.calls.append(rec)

    def web_call(self, method, handler):
        """Runs one call: the rate limit on demand, the bot token, then
        handler(team, args) -> reply object; records it."""
        args, team = {}, None
        try:
            args = self.web_args()
            with self.st.lock:
                rl = self.st.web.ratelimit.get(method)
                if rl and rl[0] > 0:
                    rl[0] -= 1
                    raise web_error("ratelimited", status=429, headers={
                        "Retry-After": str(rl[1])})
            token = self.bearer() or args.get("token")
            if not token:
                raise web_error("not_authed")
            inst, t, err = self.st.check_token(token)
            if err:
                raise web_error(err)
            if t["kind"] != "bot":
                raise web_error("not_allowed_token_type")
            team = inst.key[1] or None
            body = handler(inst, args)
        except Reply as r:
            try:
                obj = json.loads(r.body)
            except (TypeError, ValueError):
                obj = {}
            self.web_record(method, team, args, r.status, obj)
            raise
        self.web_record(method, team, args, 200, body)
        raise Reply(200, to_json(body), JSON_TYPE)

    def view_json(self, v):
        out = dict(v["view"])
        out.update({"id": v["id"], "team_id": v["team"], "type": "modal",
                    "state": {"values": {}}, "hash": v["hash"],
                    "private_metadata": v["view"].get("private_metadata",
                                                      ""),
                    "callback_id": v["view"].get("callback_id", ""),
                    "external_id": v["external_id"] or "",
                    "clear_on_close": bool(v["view"].get("clear_on_close")),
                    "notify_on_close": bool(
                        v["view"].get("notify_on_close")),
                    "root_view_id": v["id"], "previous_view_id": None,
                    "app_id": "A0E2EFLINK", "app_installed_team_id":
                    v["team"], "bot_id": v["bot_id"]})
        return {"ok": True, "view": out}

    def check_view(self, args):
        view = args.get("view")
        if view is None:
            raise web_error("invalid_arguments", [
                "[ERROR] missing required field: view [json-pointer:/]"])
        if len(to_json(view)) > VIEW_MAX_BYTES:
            raise web_error("view_too_large")
        problems = view_problems(view)
        if problems:
            raise web_error("invalid_arguments", problems)
        return view

    # -- the methods -----------------------------------------------------

    def views_open(self):
        self.web_call("views.open", self._views_open)

    def _views_open(self, inst, args):
        st, team = self.st, inst.key[1]
        trig = args.get("trigger_id")
        if not isinstance(trig, str) or not trig:
            raise web_error("invalid_arguments", [
                "[ERROR] missing required field: trigger_id "
                "[json-pointer:/]"])
        view = self.check_view(args)
        with st.lock:
            t = st.web.triggers.get(trig)
            # Another workspace's trigger is as unknown as a made-up one.
            if t is None or t["team"] != team:
                raise web_error("invalid_trigger_id")
            if t["used"]:
                raise web_error("trigger_exchanged")
            if st.now() - t["issued"] > TRIGGER_TTL:
                raise web_error("expired_trigger_id")
            ext = view.get("external_id")
            if ext and any(v["team"] == team and v["external_id"] == ext
                           for v in st.web.views.values()):
                raise web_error("duplicate_external_id")
            t["used"] = True
            vid = new_view_id()
            v = {"id": vid, "team": team, "user": t["user"],
                 "bot_id": "B0BOT" + team[1:], "view": view,
                 "hash": new_hash(st.now()), "versions": [view],
                 "external_id": ext or None,
                 "trigger_id": trig}
            st.web.views[vid] = v
            return self.view_json(v)

    def views_update(self):
        self.web_call("views.update", self._views_update)

    def _views_update(self, inst, args):
        st, team = self.st, inst.key[1]
        vid, ext = args.get("view_id"), args.get("external_id")
        if bool(vid) == bool(ext):
            raise web_error("invalid_arguments", [
                "[ERROR] exactly one of view_id and external_id is "
                "required [json-pointer:/]"])
        view = self.check_view(args)
        with st.lock:
            if vid:
                v = st.web.views.get(vid)
            else:
                v = next((x for x in st.web.views.values()
                          if x["team"] == team and
                          x["external_id"] == ext), None)
            if v is None or v["team"] != team:
                raise web_error("not_found")
            h = args.get("hash")
            if h not in (None, "") and h != v["hash"]:
                raise web_error("hash_conflict")
            # The view keeps its external_id unless the new one names
            # another.
            if view.get("external_id"):
                v["external_id"] = view["external_id"]
            v["view"] = view
            v["versions"].append(view)
            v["hash"] = new_hash(st.now())
            return self.view_json(v)

    def chat_get_permalink(self):
        self.web_call("chat.getPermalink", self._permalink)

    def _permalink(self, inst, args):
        st, team = self.st, inst.key[1]
        ch, ts = args.get("channel"), args.get("message_ts")
        if not isinstance(ch, str) or not isinstance(ts, str) or \
                not ch or not ts:
            raise web_error("invalid_arguments")
        with st.lock:
            c = st.web.channels.get((team, ch))
            if c is None or not c["visible"]:
                raise web_error("channel_not_found")
            m = c["msgs"].get(ts)
            if m is None:
                raise web_error("message_not_found")
        domain = self.workspace_domain(team)
        link = "https://%s.slack.com/archives/%s/p%s" % (
            domain, ch, ts.replace(".", ""))
        if m["thread_ts"]:
            link += "?thread_ts=%s&cid=%s" % (m["thread_ts"], ch)
        return {"ok": True, "channel": ch, "permalink": link}

    # -- control ---------------------------------------------------------

    def web_control(self, what, m, arg):
        """The Web API's controls; None when what is not one of them."""
        st = self.st
        if m == "POST" and what == "trigger":
            team, user = arg.get("team_id"), arg.get("user_id", "U0E2E0001")
            if not self.known_team(team) or not isinstance(user, str):
                raise Reply(400, to_json({
                    "error": "team_id (a known workspace) expected"}),
                    JSON_TYPE)
            trig = new_trigger_id()
            with st.lock:
                st.web.triggers[trig] = {"team": team, "user": user,
                                         "issued": st.now(), "used": False}
            return {"trigger_id": trig}
        if m == "POST" and what == "ratelimit":
            method, n = arg.get("method"), arg.get("count", 1)
            after = arg.get("retry_after", 1)
            if method not in WEB_METHODS or \
                    not isinstance(n, int) or isinstance(n, bool) or \
                    n < 0 or not isinstance(after, int) or \
                    isinstance(after, bool) or after < 0:
                raise Reply(400, to_json({
                    "error": "method (one of %s), count and retry_after "
                    "(integers) expected" % ", ".join(WEB_METHODS)}),
                    JSON_TYPE)
            with st.lock:
                st.web.ratelimit[method] = [n, after]
                return {k: v[0] for k, v in st.web.ratelimit.items()}
        if m == "POST" and what == "messages":
            team, ch = arg.get("team_id"), arg.get("channel")
            thread = arg.get("thread_ts")
            if not self.known_team(team) or not isinstance(ch, str) or \
                    not CHANNEL_RE.fullmatch(ch) or \
                    not isinstance(arg.get("text", ""), str) or \
                    (thread is not None and (not isinstance(thread, str) or
                                             not TS_RE.fullmatch(thread))):
                raise Reply(400, to_json({
                    "error": "team_id, channel (C…, G… or D…), text and "
                    "an optional thread_ts expected"}), JSON_TYPE)
            with st.lock:
                c = st.web.channels.setdefault(
                    (team, ch), {"visible": True, "msgs": {}})
                if "visible" in arg:
                    c["visible"] = bool(arg["visible"])
                now = st.now()
                ts = "%010d.%06d" % (int(now), len(c["msgs"]) + 1)
                c["msgs"][ts] = {"text": arg.get("text", ""),
                                 "user": arg.get("user_id", "U0E2E0001"),
                                 "thread_ts": thread}
            return {"channel": ch, "ts": ts}
        if m == "GET" and what == "web_calls":
            with st.lock:
                return json.loads(json.dumps(st.web.calls))
        if m == "GET" and what == "views":
            with st.lock:
                return [{"id": v["id"], "team_id": v["team"],
                         "user_id": v["user"], "hash": v["hash"],
                         "view": v["view"], "versions": v["versions"]}
                        for v in st.web.views.values()]
        return None
