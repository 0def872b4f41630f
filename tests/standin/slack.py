#!/usr/bin/python3
"""Slack stand-in for forcelink's end-to-end tests: installing a Slack app.

One process, one HTTPS port, all state in memory.  It plays, with the paths
and the wire formats Slack documents (docs.slack.dev: "Installing with
OAuth", "oauth.v2.access", "Using token rotation", "auth.test",
"Developing for Enterprise orgs"):

  * /oauth/v2/authorize: the page where someone chooses a workspace (or, on
    Enterprise Grid, a whole organization: an org-wide install) and allows
    or denies the app; Allow redirects with code and state, Deny with
    error=access_denied and state;
  * /api/oauth.v2.access: the code exchange (client id and secret in the
    form body or HTTP Basic, one-time codes bound to the redirect URI) and,
    with token rotation, grant_type=refresh_token; replies exactly as
    documented for a workspace and an org-wide install, errors as HTTP 200
    {"ok":false,"error":...};
  * /api/auth.test: who a token is (Bearer);
  * Sign in with Slack ("Sign in with Slack", "openid.connect.token",
    "openid.connect.userInfo"): /openid/connect/authorize, a page that
    asks which Slack user signs in; /api/openid.connect.token, which
    answers an access token and an id_token (HS256, see jwt_hs256); and
    /api/openid.connect.userInfo, the claims by scope;
  * /api/users.info with a bot token, read from a directory of user
    profiles that tests fill in;
  * views.open, views.update and chat.getPermalink with their rules
    (trigger ids valid 3 s and once, view limits, hashes, 429 on demand),
    every call recorded: see slack_web.py;
  * a test control API under /_control/ (reset, faults, clock, counters,
    users, the signed-in identity, minted bot tokens, the ledger of every
    secret issued; trigger ids, messages, rate limits, the Web API's
    calls and views).

Python 3 standard library only.  See README.md beside this file (section
"Slack stand-in").  No token, code or secret value is ever logged.
"""

import argparse
import base64
import binascii
import hashlib
import hmac
import html
import json
import os
import re
import secrets
import signal
import socket
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from salesforce import Log, Reply, safe_target, to_json, write_ready  # noqa
from slack_web import WebApi, WebState  # noqa

# --------------------------------------------------------------------------
# Fixed identities and limits

MAX_BODY = 1024 * 1024
CODE_TTL = 10 * 60              # "the code expires after ten minutes"
CONSENT_TTL = 15 * 60           # an unanswered authorize page
ROTATION_TTL = 43200            # rotating tokens expire every 12 hours
APP_ID = "A0E2EFLINK"
JSON_TYPE = "application/json; charset=utf-8"
FORM_TYPE = "application/x-www-form-urlencoded"
SCOPE_RE = re.compile(r"[a-z][a-z0-9_.]*(:[a-z0-9_.]+)*")
USER_RE = re.compile(r"[UW][A-Z0-9]{2,}")     # a Slack user id
OIDC_SCOPES = ("openid", "email", "profile")
ID_TOKEN_TTL = 300              # exp - iat of Slack's id_tokens
ISSUER = "https://slack.com"
CHALLENGE_RE = re.compile(r"[A-Za-z0-9_-]{43}")
VERIFIER_RE = re.compile(r"[A-Za-z0-9._~-]{43,128}")
# What /_control/users may set of a Slack user's profile.
PROFILE_FIELDS = {"name": str, "real_name": str, "display_name": str,
                  "email": str, "email_verified": bool, "deleted": bool,
                  "unknown": bool}

# The Enterprise Grid organization.  Its name carries HTML so that a page
# showing it proves it escapes it.
ENTERPRISES = {
    "E0GRID0001": {"name": "Grid <Org> & Co", "domain": "gridorg"},
}

# The workspaces someone may install into.
WORKSPACES = [
    {"id": "T0E2E0001", "name": "E2E Workspace", "domain": "e2e",
     "enterprise": None},
    {"id": "T0E2E0002", "name": "Second Workspace", "domain": "second",
     "enterprise": None},
    {"id": "T0GRID0001", "name": "Grid Sales", "domain": "gridsales",
     "enterprise": "E0GRID0001"},
    {"id": "T0GRID0002", "name": "Grid Support", "domain": "gridsupport",
     "enterprise": "E0GRID0001"},
    # scripts/run's demo workspace (scripts/slash plays its users).
    {"id": "T0DEMO0001", "name": "Demo Workspace", "domain": "demo",
     "enterprise": None},
]
WORKSPACES_BY_ID = {w["id"]: w for w in WORKSPACES}
DEFAULT_INSTALLER = "U0E2EADMIN"

FAULT_TYPES = {
    "rotate": bool,                 # token rotation on or off
    "token_ttl": (int, float),      # expires_in of tokens issued from now
    "access_delay": (int, float),   # sleep before answering oauth.v2.access
    "refresh_reply_delay": (int, float),  # a refresh is done, its reply late
    "access_status": int,           # oauth.v2.access answers this status
    "access_body": str,             # ... or 200 with this raw text
    "access_error": str,            # ... or {"ok":false,"error":this}
    "access_team": str,             # the reply names this team id instead
    "auth_test_error": str,         # auth.test answers {"ok":false,...}
    "auth_test_user": str,          # auth.test names this user id instead
    "auto_install": str,            # GET authorize skips the page: "T..."
                                    # or "org:E..."
    "oidc_token_error": str,        # openid.connect.token fails with this
    "oidc_userinfo_error": str,     # openid.connect.userInfo fails so
    "oidc_userinfo_status": int,    # ... or answers this HTTP status
    "oidc_userinfo_delay": (int, float),  # sleep before answering it
    "users_info_error": str,        # users.info fails with this
}


def _digits(n):
    return "".join(secrets.choice("0123456789") for _ in range(n))


def _alnum(n):
    return "".join(secrets.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijkl"
                                  "mnopqrstuvwxyz0123456789")
                   for _ in range(n))


def new_code():
    # Shaped like Slack's: "4724469134.4644010092847.232b4e6d...".
    return "%s.%s.%s" % (_digits(10), _digits(13), secrets.token_hex(32))


def new_bot_token(rotating):
    if rotating:
        return "xoxe.xoxb-1-" + _alnum(120)
    return "xoxb-%s-%s-%s" % (_digits(11), _digits(13), _alnum(24))


def new_user_token(rotating):
    if rotating:
        return "xoxe.xoxp-1-" + _alnum(120)
    return "xoxp-%s-%s-%s-%s" % (_digits(11), _digits(13), _digits(13),
                                 secrets.token_hex(16))


def new_refresh_token():
    return "xoxe-1-" + _alnum(140)


def b64url(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def pkce_challenge(verifier):
    return b64url(hashlib.sha256(verifier.encode("ascii")).digest())


def jwt_hs256(claims, key):
    """A signed JWT.  Slack signs id_tokens with RS256 (keys at
    /openid/connect/keys); Python's standard library has no RSA, so the
    stand-in signs with HS256 and the client secret as the key, as
    OpenID Connect Core 10.1 does for HMAC algorithms.  forcelink reads
    the identity from openid.connect.userInfo, not from this signature."""
    head = b64url(json.dumps({"typ": "JWT", "alg": "HS256",
                              "kid": "standin-hs256"},
                             separators=(",", ":")).encode())
    body = b64url(json.dumps(claims, separators=(",", ":"),
                             ensure_ascii=False).encode("utf-8"))
    mac = hmac.new(key.encode("utf-8"), ("%s.%s" % (head, body)).encode(),
                   hashlib.sha256).digest()
    return "%s.%s.%s" % (head, body, b64url(mac))


def bot_ids(key):
    """Bot user id and bot id of an installation (stable per key)."""
    tag = (key[1] or key[0])[1:]
    return "U0BOT" + tag, "B0BOT" + tag


# --------------------------------------------------------------------------
# State

class Install:
    """One installation: a workspace, or an enterprise (org-wide)."""

    def __init__(self, key, scopes, installer, rotating, now):
        self.key = key                  # (enterprise or "", team or "")
        self.scopes = scopes
        self.installer = installer
        self.rotating = rotating
        self.created = now
        self.revoked = False
        self.refresh = None             # the live refresh token


class State:
    """Everything the server remembers; every method takes the lock."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.lock = threading.Lock()
        # Every secret issued since start, kept across resets: the tests
        # search forcelink's logs and files for each of them.
        self.ledger = set()
        self.reset()

    def reset(self):
        with self.lock:
            self.offset = 0.0
            self.faults = {}
            self.pending = {}       # authorize page id -> request
            self.codes = {}         # code -> dict
            self.installs = {}      # key -> Install
            self.tokens = {}        # access token -> dict
            self.refresh = {}       # refresh token -> [key, spent]
            self.inflight = 0
            # Sign in with Slack: codes and access tokens, the default
            # identity of the sign-in page, and the user directory
            # (team -> user -> profile fields set by /_control/users).
            self.oidc_codes = {}    # code -> dict
            self.oidc_tokens = {}   # access token -> dict
            self.oidc_identity = {}
            self.directory = {}
            # Modals, messages and the Web API's call record.
            self.web = WebState()
            self.c = {
                "authorize_requests": 0, "installs": 0, "denials": 0,
                "oauth_access": {"authorization_code": 0,
                                 "refresh_token": 0, "other": 0},
                "code_exchanges_ok": 0, "refreshes_ok": 0,
                "refreshes_refused": 0, "spent_refresh_presented": 0,
                "auth_tests": 0, "auth_tests_ok": 0,
                "max_inflight_access": 0,
                "oidc_authorize_requests": 0, "oidc_signins": 0,
                "oidc_denials": 0, "openid.connect.token": 0,
                "openid.connect.token_ok": 0, "openid.connect.userInfo": 0,
                "openid.connect.userInfo_ok": 0, "users.info": 0,
                "users.info_ok": 0,
            }

    def now(self):
        return time.time() + self.offset

    def rotating(self):
        return self.faults.get("rotate", self.cfg.rotate)

    def ttl(self):
        return self.faults.get("token_ttl", self.cfg.token_ttl)

    def snapshot_faults(self):
        with self.lock:
            return dict(self.faults)

    def set_faults(self, changes):
        """Merge changes (null removes a key); returns an error or None."""
        for key, value in changes.items():
            if key not in FAULT_TYPES:
                return "unknown fault '%s'" % key
            want = FAULT_TYPES[key]
            if value is not None and (not isinstance(value, want) or
                                      (want is int and
                                       isinstance(value, bool))):
                return "fault '%s' has the wrong type" % key
        with self.lock:
            for key, value in changes.items():
                if value is None:
                    self.faults.pop(key, None)
                else:
                    self.faults[key] = value
        return None

    def count(self, key, sub=None):
        with self.lock:
            if sub is None:
                self.c[key] += 1
            else:
                self.c[key][sub] += 1

    def access_begin(self):
        with self.lock:
            self.inflight += 1
            self.c["max_inflight_access"] = max(
                self.c["max_inflight_access"], self.inflight)

    def access_end(self):
        with self.lock:
            self.inflight -= 1

    # -- the authorize page and codes ----------------------------------

    def add_pending(self, req):
        pid = secrets.token_urlsafe(24)
        with self.lock:
            now = self.now()
            for k in [k for k, v in self.pending.items()
                      if v["expires"] < now]:
                del self.pending[k]
            req["expires"] = now + CONSENT_TTL
            self.pending[pid] = req
        return pid

    def take_pending(self, pid, kind):
        """The page request pid answers, if it is of this kind ("install"
        or "oidc") and not stale; one use."""
        with self.lock:
            req = self.pending.get(pid)
            if req is None or req["kind"] != kind:
                return None
            del self.pending[pid]
            if req["expires"] < self.now():
                return None
            return req

    def new_code(self, req, key, installer):
        code = new_code()
        with self.lock:
            self.ledger.add(code)
            self.codes[code] = {"req": req, "key": key,
                                "installer": installer,
                                "expires": self.now() + CODE_TTL}
        return code

    def take_code(self, code):
        """Consume a code (one use, whatever the outcome); None if stale."""
        with self.lock:
            entry = self.codes.pop(code, None)
            if entry is None or entry["expires"] < self.now():
                return None
            return entry

    # -- Sign in with Slack ----------------------------------------------

    def new_oidc_code(self, req, team, user):
        code = new_code()
        with self.lock:
            self.ledger.add(code)
            self.oidc_codes[code] = {"req": req, "team": team, "user": user,
                                     "auth_time": int(self.now()),
                                     "expires": self.now() + CODE_TTL}
        return code

    def take_oidc_code(self, code):
        """Consume a code (one use, whatever the outcome); None if stale."""
        with self.lock:
            entry = self.oidc_codes.pop(code, None)
            if entry is None or entry["expires"] < self.now():
                return None
            return entry

    def new_oidc_token(self, team, user, scopes):
        tok = new_user_token(False)
        with self.lock:
            self.ledger.add(tok)
            self.oidc_tokens[tok] = {"team": team, "user": user,
                                     "scopes": scopes}
        return tok

    def oidc_token(self, token):
        with self.lock:
            return self.oidc_tokens.get(token)

    def remember(self, secret):
        with self.lock:
            self.ledger.add(secret)

    # -- the user directory ----------------------------------------------

    def set_users(self, changes):
        """Merge {team: {user: {field: value}}} (null removes a field);
        returns an error or None."""
        for team, users in changes.items():
            if team not in WORKSPACES_BY_ID:
                return "unknown workspace '%s'" % team
            if not isinstance(users, dict):
                return "workspace '%s' needs an object" % team
            for user, fields in users.items():
                if not USER_RE.fullmatch(user):
                    return "'%s' is not a Slack user id" % user
                if not isinstance(fields, dict):
                    return "user '%s' needs an object" % user
                for k, v in fields.items():
                    if k not in PROFILE_FIELDS:
                        return "unknown profile field '%s'" % k
                    if v is not None and \
                            not isinstance(v, PROFILE_FIELDS[k]):
                        return "profile field '%s' has the wrong type" % k
        with self.lock:
            for team, users in changes.items():
                for user, fields in users.items():
                    prof = self.directory.setdefault(team, {}).setdefault(
                        user, {})
                    for k, v in fields.items():
                        if v is None:
                            prof.pop(k, None)
                        else:
                            prof[k] = v
        return None

    def directory_json(self):
        with self.lock:
            return {t: {u: dict(p) for u, p in users.items()}
                    for t, users in self.directory.items()}

    def profile(self, team, user):
        """A user's profile: the defaults, then what the directory sets."""
        name = user.lower()
        out = {"name": name, "real_name": name, "display_name": name,
               "email": "%s@%s.example" % (
                   name, WORKSPACES_BY_ID[team]["domain"]),
               "email_verified": True, "deleted": False, "unknown": False}
        with self.lock:
            out.update(self.directory.get(team, {}).get(user, {}))
        return out

    def member(self, team, user):
        """Is user a member of team?  Any well-formed id is, unless the
        directory marks it unknown there or lists it only in other
        workspaces."""
        if not USER_RE.fullmatch(user or ""):
            return False
        with self.lock:
            prof = self.directory.get(team, {}).get(user)
            if prof is not None:
                return not prof.get("unknown")
            return not any(user in users and not users[user].get("unknown")
                           for t, users in self.directory.items()
                           if t != team)

    # -- installations and tokens ---------------------------------------

    def _issue(self, inst, kind, rotating):
        tok = (new_bot_token if kind == "bot" else new_user_token)(rotating)
        self.ledger.add(tok)
        self.tokens[tok] = {"key": inst.key, "kind": kind,
                            "user": inst.installer,
                            "expires": (self.now() + self.ttl()
                                        if rotating else None),
                            "revoked": False, "inst": inst}
        return tok

    def _revoke(self, inst):
        inst.revoked = True
        for t in self.tokens.values():
            if t["inst"] is inst:
                t["revoked"] = True
        for entry in self.refresh.values():
            if entry[0] is inst:
                entry[1] = True

    def install(self, key, scopes, user_scopes, installer):
        """A new installation from a code exchange; replaces (and revokes)
        an older one with the same key.  Returns (install, bot token,
        refresh token or None, user token or None, user refresh or None,
        expires_in or None)."""
        with self.lock:
            old = self.installs.get(key)
            if old is not None:
                self._revoke(old)
            rotating = self.rotating()
            inst = Install(key, scopes, installer, rotating, self.now())
            self.installs[key] = inst
            bot = self._issue(inst, "bot", rotating)
            refresh = user = user_refresh = None
            if rotating:
                refresh = self._new_refresh(inst)
            if user_scopes:
                user = self._issue(inst, "user", rotating)
                if rotating:
                    user_refresh = new_refresh_token()
                    self.ledger.add(user_refresh)
            return (inst, bot, refresh, user, user_refresh,
                    self.ttl() if rotating else None)

    def _new_refresh(self, inst):
        tok = new_refresh_token()
        self.ledger.add(tok)
        self.refresh[tok] = [inst, False]
        inst.refresh = tok
        return tok

    def use_refresh(self, token):
        """Returns (install, new access, new refresh, ttl) or Nones."""
        with self.lock:
            entry = self.refresh.get(token)
            if entry is None:
                return None, None, None, None
            inst, spent = entry
            if spent:
                self.c["spent_refresh_presented"] += 1
                return None, None, None, None
            if inst.revoked:
                return None, None, None, None
            # "The refresh token is then revoked": one use only.
            entry[1] = True
            access = self._issue(inst, "bot", True)
            return inst, access, self._new_refresh(inst), self.ttl()

    def mint_bot_token(self, team, scopes):
        """A bot token for a workspace, made without an installation (the
        single-workspace SLACK_BOT_TOKEN set-up): an installation of its
        own that no other install replaces."""
        w = WORKSPACES_BY_ID[team]
        with self.lock:
            inst = Install((w["enterprise"] or "", team), scopes,
                           DEFAULT_INSTALLER, False, self.now())
            return self._issue(inst, "bot", False)

    def revoke_token(self, token):
        with self.lock:
            t = self.tokens.get(token)
            if t is None:
                return False
            t["revoked"] = True
            return True

    def check_token(self, token):
        """(install, token entry, error or None) for auth.test."""
        with self.lock:
            t = self.tokens.get(token)
            if t is None:
                return None, None, "invalid_auth"
            if t["revoked"]:
                return None, None, "token_revoked"
            if t["expires"] is not None and t["expires"] <= self.now():
                return None, None, "token_expired"
            return t["inst"], t, None

    def expire_tokens(self, team=None, enterprise=None):
        """Every rotating access token (of one installation, when named)
        expires now.  Returns how many were live."""
        with self.lock:
            n = 0
            for t in self.tokens.values():
                if (team is not None or enterprise is not None) and \
                        t["key"] != (enterprise or "", team or ""):
                    continue
                if t["expires"] is None:
                    continue
                if not t["revoked"] and t["expires"] > self.now():
                    n += 1
                t["expires"] = self.now() - 1
            return n

    def uninstall(self, team=None, enterprise=None):
        with self.lock:
            inst = self.installs.pop((enterprise or "", team or ""), None)
            if inst is None:
                return False
            self._revoke(inst)
            return True

    def installs_json(self):
        with self.lock:
            out = []
            for (ent, team), i in sorted(self.installs.items()):
                live = [t for t in self.tokens.values()
                        if t["inst"] is i and t["kind"] == "bot"
                        and not t["revoked"]]
                out.append({"enterprise_id": ent, "team_id": team,
                            "scopes": i.scopes, "installer": i.installer,
                            "rotating": i.rotating,
                            "live_bot_tokens": len(live)})
            return out

    def state_json(self):
        with self.lock:
            out = json.loads(json.dumps(self.c))
            out["faults"] = dict(self.faults)
            out["clock_offset"] = self.offset
            out["rotate"] = self.rotating()
            out["oidc_identity"] = dict(self.oidc_identity)
        out["installations"] = self.installs_json()
        return out

    def ledger_json(self):
        with self.lock:
            return sorted(self.ledger)


# --------------------------------------------------------------------------
# HTTP

STOPPING = threading.Event()


def api_error(error, status=200):
    """Slack's error envelope: HTTP 200 (unless told) and ok:false."""
    return Reply(status, to_json({"ok": False, "error": error}), JSON_TYPE)


class Handler(WebApi, BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60

    def version_string(self):
        return "SlackStandIn/1.0"

    def log_request(self, code="-", size="-"):
        pass

    def log_message(self, fmt, *args):
        self.server.log.write("%s %s" % (self.client_address[0],
                                         fmt % args))

    def log_done(self, status):
        ms = (time.monotonic() - self.t0) * 1000
        self.server.log.write("%s %s %s %s %.1fms" % (
            self.client_address[0], self.command,
            safe_target(self.path), status, ms))

    @property
    def st(self):
        return self.server.state

    def send_body(self, status, body, ctype, headers=None):
        if isinstance(body, str):
            body = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.log_done(status)

    def read_body(self):
        self.body_read = True
        length = self.headers.get("Content-Length")
        if length is None:
            if self.headers.get("Transfer-Encoding"):
                self.close_connection = True
                raise Reply(411, "length required")
            return b""
        try:
            n = int(length)
        except ValueError:
            n = -1
        if n < 0:
            self.close_connection = True
            raise Reply(400, "bad Content-Length")
        if n > MAX_BODY:
            self.close_connection = True
            raise Reply(413, "request body too large")
        return self.rfile.read(n)

    def args(self, body):
        """The method's arguments: the form body (or a JSON object), and
        the query string.  A repeated argument is refused."""
        ctype = self.headers.get("Content-Type", "").split(";")[0]
        ctype = ctype.strip().lower()
        out = {}
        if ctype == "application/json" and body:
            try:
                obj = json.loads(body.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                raise api_error("invalid_json")
            if not isinstance(obj, dict):
                raise api_error("invalid_json")
            out = {k: str(v) for k, v in obj.items()}
        elif body:
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                raise api_error("invalid_form_data")
            for k, v in urllib.parse.parse_qsl(text,
                                               keep_blank_values=True):
                if k in out:
                    raise api_error("invalid_arguments")
                out[k] = v
        return out, dict(urllib.parse.parse_qsl(
            urllib.parse.urlsplit(self.path).query, keep_blank_values=True))

    def bearer(self):
        scheme, _, value = self.headers.get("Authorization", "").partition(
            " ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
        return None

    def basic(self):
        """(client_id, client_secret) from HTTP Basic, or None."""
        scheme, _, value = self.headers.get("Authorization", "").partition(
            " ")
        if scheme.lower() != "basic":
            return None
        try:
            raw = base64.b64decode(value.strip(), validate=True)
            cid, sep, secret = raw.decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise api_error("invalid_client_id")
        if not sep:
            raise api_error("invalid_client_id")
        return urllib.parse.unquote(cid), urllib.parse.unquote(secret)

    def delay(self, seconds):
        if seconds:
            STOPPING.wait(float(seconds))

    # -- dispatch ------------------------------------------------------

    def do_GET(self):
        self.dispatch()

    def do_POST(self):
        self.dispatch()

    def dispatch(self):
        self.t0 = time.monotonic()
        path = urllib.parse.urlsplit(self.path).path
        self.body_read = False
        try:
            self.route(path)
        except Reply as r:
            if not self.body_read and (
                    self.headers.get("Content-Length", "0").strip() != "0"
                    or "Transfer-Encoding" in self.headers):
                self.close_connection = True
            self.send_body(r.status, r.body, r.ctype, r.headers)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError,
                socket.timeout):
            self.close_connection = True
        except Exception as e:          # a bug here must not kill the server
            self.close_connection = True
            self.server.log.write("internal error on %s: %r" % (path, e))
            try:
                self.send_body(500, to_json({"ok": False,
                                             "error": "internal_error"}),
                               JSON_TYPE)
            except OSError:
                pass

    def route(self, path):
        m = self.command
        if path == "/oauth/v2/authorize":
            if m == "GET":
                return self.authorize_get()
            if m == "POST":
                return self.authorize_post()
        elif path == "/api/oauth.v2.access":
            if m == "POST":
                return self.oauth_access()
        elif path == "/api/auth.test":
            if m in ("GET", "POST"):
                return self.auth_test()
        elif path == "/openid/connect/authorize":
            if m == "GET":
                return self.oidc_authorize_get()
            if m == "POST":
                return self.oidc_authorize_post()
        elif path == "/api/openid.connect.token":
            if m == "POST":
                return self.oidc_token()
        elif path == "/api/openid.connect.userInfo":
            if m in ("GET", "POST"):
                return self.oidc_userinfo()
        elif path == "/api/users.info":
            if m in ("GET", "POST"):
                return self.users_info()
        elif path == "/api/views.open":
            if m == "POST":
                return self.views_open()
        elif path == "/api/views.update":
            if m == "POST":
                return self.views_update()
        elif path == "/api/chat.getPermalink":
            if m in ("GET", "POST"):
                return self.chat_get_permalink()
        elif path.startswith("/api/"):
            raise api_error("unknown_method", 404)
        elif path.startswith("/_control/"):
            return self.control(path[len("/_control/"):])
        else:
            raise Reply(404, "Not Found")
        raise Reply(405, "Method Not Allowed", headers={"Allow": "GET, POST"})

    # -- the authorize page ---------------------------------------------

    def page(self, status, title, body_html):
        doc = ("<!DOCTYPE html>\n<html lang=\"en\"><head>"
               "<meta charset=\"utf-8\"><title>%s</title><style>"
               "body{font-family:sans-serif;max-width:34em;margin:3em auto;"
               "padding:0 1em}label{display:block;margin:.4em 0}"
               "button{margin-right:1em;padding:.4em 1.2em}"
               "</style></head><body>%s</body></html>\n"
               % (html.escape(title), body_html))
        raise Reply(status, doc, "text/html; charset=utf-8", {
            "Cache-Control": "no-cache,no-store",
            "X-Frame-Options": "DENY",
            "Content-Security-Policy": "default-src 'none'; "
            "style-src 'unsafe-inline'; frame-ancestors 'none'"})

    def error_page(self, error):
        self.page(400, "Slack", "<h1>Oops, something went wrong</h1>"
                  "<p>Please try again, or contact the app's developer."
                  "</p><p><code>%s</code></p>" % html.escape(error))

    def redirect(self, uri, params):
        sep = "&" if "?" in uri else "?"
        location = uri + sep + urllib.parse.urlencode(
            [(k, v) for k, v in params if v is not None])
        raise Reply(302, "", headers={"Location": location,
                                      "Cache-Control": "no-cache,no-store"})

    def authorize_get(self):
        self.st.count("authorize_requests")
        p = dict(urllib.parse.parse_qsl(
            urllib.parse.urlsplit(self.path).query, keep_blank_values=True))
        cfg = self.server.cfg
        if not hmac.compare_digest(p.get("client_id", ""), cfg.client_id):
            self.error_page("invalid_client_id")
        sent = p.get("redirect_uri")
        if sent is not None and sent != cfg.redirect_uri:
            self.error_page("bad_redirect_uri")
        scopes = [s for s in p.get("scope", "").split(",") if s]
        user_scopes = [s for s in p.get("user_scope", "").split(",") if s]
        if not scopes and not user_scopes:
            self.error_page("invalid_scope")
        if any(not SCOPE_RE.fullmatch(s) for s in scopes + user_scopes):
            self.error_page("invalid_scope")
        req = {"kind": "install", "redirect_uri": sent,
               "state": p.get("state"), "scopes": scopes,
               "user_scopes": user_scopes}
        auto = self.st.snapshot_faults().get("auto_install")
        if auto is not None:
            key = self.choice_key(auto)
            if key is None:
                self.error_page("invalid_team")
            self.st.count("installs")
            code = self.st.new_code(req, key, DEFAULT_INSTALLER)
            self.redirect(cfg.redirect_uri, [("code", code),
                                             ("state", req["state"])])
        self.consent_page(self.st.add_pending(req), scopes, p.get("team"))

    @staticmethod
    def choice_key(choice):
        """The installation key a choice on the page names: a workspace
        id, or "org:E..." for an org-wide install; None if unknown."""
        if choice.startswith("org:") and choice[4:] in ENTERPRISES:
            return (choice[4:], "")
        w = WORKSPACES_BY_ID.get(choice)
        if w is None:
            return None
        return (w["enterprise"] or "", w["id"])

    def consent_page(self, pid, scopes, hint):
        rows = []
        for n, w in enumerate(WORKSPACES):
            checked = w["id"] == hint or (n == 0 and hint is None)
            rows.append('<label><input type="radio" name="team" '
                        'value="%s"%s> %s (%s)</label>' % (
                            w["id"], " checked" if checked else "",
                            html.escape(w["name"]), w["id"]))
        for eid, e in sorted(ENTERPRISES.items()):
            rows.append('<label><input type="radio" name="team" '
                        'value="org:%s"> every workspace of %s (org-wide)'
                        '</label>' % (eid, html.escape(e["name"])))
        self.page(200, "Slack", "<h1>forcelink is requesting permission "
                  "to access a Slack workspace</h1><p>It will be able to: "
                  "%s</p>"
                  '<form method="post" action="/oauth/v2/authorize">'
                  '<input type="hidden" name="consent" value="%s">'
                  "<fieldset><legend>Install into</legend>%s</fieldset>"
                  '<input type="hidden" name="user" value="%s"><p>'
                  '<button type="submit" name="action" value="Allow">Allow'
                  '</button><button type="submit" name="action" '
                  'value="Deny">Cancel</button></p></form>' % (
                      html.escape(", ".join(scopes)), html.escape(pid),
                      "".join(rows), DEFAULT_INSTALLER))

    def authorize_post(self):
        body = self.read_body()
        try:
            f = dict(urllib.parse.parse_qsl(body.decode("utf-8"),
                                            keep_blank_values=True))
        except UnicodeDecodeError:
            self.error_page("invalid_form_data")
        req = self.st.take_pending(f.get("consent", ""), "install")
        if req is None:
            self.error_page("expired_request")
        uri = self.server.cfg.redirect_uri
        if f.get("action") == "Deny":
            self.st.count("denials")
            self.redirect(uri, [("error", "access_denied"),
                                ("state", req["state"])])
        key = self.choice_key(f.get("team", ""))
        user = f.get("user") or DEFAULT_INSTALLER
        if f.get("action") != "Allow" or key is None or \
                not re.fullmatch(r"[A-Z0-9]{1,32}", user):
            self.error_page("invalid_team")
        self.st.count("installs")
        code = self.st.new_code(req, key, user)
        self.redirect(uri, [("code", code), ("state", req["state"])])

    # -- oauth.v2.access --------------------------------------------------

    def oauth_access(self):
        self.st.access_begin()
        try:
            self.oauth_access_inner()
        finally:
            self.st.access_end()

    def client_auth(self, f):
        """Checks the client id and secret (HTTP Basic, else the body)."""
        cfg = self.server.cfg
        creds = self.basic()
        if creds is not None:
            if "client_id" in f and f["client_id"] != creds[0]:
                raise api_error("invalid_client_id")
            cid, secret = creds
        else:
            cid, secret = f.get("client_id", ""), f.get("client_secret", "")
        if not hmac.compare_digest(cid.encode(), cfg.client_id.encode()):
            raise api_error("invalid_client_id")
        if not hmac.compare_digest(secret.encode(),
                                   cfg.client_secret.encode()):
            raise api_error("bad_client_secret")

    def oauth_access_inner(self):
        faults = self.st.snapshot_faults()
        body = self.read_body()
        f, query = self.args(body)
        grant = f.get("grant_type") or (
            "authorization_code" if "code" in f else "")
        kind = grant if grant in ("authorization_code",
                                  "refresh_token") else "other"
        self.st.count("oauth_access", kind)
        self.delay(faults.get("access_delay"))
        if any(k in query for k in ("client_secret", "code",
                                    "refresh_token")):
            # Secrets in a URL end up in logs; the stand-in refuses them.
            raise api_error("invalid_arguments")
        if faults.get("access_status"):
            raise api_error("internal_error", faults["access_status"])
        if faults.get("access_body") is not None:
            raise Reply(200, faults["access_body"], JSON_TYPE)
        if faults.get("access_error"):
            raise api_error(faults["access_error"])
        self.client_auth(f)
        if kind == "other":
            raise api_error("invalid_grant_type")
        if kind == "authorization_code":
            self.code_grant(f, faults)
        self.refresh_grant(f, faults)

    def code_grant(self, f, faults):
        code = self.st.take_code(f.get("code", ""))
        if code is None:
            raise api_error("invalid_code")
        req = code["req"]
        # "This must match the originally submitted URI (if one was sent)."
        if req["redirect_uri"] is not None and \
                f.get("redirect_uri") != req["redirect_uri"]:
            raise api_error("bad_redirect_uri")
        if req["redirect_uri"] is None and "redirect_uri" in f and \
                f["redirect_uri"] != self.server.cfg.redirect_uri:
            raise api_error("bad_redirect_uri")
        inst, bot, refresh, user, user_refresh, ttl = self.st.install(
            code["key"], req["scopes"], req["user_scopes"],
            code["installer"])
        self.st.count("code_exchanges_ok")
        authed = {"id": inst.installer}
        if user is not None:
            authed.update({"scope": ",".join(req["user_scopes"]),
                           "access_token": user, "token_type": "user"})
            if user_refresh is not None:
                authed.update({"refresh_token": user_refresh,
                               "expires_in": int(ttl)})
        self.grant_reply(inst, bot, refresh, ttl, faults, authed)

    def refresh_grant(self, f, faults):
        inst, access, refresh, ttl = self.st.use_refresh(
            f.get("refresh_token", ""))
        if inst is None:
            self.st.count("refreshes_refused")
            raise api_error("invalid_refresh_token")
        self.st.count("refreshes_ok")
        # The refresh is done (the old refresh token spent): only the
        # reply is late, as when it is slow on the wire.
        self.delay(faults.get("refresh_reply_delay"))
        self.grant_reply(inst, access, refresh, ttl, faults, None)

    def grant_reply(self, inst, access, refresh, ttl, faults, authed):
        ent, team = inst.key
        bot_user, _ = bot_ids(inst.key)
        body = {"ok": True, "access_token": access}
        if refresh is not None:
            body.update({"expires_in": int(ttl), "refresh_token": refresh})
        body.update({"token_type": "bot", "scope": ",".join(inst.scopes),
                     "bot_user_id": bot_user, "app_id": APP_ID})
        if team:
            w = WORKSPACES_BY_ID[team]
            tid = faults.get("access_team", team)
            body["team"] = {"name": w["name"], "id": tid}
        else:
            body["team"] = None
        if ent:
            body["enterprise"] = {"name": ENTERPRISES[ent]["name"],
                                  "id": ent}
        else:
            body["enterprise"] = None
        body["is_enterprise_install"] = not team
        if authed is not None:
            body["authed_user"] = authed
        raise Reply(200, to_json(body), JSON_TYPE,
                    {"Cache-Control": "no-cache,no-store"})

    # -- auth.test --------------------------------------------------------

    def auth_test(self):
        faults = self.st.snapshot_faults()
        body = self.read_body() if self.command == "POST" else b""
        f, query = self.args(body)
        self.st.count("auth_tests")
        token = self.bearer() or f.get("token") or query.get("token")
        if not token:
            raise api_error("not_authed")
        inst, t, err = self.st.check_token(token)
        if err:
            raise api_error(err)
        if faults.get("auth_test_error"):
            raise api_error(faults["auth_test_error"])
        self.st.count("auth_tests_ok")
        ent, team = inst.key
        bot_user, bot_id = bot_ids(inst.key)
        user_id = bot_user if t["kind"] == "bot" else t["user"]
        if team:
            w = WORKSPACES_BY_ID[team]
            out = {"ok": True, "url": "https://%s.slack.com/" % w["domain"],
                   "team": w["name"], "user": "forcelink",
                   "team_id": team,
                   "user_id": faults.get("auth_test_user", user_id)}
        else:
            e = ENTERPRISES[ent]
            out = {"ok": True,
                   "url": "https://%s.enterprise.slack.com/" % e["domain"],
                   "team": e["name"], "user": "forcelink",
                   "team_id": ent,
                   "user_id": faults.get("auth_test_user", user_id)}
        if t["kind"] == "bot":
            out["bot_id"] = bot_id
        if ent:
            out["enterprise_id"] = ent
        out["is_enterprise_install"] = not team
        if t["expires"] is not None:
            out["expires_in"] = max(0, int(t["expires"] - self.st.now()))
        raise Reply(200, to_json(out), JSON_TYPE)

    # -- Sign in with Slack: the authorize page ------------------------

    def oidc_redirect_ok(self, uri):
        """Slack compares redirect_uri with the app's Redirect URLs; the
        stand-in takes the --oidc-redirect-uri list, or without one any
        URL on the origin of --redirect-uri (forcelink's public URL)."""
        cfg = self.server.cfg
        if cfg.oidc_redirect_uri:
            return uri in cfg.oidc_redirect_uri
        want = urllib.parse.urlsplit(cfg.redirect_uri)
        got = urllib.parse.urlsplit(uri)
        return (got.scheme, got.netloc) == (want.scheme, want.netloc) and \
            not got.fragment and got.path.startswith("/")

    def oidc_authorize_get(self):
        self.st.count("oidc_authorize_requests")
        p = dict(urllib.parse.parse_qsl(
            urllib.parse.urlsplit(self.path).query, keep_blank_values=True))
        cfg = self.server.cfg
        if not hmac.compare_digest(p.get("client_id", ""), cfg.client_id):
            self.error_page("invalid_client_id")
        if p.get("response_type") != "code":
            self.error_page("unsupported_response_type")
        scopes = [s for s in re.split(r"[ ,+]", p.get("scope", "")) if s]
        if "openid" not in scopes or \
                any(s not in OIDC_SCOPES for s in scopes):
            self.error_page("invalid_scope")
        uri = p.get("redirect_uri", "")
        if not self.oidc_redirect_ok(uri):
            self.error_page("bad_redirect_uri")
        challenge = p.get("code_challenge")
        method = p.get("code_challenge_method")
        if (challenge is not None or method is not None) and (
                method != "S256" or not CHALLENGE_RE.fullmatch(
                    challenge or "")):
            self.error_page("invalid_code_challenge")
        team = p.get("team")
        if team is not None and team not in WORKSPACES_BY_ID:
            self.error_page("invalid_team")
        req = {"kind": "oidc", "redirect_uri": uri, "state": p.get("state"),
               "nonce": p.get("nonce"), "scopes": scopes,
               "challenge": challenge, "team": team}
        with self.st.lock:
            ident = dict(self.st.oidc_identity)
        # Who the browser is signed in as wins over the app's team hint.
        self.oidc_page(req, ident.get("team_id") or team or "",
                       ident.get("user_id") or "")

    def oidc_page(self, req, team, user, error=None):
        pid = self.st.add_pending(req)
        rows = "".join("<li><code>%s</code> %s</li>" % (
            w["id"], html.escape(w["name"])) for w in WORKSPACES)
        self.page(200, "Sign in with Slack",
                  "<h1>Sign in to forcelink with Slack</h1>%s"
                  "<p>forcelink will learn your Slack user id and "
                  "workspace%s.</p>"
                  '<form method="post" action="/openid/connect/authorize" '
                  'id="signin">'
                  '<input type="hidden" name="consent" value="%s">'
                  '<label for="team_id">Workspace id</label>'
                  '<input type="text" id="team_id" name="team_id" '
                  'value="%s" autocomplete="off">'
                  '<label for="user_id">Slack user id</label>'
                  '<input type="text" id="user_id" name="user_id" '
                  'value="%s" autocomplete="off"><p>'
                  '<button type="submit" id="allow" name="action" '
                  'value="allow">Sign in</button>'
                  '<button type="submit" id="deny" name="action" '
                  'value="deny">Cancel</button></p></form>'
                  "<p>Workspaces:</p><ul>%s</ul>" % (
                      '<p id="error" role="alert">%s</p>' % html.escape(
                          error) if error else "",
                      " and your email address" if "email" in req["scopes"]
                      else "",
                      html.escape(pid), html.escape(team),
                      html.escape(user), rows))

    def oidc_authorize_post(self):
        body = self.read_body()
        try:
            f = dict(urllib.parse.parse_qsl(body.decode("utf-8"),
                                            keep_blank_values=True))
        except UnicodeDecodeError:
            self.error_page("invalid_form_data")
        req = self.st.take_pending(f.get("consent", ""), "oidc")
        if req is None:
            self.error_page("expired_request")
        action = f.get("action")
        if action == "deny":
            self.st.count("oidc_denials")
            self.redirect(req["redirect_uri"], [("error", "access_denied"),
                                                ("state", req["state"])])
        team = f.get("team_id", "").strip()
        user = f.get("user_id", "").strip()
        if action != "allow":
            error = "Choose Sign in or Cancel."
        elif team not in WORKSPACES_BY_ID:
            error = "There is no workspace with the id %s." % (
                team or "(empty)")
        elif not USER_RE.fullmatch(user):
            error = "%s is not a Slack user id (U… or W…)." % (
                user or "(empty)")
        elif not self.st.member(team, user):
            error = "There is no user %s in workspace %s." % (user, team)
        else:
            error = None
        if error:
            self.oidc_page(req, team, user, error)
        self.st.count("oidc_signins")
        code = self.st.new_oidc_code(req, team, user)
        self.redirect(req["redirect_uri"], [("code", code),
                                            ("state", req["state"])])

    # -- Sign in with Slack: token and userInfo -------------------------

    def identity_claims(self, team, user, scopes):
        """The claims about a user that the id_token and userInfo share,
        by scope as Slack documents them: openid the ids, email the
        address, profile the names, picture and workspace."""
        w = WORKSPACES_BY_ID[team]
        prof = self.st.profile(team, user)
        out = {"sub": user, "https://slack.com/user_id": user,
               "https://slack.com/team_id": team}
        if w["enterprise"]:
            out["https://slack.com/enterprise_id"] = w["enterprise"]
        if "email" in scopes:
            out.update({"email": prof["email"],
                        "email_verified": prof["email_verified"],
                        "date_email_verified": 1622128723})
        if "profile" in scopes:
            given, _, family = prof["real_name"].partition(" ")
            out.update({
                "name": prof["name"],
                "picture": "https://avatars.slack-edge.example/%s_512.png"
                % user,
                "given_name": given, "family_name": family,
                "locale": "en-US",
                "https://slack.com/team_name": w["name"],
                "https://slack.com/team_domain": w["domain"]})
            if w["enterprise"]:
                e = ENTERPRISES[w["enterprise"]]
                out.update({"https://slack.com/enterprise_name": e["name"],
                            "https://slack.com/enterprise_domain":
                            e["domain"]})
        return out

    def oidc_token(self):
        faults = self.st.snapshot_faults()
        body = self.read_body()
        f, query = self.args(body)
        self.st.count("openid.connect.token")
        if any(k in query for k in ("client_secret", "code",
                                    "code_verifier")):
            raise api_error("invalid_arguments")
        if faults.get("oidc_token_error"):
            raise api_error(faults["oidc_token_error"])
        self.client_auth(f)
        if f.get("grant_type", "authorization_code") != "authorization_code":
            raise api_error("invalid_grant_type")
        if f.get("code_verifier"):
            self.st.remember(f["code_verifier"])
        code = self.st.take_oidc_code(f.get("code", ""))
        if code is None:
            raise api_error("invalid_code")
        req = code["req"]
        # redirect_uri is required at authorize, so it must come again.
        if f.get("redirect_uri") != req["redirect_uri"]:
            raise api_error("bad_redirect_uri")
        verifier = f.get("code_verifier")
        if req["challenge"] is not None or verifier is not None:
            if req["challenge"] is None or verifier is None or \
                    not VERIFIER_RE.fullmatch(verifier) or \
                    not hmac.compare_digest(pkce_challenge(verifier),
                                            req["challenge"]):
                raise api_error("invalid_code_verifier")
        team, user = code["team"], code["user"]
        access = self.st.new_oidc_token(team, user, req["scopes"])
        now = int(self.st.now())
        ident = self.identity_claims(team, user, req["scopes"])
        claims = {"iss": ISSUER, "sub": ident.pop("sub"),
                  "aud": self.server.cfg.client_id,
                  "exp": now + ID_TOKEN_TTL, "iat": now,
                  "auth_time": code["auth_time"]}
        if req["nonce"] is not None:
            claims["nonce"] = req["nonce"]
        claims["at_hash"] = b64url(
            hashlib.sha256(access.encode()).digest()[:16])
        claims.update(ident)
        id_token = jwt_hs256(claims, self.server.cfg.client_secret)
        self.st.remember(id_token)
        self.st.count("openid.connect.token_ok")
        raise Reply(200, to_json({"ok": True, "access_token": access,
                                  "token_type": "Bearer",
                                  "id_token": id_token}), JSON_TYPE,
                    {"Cache-Control": "no-cache,no-store"})

    def token_arg(self):
        """The token a method call carries: Bearer, else the form's or
        the query's token argument; and the call's arguments."""
        body = self.read_body() if self.command == "POST" else b""
        f, query = self.args(body)
        token = self.bearer() or f.get("token") or query.get("token")
        args = dict(query)
        args.update(f)
        return token, args

    def oidc_userinfo(self):
        faults = self.st.snapshot_faults()
        self.st.count("openid.connect.userInfo")
        token, _ = self.token_arg()
        self.delay(faults.get("oidc_userinfo_delay"))
        if faults.get("oidc_userinfo_status"):
            raise api_error("internal_error", faults["oidc_userinfo_status"])
        if not token:
            raise api_error("not_authed")
        t = self.st.oidc_token(token)
        if t is None:
            inst, entry, err = self.st.check_token(token)
            if err:
                raise api_error(err)
            # A bot or installer token: not a Sign in with Slack token.
            raise Reply(200, to_json({
                "ok": False, "error": "missing_scope", "needed": "openid",
                "provided": ",".join(inst.scopes)}), JSON_TYPE)
        if faults.get("oidc_userinfo_error"):
            raise api_error(faults["oidc_userinfo_error"])
        self.st.count("openid.connect.userInfo_ok")
        out = {"ok": True}
        out.update(self.identity_claims(t["team"], t["user"], t["scopes"]))
        raise Reply(200, to_json(out), JSON_TYPE)

    # -- users.info -----------------------------------------------------

    def users_info(self):
        faults = self.st.snapshot_faults()
        self.st.count("users.info")
        token, args = self.token_arg()
        if not token:
            raise api_error("not_authed")
        t = self.st.oidc_token(token)
        if t is not None:
            scopes = t["scopes"]
            key = (WORKSPACES_BY_ID[t["team"]]["enterprise"] or "",
                   t["team"])
        else:
            inst, _, err = self.st.check_token(token)
            if err:
                raise api_error(err)
            scopes, key = inst.scopes, inst.key
        if "users:read" not in scopes:
            raise Reply(200, to_json({
                "ok": False, "error": "missing_scope",
                "needed": "users:read", "provided": ",".join(scopes)}),
                JSON_TYPE)
        if faults.get("users_info_error"):
            raise api_error(faults["users_info_error"])
        user = args.get("user", "")
        ent, team = key
        teams = [team] if team else [w["id"] for w in WORKSPACES
                                     if w["enterprise"] == ent]
        home = [tm for tm in teams if self.st.member(tm, user)]
        if not home:
            raise api_error("user_not_found")
        team = home[0]
        prof = self.st.profile(team, user)
        profile = {"real_name": prof["real_name"],
                   "display_name": prof["display_name"],
                   "real_name_normalized": prof["real_name"],
                   "display_name_normalized": prof["display_name"]}
        if "users:read.email" in scopes:
            profile["email"] = prof["email"]
        profile["team"] = team
        self.st.count("users.info_ok")
        raise Reply(200, to_json({"ok": True, "user": {
            "id": user, "team_id": team, "name": prof["name"],
            "deleted": prof["deleted"], "real_name": prof["real_name"],
            "tz": "Europe/London", "tz_label": "Greenwich Mean Time",
            "tz_offset": 0, "profile": profile, "is_admin": False,
            "is_owner": False, "is_bot": False, "is_app_user": False,
            "updated": 1700000000}}), JSON_TYPE)

    # -- control API ----------------------------------------------------

    def control(self, what):
        m = self.command
        raw = self.read_body() if m == "POST" else b""
        try:
            arg = json.loads(raw.decode("utf-8")) if raw.strip() else {}
        except (UnicodeDecodeError, ValueError):
            raise Reply(400, to_json({"error": "body is not JSON"}),
                        JSON_TYPE)
        if not isinstance(arg, dict):
            raise Reply(400, to_json({"error": "body must be an object"}),
                        JSON_TYPE)
        st = self.st
        if m == "GET" and what == "state":
            out = st.state_json()
        elif m == "GET" and what == "secrets":
            out = st.ledger_json()
        elif m == "GET" and what == "faults":
            out = st.snapshot_faults()
        elif m == "GET" and what == "installations":
            out = st.installs_json()
        elif m == "GET" and what == "users":
            out = st.directory_json()
        elif m == "POST" and what == "users":
            err = st.set_users(arg)
            if err:
                raise Reply(400, to_json({"error": err}), JSON_TYPE)
            out = st.directory_json()
        elif what == "oidc_identity" and m in ("GET", "POST"):
            if m == "POST":
                team, user = arg.get("team_id"), arg.get("user_id")
                if (team is not None and team not in WORKSPACES_BY_ID) or \
                        (user is not None and (
                            not isinstance(user, str) or
                            not USER_RE.fullmatch(user))) or \
                        set(arg) - {"team_id", "user_id"}:
                    raise Reply(400, to_json({
                        "error": "team_id (a known workspace) and user_id "
                        "(U… or W…) expected"}), JSON_TYPE)
                with st.lock:
                    st.oidc_identity = {k: v for k, v in arg.items()
                                        if v is not None}
            with st.lock:
                out = dict(st.oidc_identity)
        elif m == "POST" and what == "bot_token":
            team, scopes = arg.get("team_id"), arg.get("scopes", "")
            if team not in WORKSPACES_BY_ID or not isinstance(scopes, str):
                raise Reply(400, to_json({
                    "error": "team_id (a known workspace) and scopes "
                    "(comma-separated) expected"}), JSON_TYPE)
            scopes = [x for x in scopes.split(",") if x]
            if any(not SCOPE_RE.fullmatch(x) for x in scopes):
                raise Reply(400, to_json({"error": "bad scope"}), JSON_TYPE)
            out = {"token": st.mint_bot_token(team, scopes),
                   "team_id": team, "scopes": ",".join(scopes)}
        elif m == "POST" and what == "revoke_token":
            out = {"revoked": st.revoke_token(str(arg.get("token", "")))}
        elif m == "POST" and what == "reset":
            st.reset()
            out = {"ok": True}
        elif m == "POST" and what == "faults":
            err = st.set_faults(arg)
            if err:
                raise Reply(400, to_json({"error": err}), JSON_TYPE)
            out = st.snapshot_faults()
        elif m == "POST" and what == "expire_tokens":
            out = {"expired": st.expire_tokens(arg.get("team"),
                                               arg.get("enterprise"))}
        elif m == "POST" and what == "uninstall":
            out = {"uninstalled": st.uninstall(arg.get("team"),
                                               arg.get("enterprise"))}
        elif m == "POST" and what == "advance":
            secs = arg.get("seconds")
            if not isinstance(secs, (int, float)) or isinstance(secs, bool):
                raise Reply(400, to_json({"error": "seconds expected"}),
                            JSON_TYPE)
            with st.lock:
                st.offset += secs
                out = {"clock_offset": st.offset}
        else:
            out = self.web_control(what, m, arg)
            if out is None:
                raise Reply(404, to_json({"error": "no such control"}),
                            JSON_TYPE)
        raise Reply(200, to_json(out), JSON_TYPE)

    @staticmethod
    def known_team(team):
        return isinstance(team, str) and team in WORKSPACES_BY_ID

    @staticmethod
    def workspace_domain(team):
        return WORKSPACES_BY_ID[team]["domain"]


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False
    request_queue_size = 1024

    def __init__(self, addr, ctx, cfg, log):
        self.ctx, self.cfg, self.log = ctx, cfg, log
        self.state = State(cfg)
        super().__init__(addr, Handler)

    def finish_request(self, request, client_address):
        # The TLS handshake runs in the connection's own thread.
        request.settimeout(10)
        try:
            tls = self.ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as e:
            self.log.write("%s TLS handshake failed: %s" % (
                client_address[0], getattr(e, "reason", None) or e))
            return
        try:
            self.RequestHandlerClass(tls, client_address, self)
        except (OSError, ssl.SSLError):
            pass
        finally:
            try:
                tls.close()
            except OSError:
                pass

    def handle_error(self, request, client_address):
        self.log.write("%s connection error: %r" % (
            client_address[0], sys.exc_info()[1]))


# --------------------------------------------------------------------------
# Command line

def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Slack stand-in for forcelink tests: app installation, "
        "Sign in with Slack and users.info.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0,
                   help="0 picks a free one (default)")
    p.add_argument("--cert", required=True, help="server certificate (PEM)")
    p.add_argument("--key", required=True, help="server private key (PEM)")
    p.add_argument("--client-id", default="1234567890.0987654321")
    p.add_argument("--client-secret", default=None)
    p.add_argument("--client-secret-file", default=None,
                   help="read the client secret from this file instead")
    p.add_argument("--redirect-uri", required=True,
                   help="the app's redirect URL (exact match)")
    p.add_argument("--oidc-redirect-uri", action="append", default=[],
                   help="a redirect URL Sign in with Slack accepts (exact; "
                   "repeatable); without one, any URL on the origin of "
                   "--redirect-uri")
    p.add_argument("--ready-file", default=None,
                   help="written once listening: line 1 port, line 2 URL")
    p.add_argument("--log", default=None, help="log file (default stderr)")
    p.add_argument("--rotate", action="store_true",
                   help="start with token rotation on")
    p.add_argument("--token-ttl", type=float, default=ROTATION_TTL,
                   help="expires_in of rotating tokens (default 43200)")
    args = p.parse_args(argv)
    if args.client_secret_file:
        with open(args.client_secret_file, encoding="utf-8") as fp:
            args.client_secret = fp.read().strip()
    if not args.client_secret:
        p.error("--client-secret or --client-secret-file is required")
    return args


def main(argv=None):
    cfg = parse_args(argv if argv is not None else sys.argv[1:])
    log = Log(cfg.log)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(cfg.cert, cfg.key)
    except (OSError, ssl.SSLError) as e:
        print("slack.py: cannot load %s / %s: %s" % (cfg.cert, cfg.key, e),
              file=sys.stderr)
        return 1
    try:
        server = Server((cfg.host, cfg.port), ctx, cfg, log)
    except OSError as e:
        print("slack.py: cannot listen on %s:%d: %s" % (cfg.host, cfg.port,
                                                       e), file=sys.stderr)
        return 1
    port = server.server_address[1]
    url = "https://localhost:%d" % port

    def stop(signum, frame):
        STOPPING.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    thread = threading.Thread(target=server.serve_forever,
                              kwargs={"poll_interval": 0.2}, daemon=True)
    thread.start()
    log.write("listening on %s:%d as %s" % (cfg.host, port, url))
    if cfg.ready_file:
        write_ready(cfg.ready_file, port, url)
    while not STOPPING.wait(0.5):
        pass
    log.write("stopping")
    server.shutdown()
    server.server_close()
    if cfg.ready_file:
        try:
            os.unlink(cfg.ready_file)
        except OSError:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
