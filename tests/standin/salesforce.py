#!/usr/bin/python3
"""Salesforce stand-in for forcelink's end-to-end tests and demo mode (SPEC §8).

One process, one HTTPS port, all state in memory.  It plays, with the paths
and the wire formats Salesforce documents:

  * the OAuth 2.0 web server flow: /services/oauth2/authorize (a consent page),
    /services/oauth2/token (authorization_code with PKCE S256, refresh_token,
    optional refresh-token rotation with theft detection, at most five grants
    per user and app), /services/oauth2/revoke, /services/oauth2/userinfo and
    the identity URL /id/ORG/USER;
  * the client credentials flow (grant_type=client_credentials) for an app
    given a Run-As user (--run-as);
  * the REST API: /services/data/ (versions) and /services/data/vNN.N/query,
    which parses the SOQL it is given (string-literal escapes, LIKE wildcards)
    and answers from a small seeded Contact/Account data set;
  * Slack's response_url receiver under /hooks/ (five posts per URL);
  * a test control API under /_control/ (reset, faults, clock, counters, and
    a ledger of the Salesforce requests it answered).

--org b serves a second org (its own org id, users, accounts and contacts),
so that tests can run two stand-in orgs side by side.

Python 3 standard library only.  Run `salesforce.py --help` for the options
and see README.md beside this file for the control API.  No token, code,
verifier or secret value is ever written to the log.
"""

import argparse
import base64
import datetime
from email.utils import parsedate_to_datetime
import hashlib
import hmac
import http.cookies
import html
import json
import os
import re
import secrets
import select
import signal
import socket
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sf_case  # noqa: E402

# --------------------------------------------------------------------------
# Fixed identities and limits

MAX_BODY = 1024 * 1024          # request bodies above this get a 413
CODE_TTL = 15 * 60              # authorization codes live 15 minutes
CONSENT_TTL = 15 * 60           # an unanswered consent page, likewise
MAX_GRANTS = 5                  # per user per app; the 6th drops the oldest
HOOK_MAX_POSTS = 5              # Slack: at most 5 posts per response_url ...
HOOK_WINDOW = 30 * 60           # ... within 30 minutes
API_LIMIT = 15000               # shown in Sforce-Limit-Info
APP_SCOPES = ("api", "refresh_token")
KNOWN_SCOPES = ("api", "refresh_token", "offline_access")
LATEST_VERSION = 67
CONNS_KEPT = 10000              # connections listed by /_control/connections
OLDEST_VERSION = 31

_ID_SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def sfid(id15):
    """Return the 18-character form of a 15-character Salesforce id."""
    assert len(id15) == 15
    suffix = ""
    for chunk in range(3):
        bits = 0
        for j in range(5):
            if "A" <= id15[chunk * 5 + j] <= "Z":
                bits |= 1 << j
        suffix += _ID_SUFFIX[bits]
    return id15 + suffix


ORG_ID15 = "00D5g000004ZyAb"
ORG_ID = sfid(ORG_ID15)

# The demo users, all in the one org.  Mallory's display name carries HTML
# so that pages showing it prove they escape it.
USERS = [
    {"username": "alice@example.com", "id": sfid("0055g00000Xa001"),
     "first": "Alice", "last": "Adams"},
    {"username": "bob@example.com", "id": sfid("0055g00000Xa002"),
     "first": "Bob", "last": "Ødegård"},
    {"username": "mallory@example.com", "id": sfid("0055g00000Xa003"),
     "first": "Mallory", "last": "<script>alert(1)</script> O'Hara & Co"},
]
USERS_BY_NAME = {u["username"]: u for u in USERS}

ACCOUNTS = {
    "acme": {"Id": sfid("0015g00000Bc001"), "Name": "Acme Corporation"},
    "globex": {"Id": sfid("0015g00000Bc002"), "Name": "Globex Ltd"},
    "initech": {"Id": sfid("0015g00000Bc003"), "Name": "Initech"},
    "umbrella": {"Id": sfid("0015g00000Bc004"), "Name": "Umbrella & Sons"},
    "stark": {"Id": sfid("0015g00000Bc005"), "Name": "Stark Industries"},
    "wayne": {"Id": sfid("0015g00000Bc006"), "Name": "Wayne Enterprises"},
}

# Contact.Title holds at most 128 characters; this one uses them all.
LONG_TITLE = ("Senior Vice President of Global Strategic Partnerships, "
              "Enterprise Cloud Transformation & Customer Success, "
              "EMEA and APAC Region")
assert len(LONG_TITLE) == 128, len(LONG_TITLE)
LONG_LAST = ("Wolfeschlegelsteinhausenbergerdorffwelchevoralternwaren"
             "gewissenhaftschaferswessenschafe")[:80]

# (FirstName, LastName, Title, Email, Phone, MobilePhone, account key)
_SEED = [
    ("John", "Smith", "VP Sales", "john.smith@acme.example",
     "(415) 555-0101", "(415) 555-0199", "acme"),
    ("Jane", "Smith", "CTO", "jane.smith@globex.example",
     "+44 20 7946 0102", None, "globex"),
    ("Adam", "Smithers", "Account Executive", "adam.smithers@initech.example",
     "(512) 555-0103", "(512) 555-0193", "initech"),
    ("Carla", "Blacksmith", "Head of Procurement",
     "carla.blacksmith@umbrella.example", "(312) 555-0104", None, "umbrella"),
    ("Oliver", "Goldsmith", "Author in Residence",
     "oliver.goldsmith@stark.example", None, "(212) 555-0195", "stark"),
    ("Pat", "Smith", None, "pat.smith@example.org", None, None, None),
    ("Seán", "O'Brien", "Director of Operations", "sean.obrien@acme.example",
     "+353 1 555 0107", "+353 87 555 0197", "acme"),
    ("Zoë", "Ångström", "Research Scientist", "zoe.angstrom@globex.example",
     "+46 8 555 0108", None, "globex"),
    ("Percent", "100% Person", "Growth Hacker", "percent@initech.example",
     "(512) 555-0109", None, "initech"),
    ("Under_score", "Person", "Naming Consultant",
     "under_score@initech.example", "(512) 555-0110", None, "initech"),
    ("Back\\slash", "Person", "Path Engineer", "backslash@initech.example",
     "(512) 555-0111", None, "initech"),
    ("Eve", "<!channel> & Mallory", "Social Engineer <b>bold</b>",
     "eve@umbrella.example", "(312) 555-0112", None, "umbrella"),
    ("Dana", "Longtitle", LONG_TITLE, "dana.longtitle@wayne.example",
     "(609) 555-0113", "(609) 555-0193", "wayne"),
    ("Maximilian", LONG_LAST, "Intern", "max@stark.example",
     None, None, "stark"),
    ('Dwayne "The Rock"', "Johnson", "Actor", "dwayne@wayne.example",
     "(609) 555-0115", None, "wayne"),
    ("D'Angelo", "Russo", "Chef", "dangelo.russo@acme.example",
     "(415) 555-0116", None, "acme"),
    ("Sunny", "\U0001F600 Day", "Chief Happiness Officer",
     "sunny@globex.example", None, "+1 555 0117", "globex"),
    ("小龍", "李", "Martial Arts Instructor", "li@stark.example",
     "+852 5550 0118", None, "stark"),
    ("Björk", "Guðmundsdóttir", "Singer", "bjork@example.is",
     "+354 555 0119", None, None),
    ("Bob", "Jones", "Warehouse Manager", "bob.jones@wayne.example",
     "(609) 555-0120", None, "wayne"),
    ("Mary", "Johnson", "CFO", "mary.johnson@wayne.example",
     "(609) 555-0121", "(609) 555-0191", "wayne"),
    ("Liam", "Brown", "Support Engineer", "liam.brown@acme.example",
     "(415) 555-0122", None, "acme"),
    ("Emma", "Wilson", "Marketing Lead", "emma.wilson@globex.example",
     "+44 20 7946 0123", None, "globex"),
    ("Noah", "Davis", "Developer", "noah.davis@initech.example",
     "(512) 555-0124", None, "initech"),
    ("Olivia", "Miller", "Legal Counsel", "olivia.miller@umbrella.example",
     "(312) 555-0125", None, "umbrella"),
    ("Ethan", "Moore", "Engineer", "ethan.moore@stark.example",
     "(212) 555-0126", None, "stark"),
    ("Ava", "Taylor", "Designer", "ava.taylor@wayne.example",
     None, "(609) 555-0197", "wayne"),
    ("Mason", "Anderson", "Sales Rep", "mason.anderson@acme.example",
     "(415) 555-0128", None, "acme"),
    ("Sophia", "Thomas", "HR Director", "sophia.thomas@globex.example",
     "+44 20 7946 0129", None, "globex"),
    ("Lucas", "Jackson", "Freelancer", None, "(555) 555-0130", None, None),
    ("Mia", "White", "QA Lead", "mia.white@initech.example",
     "(512) 555-0131", None, "initech"),
]


def _make_contacts():
    out = []
    for n, (first, last, title, email, phone, mobile, acct) in enumerate(
            _SEED, 1):
        out.append({
            "Id": sfid("0035g00000Qz%03d" % n),
            "FirstName": first, "LastName": last,
            "Name": "%s %s" % (first, last),
            "Title": title, "Email": email, "Phone": phone,
            "MobilePhone": mobile,
            "Account": ACCOUNTS[acct] if acct else None,
            "AccountId": ACCOUNTS[acct]["Id"] if acct else None,
        })
    return out


CONTACTS = _make_contacts()

# Account details (Industry, Phone, Website, BillingCity, owner), and the
# accounts without contacts whose names hold what a search must escape.
_ALICE, _BOB, _MALLORY = (u["id"] for u in USERS)
_ACCOUNT_DETAILS = {
    "acme": ("Manufacturing", "(415) 555-0100", "https://acme.example",
             "San Francisco", _ALICE),
    "globex": ("Energy", "+44 20 7946 0100", "https://globex.example",
               "London", _BOB),
    "initech": ("Technology", "(512) 555-0100", None, "Austin", _ALICE),
    "umbrella": ("Biotechnology", "(312) 555-0100",
                 "https://umbrella.example", "Chicago", _MALLORY),
    "stark": ("Engineering", None, "https://stark.example", "New York",
              _ALICE),
    "wayne": ("Finance", "(609) 555-0100", "https://wayne.example",
              "Gotham", _BOB),
}
_HOSTILE_ACCOUNTS = [
    ("obrien", "O'Brien & Partners"), ("percent", "100% Organic Ltd"),
    ("under", "Under_score Holdings"), ("backslash", "Back\\slash Systems"),
    ("braces", "{x} Labs"), ("drop", "1; DROP TABLE Account"),
    ("channel", "<!channel> & <b>Co</b>"),
]


def _complete_accounts(accounts, details, hostile, id15, owner=None):
    """Adds the detail fields to accounts (in place: contacts share the
    dicts), and the accounts of hostile, owned by owner, with ids from
    id15 % n."""
    for key, a in accounts.items():
        ind, phone, web, city, owner = details.get(
            key, (None, None, None, None, None))
        a.update({"Industry": ind, "Phone": phone, "Website": web,
                  "BillingCity": city, "OwnerId": owner})
    for n, (key, name) in enumerate(hostile, 1):
        accounts[key] = {"Id": sfid(id15 % n), "Name": name,
                         "Industry": None, "Phone": None, "Website": None,
                         "BillingCity": None, "OwnerId": owner}


_complete_accounts(ACCOUNTS, _ACCOUNT_DETAILS, _HOSTILE_ACCOUNTS,
                   "0015g00000Hx%03d", _ALICE)

# Opportunities: (Name, StageName, CloseDate, Amount, CurrencyIsoCode,
# owner, account key).  Alice owns twelve open ones (more than /pipeline's
# ten) and two closed; their close dates are not in name or id order.
_OPP_SEED = [
    ("Acme renewal 2027", "Negotiation/Review", "2027-01-15", 120000.0,
     "USD", _ALICE, "acme"),
    ("O'Brien expansion", "Proposal/Price Quote", "2026-12-20", 45000.5,
     "EUR", _ALICE, "obrien"),
    ("100% uptime support", "Qualification", "2027-03-01", 9999.99, "USD",
     _ALICE, "percent"),
    ("Under_score pilot", "Prospecting", "2027-02-10", None, "GBP", _ALICE,
     "under"),
    ("{x} Labs platform", "Value Proposition", "2027-04-30", 250000.0,
     "USD", _ALICE, "braces"),
    ("<!channel> & <b>upsell</b>", "Needs Analysis", "2026-12-31", 1.0,
     "USD", _ALICE, "channel"),
    ("Back\\slash migration", "Id. Decision Makers", "2027-05-15",
     70000.0, "JPY", _ALICE, "backslash"),
    ("Initech licences", "Perception Analysis", "2027-01-02", 15000.0,
     "USD", _ALICE, "initech"),
    ("Stark turbines", "Prospecting", "2027-06-30", 3200000.0, "USD",
     _ALICE, "stark"),
    ("Acme safety audit", "Qualification", "2026-12-15", 8000.0, "USD",
     _ALICE, "acme"),
    ("Stark \U0001F680 launch", "Proposal/Price Quote", "2027-07-01",
     560000.0, "EUR", _ALICE, "stark"),
    ("No account deal", "Prospecting", "2027-08-08", 500.0, "USD", _ALICE,
     None),
    ("Acme 2025 deal", "Closed Won", "2025-11-30", 99000.0, "USD", _ALICE,
     "acme"),
    ("Initech lost bid", "Closed Lost", "2026-10-01", 12000.0, "USD",
     _ALICE, "initech"),
    ("Globex grid", "Negotiation/Review", "2027-01-20", 410000.0, "GBP",
     _BOB, "globex"),
    ("Wayne vault", "Qualification", "2027-02-14", 75000.0, "USD", _BOB,
     "wayne"),
    ("Umbrella trial", "Prospecting", "2027-03-03", 1000.0, "USD",
     _MALLORY, "umbrella"),
]


def _make_opportunities(seed, accounts, id15):
    out = []
    for n, (name, stage, close, amount, cur, owner, acct) in enumerate(
            seed, 1):
        out.append({
            "Id": sfid(id15 % n), "Name": name, "StageName": stage,
            "CloseDate": close, "Amount": amount, "CurrencyIsoCode": cur,
            "IsClosed": stage.startswith("Closed"), "OwnerId": owner,
            "AccountId": accounts[acct]["Id"] if acct else None,
            "Account": accounts[acct] if acct else None,
        })
    return out


OPPORTUNITIES = _make_opportunities(_OPP_SEED, ACCOUNTS, "0065g00000Op%03d")

# --org b: a second org, for tests that run two orgs side by side.  Its
# ids, users, accounts and contacts are all its own; its Smiths are
# others than org A's, so a search shows which org answered.  The last
# user is meant as a client credentials Run-As user (--run-as).
ORG_B = {
    "org15": "00D8d000001XyZq",
    "users": [
        {"username": "carol@orgb.example", "id": sfid("0058d00000Yb001"),
         "first": "Carol", "last": "Chen"},
        {"username": "dave@orgb.example", "id": sfid("0058d00000Yb002"),
         "first": "Dave", "last": "Diaz"},
        {"username": "integration@orgb.example",
         "id": sfid("0058d00000Yb003"), "first": "Integration",
         "last": "User"},
    ],
    "accounts": {
        "northwind": {"Id": sfid("0018d00000Nw001"),
                      "Name": "Northwind Traders"},
        "contoso": {"Id": sfid("0018d00000Nw002"), "Name": "Contoso Ltd"},
    },
    "seed": [
        ("Sarah", "Smith", "Head of Sales EMEA",
         "sarah.smith@northwind.example", "+44 20 7946 0201", None,
         "northwind"),
        ("Tom", "Smithson", "Buyer", "tom.smithson@contoso.example",
         "(206) 555-0202", None, "contoso"),
        ("Ravi", "Smithfield", "Integration Architect",
         "ravi@northwind.example", None, "+91 98 5550 0203", "northwind"),
        ("Greta", "Lindqvist", "CIO", "greta@contoso.example", None, None,
         "contoso"),
    ],
    "contact15": "0038d00000Qb%03d",
}


def use_org_b():
    """Makes this process serve org B (see ORG_B): rebinds the module's
    org id, users, accounts and contacts before the server starts."""
    global ORG_ID15, ORG_ID, USERS, USERS_BY_NAME, ACCOUNTS, CONTACTS
    global OPPORTUNITIES, MULTI_CURRENCY
    ORG_ID15 = ORG_B["org15"]
    ORG_ID = sfid(ORG_ID15)
    USERS = ORG_B["users"]
    USERS_BY_NAME = {u["username"]: u for u in USERS}
    ACCOUNTS = ORG_B["accounts"]
    out = []
    for n, (first, last, title, email, phone, mobile, acct) in enumerate(
            ORG_B["seed"], 1):
        out.append({
            "Id": sfid(ORG_B["contact15"] % n),
            "FirstName": first, "LastName": last,
            "Name": "%s %s" % (first, last),
            "Title": title, "Email": email, "Phone": phone,
            "MobilePhone": mobile,
            "Account": ACCOUNTS[acct] if acct else None,
            "AccountId": ACCOUNTS[acct]["Id"] if acct else None,
        })
    CONTACTS = out
    carol, dave = USERS[0]["id"], USERS[1]["id"]
    _complete_accounts(ACCOUNTS, {
        "northwind": ("Retail", "+44 20 7946 0200", "https://nw.example",
                      "London", carol),
        "contoso": ("Technology", "(206) 555-0200", None, "Seattle", dave),
    }, [], "")
    # One currency: no CurrencyIsoCode field.
    MULTI_CURRENCY = False
    OPPORTUNITIES = [dict(o, CurrencyIsoCode=None) for o in
                     _make_opportunities([
                         ("Northwind POS", "Prospecting", "2027-03-01",
                          20000.0, None, carol, "northwind"),
                         ("Contoso cloud", "Qualification", "2027-01-10",
                          90000.0, None, dave, "contoso"),
                     ], ACCOUNTS, "0068d00000Op%03d")]

# --------------------------------------------------------------------------
# SOQL: just enough of the language for forcelink's query, parsed for real.

# The objects the stand-in's SOQL knows: for each, its fields (API name ->
# field type), by lower-case name.  Text types take LIKE; id and reference
# fields take = and != with a 15- or 18-character id; booleans TRUE or
# FALSE; dates and currency amounts are only selected and ordered by.
TEXT_TYPES = {"string", "email", "phone", "url", "picklist", "textarea"}
SOQL_OBJECTS = {
    "Contact": {
        "Id": "id", "Name": "string", "FirstName": "string",
        "LastName": "string", "Title": "string", "Email": "email",
        "Phone": "phone", "MobilePhone": "phone", "AccountId": "reference",
        "Account.Id": "id", "Account.Name": "string"},
    "Account": {
        "Id": "id", "Name": "string", "Industry": "picklist",
        "Phone": "phone", "Website": "url", "BillingCity": "string",
        "OwnerId": "reference"},
    "Opportunity": {
        "Id": "id", "Name": "string", "StageName": "picklist",
        "CloseDate": "date", "Amount": "currency",
        "CurrencyIsoCode": "picklist", "IsClosed": "boolean",
        "OwnerId": "reference", "AccountId": "reference",
        "Account.Id": "id", "Account.Name": "string"},
}
# Org A has several currencies (CurrencyIsoCode exists); org B has one.
MULTI_CURRENCY = True
# Kept for readers of the old names.
CONTACT_FIELDS = {f.lower(): f for f in SOQL_OBJECTS["Contact"]}
TEXT_FIELDS = {f for f, t in SOQL_OBJECTS["Contact"].items()
               if t in TEXT_TYPES}


def soql_fields(obj):
    """The fields of obj by lower-case name -> (API name, type)."""
    out = {}
    for name, kind in SOQL_OBJECTS[obj].items():
        if name == "CurrencyIsoCode" and not MULTI_CURRENCY:
            continue
        out[name.lower()] = (name, kind)
    return out


ANY = object()                  # the LIKE wildcard %
ONE = object()                  # the LIKE wildcard _

_SIMPLE_ESCAPES = {
    "n": "\n", "N": "\n", "r": "\r", "R": "\r", "t": "\t", "T": "\t",
    "b": "\b", "B": "\b", "f": "\f", "F": "\f",
    '"': '"', "'": "'", "\\": "\\",
}
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_INT = re.compile(r"[0-9]+")
_HEX4 = re.compile(r"[0-9A-Fa-f]{4}")


class SoqlError(Exception):
    """A query Salesforce would refuse: errorCode plus its message."""

    def __init__(self, code, query, pos, reason):
        row = query.count("\n", 0, pos) + 1
        line_start = query.rfind("\n", 0, pos) + 1
        line_end = query.find("\n", pos)
        if line_end < 0:
            line_end = len(query)
        col = pos - line_start + 1
        line = query[line_start:line_end]
        self.code = code
        self.message = "\n%s\n%s^\nERROR at Row:%d:Column:%d\n%s" % (
            line, " " * (col - 1), row, col, reason)
        super().__init__(self.message)


class Tok:
    __slots__ = ("kind", "value", "pos", "text")

    def __init__(self, kind, value, pos, text):
        self.kind, self.value, self.pos, self.text = kind, value, pos, text


def _raw_literal(q, start):
    """The literal starting at q[start] as written, for error messages."""
    i = start + 1
    while i < len(q):
        if q[i] == "\\":
            i += 2
            continue
        if q[i] == "'":
            return q[start:i + 1]
        i += 1
    return q[start:]


def read_literal(q, start):
    """Decode the string literal that opens at q[start] (a quote).

    Returns (items, end): items is a list of one-character strings (literal
    characters) and the ANY/ONE wildcard markers; end is the index after the
    closing quote.  Escapes follow the SOQL guide's table; \\% and \\_ are a
    literal percent sign and underscore (the literal is a LIKE pattern, the
    only place this grammar takes strings).  Raises SoqlError otherwise.
    """
    items = []
    i = start + 1
    while True:
        if i >= len(q):
            raise SoqlError("MALFORMED_QUERY", q, start,
                            "unterminated string literal %s"
                            % _raw_literal(q, start))
        c = q[i]
        if c == "'":
            return items, i + 1
        if c == "%":
            items.append(ANY)
            i += 1
            continue
        if c == "_":
            items.append(ONE)
            i += 1
            continue
        if c != "\\":
            items.append(c)
            i += 1
            continue
        if i + 1 >= len(q):
            raise SoqlError("MALFORMED_QUERY", q, start,
                            "unterminated string literal %s"
                            % _raw_literal(q, start))
        e = q[i + 1]
        if e in _SIMPLE_ESCAPES:
            items.append(_SIMPLE_ESCAPES[e])
            i += 2
        elif e in "%_":
            items.append(e)
            i += 2
        elif e == "u":
            i = _read_unicode(q, start, i, items)
        else:
            raise SoqlError(
                "MALFORMED_QUERY", q, start,
                "Invalid string literal %s. Illegal character sequence "
                "'\\%s' in string literal." % (_raw_literal(q, start), e))


def _read_unicode(q, start, i, items):
    """Decode \\uXXXX at q[i]; joins a surrogate pair.  Returns the new i."""
    digits = q[i + 2:i + 6]
    if not _HEX4.fullmatch(digits):
        raise SoqlError(
            "MALFORMED_QUERY", q, start,
            "Invalid string literal %s. Illegal unicode sequence. '%s' in "
            "string literal." % (_raw_literal(q, start), q[i:i + 6]))
    cp = int(digits, 16)
    i += 6
    if 0xD800 <= cp <= 0xDBFF and q[i:i + 2] == "\\u" and \
            _HEX4.fullmatch(q[i + 2:i + 6]):
        low = int(q[i + 2:i + 6], 16)
        if 0xDC00 <= low <= 0xDFFF:
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00)
            i += 6
    items.append(chr(cp))
    return i


def tokenize(q):
    toks = []
    i = 0
    while i < len(q):
        c = q[i]
        if c in " \t\r\n":
            i += 1
        elif c == ",":
            toks.append(Tok("comma", ",", i, ","))
            i += 1
        elif c == "=" or q.startswith("!=", i):
            op = "=" if c == "=" else "!="
            toks.append(Tok("op", op, i, op))
            i += len(op)
        elif c == "'":
            items, end = read_literal(q, i)
            toks.append(Tok("string", items, i, q[i:end]))
            i = end
        else:
            m = _IDENT.match(q, i) or _INT.match(q, i)
            if not m:
                raise SoqlError("MALFORMED_QUERY", q, i,
                                "unexpected token: '%s'" % c)
            kind = "ident" if m.re is _IDENT else "int"
            toks.append(Tok(kind, m.group(0), i, m.group(0)))
            i = m.end()
    toks.append(Tok("eof", None, len(q), "<EOF>"))
    return toks


class Query:
    """A parsed query: the object, fields (API names, in order), where (a
    list of (field, type, op, value) joined by AND), order, limit."""

    def __init__(self):
        self.obj = "Contact"
        self.fields = []
        self.where = []         # [(field, type, op, value)]
        self.order = []         # [(field, descending, nulls_last)]
        self.limit = None
        self.offset = None


_KEYWORDS = ("FROM", "WHERE", "LIKE", "ORDER", "BY", "LIMIT", "SELECT",
             "AND", "OR", "NOT", "OFFSET")
# SOQL's largest OFFSET (the SOQL reference: "The maximum offset is
# 2,000 rows. Requesting an offset greater than 2,000 results in a
# NUMBER_OUTSIDE_VALID_RANGE error.")
MAX_OFFSET = 2000
_ID_RE = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?")


class _Parser:
    def __init__(self, q):
        self.q = q
        self.toks = tokenize(q)
        self.i = 0
        self.fields = None

    def peek(self):
        return self.toks[self.i]

    def take(self):
        t = self.toks[self.i]
        if t.kind != "eof":
            self.i += 1
        return t

    def unexpected(self, t):
        raise SoqlError("MALFORMED_QUERY", self.q, t.pos,
                        "unexpected token: '%s'" % t.text)

    def is_kw(self, word):
        t = self.peek()
        return t.kind == "ident" and t.value.upper() == word

    def keyword(self, word):
        t = self.take()
        if t.kind != "ident" or t.value.upper() != word:
            self.unexpected(t)

    def field_token(self):
        t = self.take()
        if t.kind != "ident" or t.value.upper() in _KEYWORDS:
            self.unexpected(t)
        return t

    def resolve(self, t, obj):
        """(API name, type) of field token t on obj."""
        f = soql_fields(obj).get(t.value.lower())
        if f is None:
            raise SoqlError(
                "INVALID_FIELD", self.q, t.pos,
                "No such column '%s' on entity '%s'. If you are "
                "attempting to use a custom field, be sure to append the "
                "'__c' after the custom field name. Please reference your "
                "WSDL or the describe call for the appropriate names."
                % (t.value, obj))
        return f

    def parse(self):
        query = Query()
        self.keyword("SELECT")
        toks = [self.field_token()]
        while self.peek().kind == "comma":
            self.take()
            toks.append(self.field_token())
        self.keyword("FROM")
        t = self.take()
        if t.kind != "ident":
            self.unexpected(t)
        obj = next((o for o in SOQL_OBJECTS if o.lower() == t.value.lower()),
                   None)
        if obj is None:
            raise SoqlError(
                "INVALID_TYPE", self.q, t.pos,
                "sObject type '%s' is not supported. If you are attempting "
                "to use a custom object, be sure to append the '__c' after "
                "the entity name. Please reference your WSDL or the describe "
                "call for the appropriate names." % t.value)
        query.obj = obj
        for ft in toks:
            name, _ = self.resolve(ft, obj)
            if name in query.fields:
                raise SoqlError("MALFORMED_QUERY", self.q, ft.pos,
                                "duplicate field selected: %s" % name)
            query.fields.append(name)
        if self.is_kw("WHERE"):
            self.take()
            self.parse_cond(query)
            while self.is_kw("AND"):
                self.take()
                self.parse_cond(query)
        if self.is_kw("ORDER"):
            self.take()
            self.keyword("BY")
            self.parse_order(query)
            while self.peek().kind == "comma":
                self.take()
                self.parse_order(query)
        if self.is_kw("LIMIT"):
            self.take()
            t = self.take()
            if t.kind != "int":
                self.unexpected(t)
            query.limit = int(t.value)
        if self.is_kw("OFFSET"):
            self.take()
            t = self.take()
            if t.kind != "int":
                self.unexpected(t)
            if int(t.value) > MAX_OFFSET:
                raise SoqlError("NUMBER_OUTSIDE_VALID_RANGE", self.q, t.pos,
                                "Maximum SOQL offset allowed is %d"
                                % MAX_OFFSET)
            query.offset = int(t.value)
        t = self.take()
        if t.kind != "eof":
            self.unexpected(t)
        return query

    def parse_cond(self, query):
        """field LIKE 'pattern' | field = value | field != value."""
        name, kind = self.resolve(self.field_token(), query.obj)
        start = self.peek()
        if self.is_kw("LIKE"):
            self.take()
            if kind not in TEXT_TYPES:
                raise SoqlError(
                    "INVALID_QUERY_FILTER_OPERATOR", self.q, start.pos,
                    "invalid operator on id field" if kind in (
                        "id", "reference") else
                    "invalid operator on field %s" % name)
            t = self.take()
            if t.kind != "string":
                self.unexpected(t)
            query.where.append((name, kind, "LIKE", t.value))
            return
        t = self.take()
        if t.kind != "op":
            self.unexpected(t)
        op, v = t.value, self.take()
        query.where.append((name, kind, op, self.value(name, kind, v)))

    def value(self, name, kind, t):
        """The value compared with field name (of type kind)."""
        if t.kind == "ident" and t.value.upper() == "NULL":
            return None
        if kind == "boolean":
            if t.kind != "ident" or t.value.upper() not in ("TRUE", "FALSE"):
                raise SoqlError(
                    "MALFORMED_QUERY", self.q, t.pos,
                    "value of filter criterion for field '%s' must be of "
                    "type boolean and should not be enclosed in quotes"
                    % name)
            return t.value.upper() == "TRUE"
        if kind in ("date", "currency"):
            if t.kind != "int" or kind == "date":
                raise SoqlError(
                    "MALFORMED_QUERY", self.q, t.pos,
                    "value of filter criterion for field '%s' must be of "
                    "type %s and should not be enclosed in quotes"
                    % (name, kind))
            return int(t.value)
        if t.kind != "string":
            self.unexpected(t)
        # Outside LIKE, % and _ are themselves and \% \_ are errors.
        text = ""
        for it in t.value:
            if it is ANY:
                text += "%"
            elif it is ONE:
                text += "_"
            elif it in ("%", "_"):
                raise SoqlError(
                    "MALFORMED_QUERY", self.q, t.pos,
                    "Invalid string literal %s. Illegal character sequence "
                    "'\\%s' in string literal." % (t.text, it))
            else:
                text += it
        if kind in ("id", "reference") and not _ID_RE.fullmatch(text):
            raise SoqlError("INVALID_QUERY_FILTER_OPERATOR", self.q, t.pos,
                            "invalid ID field: %s" % text)
        return text

    def parse_order(self, query):
        name, _ = self.resolve(self.field_token(), query.obj)
        desc = False
        nulls_last = None
        if self.is_kw("ASC") or self.is_kw("DESC"):
            desc = self.take().value.upper() == "DESC"
        if self.is_kw("NULLS"):
            self.take()
            t = self.take()
            if t.kind != "ident" or t.value.upper() not in ("FIRST", "LAST"):
                self.unexpected(t)
            nulls_last = t.value.upper() == "LAST"
        if nulls_last is None:
            nulls_last = desc       # SOQL: nulls first ascending, last desc
        query.order.append((name, desc, nulls_last))


def parse_soql(q):
    """Parse q; returns a Query or raises SoqlError."""
    return _Parser(q).parse()


def like_regex(items):
    parts = []
    for it in items:
        if it is ANY:
            parts.append(".*")
        elif it is ONE:
            parts.append(".")
        else:
            parts.append(re.escape(it))
    return re.compile("".join(parts), re.DOTALL | re.IGNORECASE)


def field_value(row, name):
    if name.startswith("Account."):
        acct = row["Account"]
        return acct.get(name[8:]) if acct else None
    return row.get(name)


def _matches(row, cond):
    name, kind, op, value = cond
    v = field_value(row, name)
    if op == "LIKE":
        return v is not None and like_regex(value).fullmatch(v) is not None
    if value is None:
        eq = v is None
    elif v is None:
        eq = False
    elif kind in ("id", "reference"):
        eq = v[:15] == value[:15]
    elif isinstance(value, str):
        eq = v.casefold() == value.casefold()
    else:
        eq = v == value
    return eq if op == "=" else not eq


def soql_rows(obj):
    """The seed rows of obj (of the org this process serves)."""
    if obj == "Contact":
        return list(CONTACTS)
    if obj == "Account":
        return list(ACCOUNTS.values())
    return list(OPPORTUNITIES)


def run_query(query, version):
    """Evaluate a parsed query against the seed data; returns the records."""
    rows = [r for r in soql_rows(query.obj)
            if all(_matches(r, c) for c in query.where)]
    # ORDER BY a, b, ...: stable sorts from the last key to the first.
    for name, desc, nulls_last in reversed(query.order):
        present = [c for c in rows if field_value(c, name) is not None]
        absent = [c for c in rows if field_value(c, name) is None]
        present.sort(key=lambda c: (field_value(c, name).casefold()
                                    if isinstance(field_value(c, name), str)
                                    else field_value(c, name)),
                     reverse=desc)
        rows = present + absent if nulls_last else absent + present
    if query.offset is not None:
        rows = rows[query.offset:]
    if query.limit is not None:
        rows = rows[:query.limit]
    return [record_json(c, query.fields, version, query.obj) for c in rows]


def record_json(row, fields, version, obj="Contact"):
    rec = {"attributes": {
        "type": obj,
        "url": "/services/data/%s/sobjects/%s/%s" % (version, obj,
                                                     row["Id"])}}
    for name in fields:
        if not name.startswith("Account."):
            rec[name] = row.get(name)
            continue
        acct = row["Account"]
        if acct is None:
            rec["Account"] = None
            continue
        if "Account" not in rec:
            rec["Account"] = {"attributes": {
                "type": "Account",
                "url": "/services/data/%s/sobjects/Account/%s" % (
                    version, acct["Id"])}}
        rec["Account"][name[8:]] = acct.get(name[8:])
    return rec


def api_versions():
    out = []
    for v in range(OLDEST_VERSION, LATEST_VERSION + 1):
        k = LATEST_VERSION - v
        season = ("Summer", "Spring", "Winter")[k % 3]
        out.append({"label": "%s '%02d" % (season, 26 - k // 3),
                    "url": "/services/data/v%d.0" % v,
                    "version": "%d.0" % v})
    return out


# --------------------------------------------------------------------------
# Token formats

_TOKEN_CHARS = ("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                "0123456789._")


def _random_chars(n):
    return "".join(secrets.choice(_TOKEN_CHARS) for _ in range(n))


def new_access_token():
    return "%s!AQ%s" % (ORG_ID15, _random_chars(96))


def new_refresh_token():
    return "5Aep861" + _random_chars(80)


def new_code():
    # Real codes end in "==": a client that does not URL-encode them breaks.
    return "aPrx" + _random_chars(60) + "=="


def pkce_challenge(verifier):
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


_VERIFIER = re.compile(r"[A-Za-z0-9._~-]{43,128}")
_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")


def token_signature(secret, id_url, issued_at):
    mac = hmac.new(secret.encode("utf-8"),
                   (id_url + issued_at).encode("utf-8"), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode("ascii")


# --------------------------------------------------------------------------
# State

FAULT_TYPES = {
    "delay": (int, float), "token_delay": (int, float),
    "query_status": int, "query_status_count": int, "query_body": str,
    "userinfo_status": int, "blackhole": bool, "drip": (int, float),
    "huge": int, "instance_url": str, "bad_signature": bool,
    "rotate_refresh": bool, "token_status": int, "token_body": str,
    "hooks_status": int, "auto_consent": str, "deactivated_users": list,
    "query_body_b64": str,
    "grant_limit": int, "access_ttl": (int, float),
    "refresh_reply_delay": (int, float),
    "query_delay": (int, float),
    "remember_approvals": bool,
    # Case (sf_case.py): required fields, a validation rule that fails
    # ({"message", "fields", "when": {"field", "contains"}}), and
    # Priority's picklist values.
    "case_required": list, "case_validation": dict,
    "case_priorities": list, "case_lengths": dict,
}
# prompt values that make the authorize page show whatever the browser's
# session remembers (Salesforce: login, consent, select_account).
PROMPTS_SHOWING_PAGE = {"login", "consent", "select_account"}
SESSION_COOKIE = "sid"
USER_FIELDS = {"email": str, "email_verified": bool}


class Grant:
    """One user's approval of the app: a refresh token and its sessions."""

    def __init__(self, seq, user, client_id, scopes, now):
        self.seq = seq
        self.user = user
        self.client_id = client_id
        self.scopes = scopes
        self.created = now
        self.refresh = None
        self.access = set()
        self.revoked = False
        self.revoked_by = None          # why: see State._revoke_grant
        self.client_credentials = False     # a Run-As user's token


class State:
    """Everything the server remembers; every method takes the lock."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.lock = threading.Lock()
        # Every TLS connection accepted since start (the last CONNS_KEPT),
        # kept across resets: the tests compare serial numbers.
        self.conns = []
        self.conn_serial = 0
        # Every secret issued or received since start, kept across resets:
        # the tests search forcelink's logs and files for them.
        self.ledger = set()
        self.reset()

    def reset(self):
        global MULTI_CURRENCY
        with self.lock:
            # The org's currencies as it started (org B: one).
            if not hasattr(self, "start_multi_currency"):
                self.start_multi_currency = MULTI_CURRENCY
            MULTI_CURRENCY = self.start_multi_currency
            self.offset = 0.0
            self.faults = {}
            self.rotate = self.cfg.rotate_refresh
            self.pending = {}       # consent id -> authorize request
            self.codes = {}         # code -> dict
            self.grants = {}        # seq -> Grant
            self.refresh = {}       # refresh token -> [grant seq, retired]
            self.access = {}        # access token -> dict
            self.seq = 0
            self.hooks = []
            self.hook_urls = {}     # path -> [count, first post time]
            self.requests = []      # the ledger of Salesforce requests
            # The browser sessions of the consent page (the sid cookie):
            # sid -> {"user": username, "approved": set of client ids}.
            self.sessions = {}
            self.user_overrides = {}    # username -> userinfo fields
            # The Cases created (sf_case.py).
            self.cases = sf_case.Cases(
                lambda n: sfid("5005g00000Cs%03d" % n))
            self.api_usage = 0
            self.inflight_token = 0
            self.c = {
                "authorize_requests": 0, "consents": 0, "denials": 0,
                "token_requests": {"authorization_code": 0,
                                   "refresh_token": 0,
                                   "client_credentials": 0, "other": 0},
                "code_exchanges": 0, "code_exchanges_ok": 0,
                "refreshes": 0, "refreshes_ok": 0,
                "retired_refresh_presented": 0, "grants_dropped": 0,
                "revocations": [], "queries": 0, "queries_ok": 0,
                "userinfo": 0, "max_inflight_token_requests": 0,
                "client_credentials_ok": 0, "silent_approvals": 0,
                "delays": 0, "case_creates": 0, "composites": 0,
                "describes": 0,
            }

    def now(self):
        return time.time() + self.offset

    def conn_opened(self, tls):
        """Records a connection whose handshake just ended."""
        with self.lock:
            self.conn_serial += 1
            rec = {"serial": self.conn_serial, "tls": tls.version(),
                   "resumed": bool(tls.session_reused), "requests": 0,
                   "user_agent": None}
            self.conns.append(rec)
            del self.conns[:-CONNS_KEPT]
        return rec

    def conn_request(self, rec, user_agent):
        with self.lock:
            rec["requests"] += 1
            if rec["user_agent"] is None:
                rec["user_agent"] = user_agent

    def remember(self, secret):
        with self.lock:
            self.ledger.add(secret)

    def ledger_json(self):
        with self.lock:
            return sorted(self.ledger)

    def snapshot_faults(self):
        with self.lock:
            return dict(self.faults)

    # -- faults --------------------------------------------------------

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
            err = sf_case.check_fault(key, value) if key.startswith(
                "case_") else None
            if err:
                return err
            if key == "query_body_b64" and value is not None:
                try:
                    base64.b64decode(value, validate=True)
                except ValueError:
                    return "fault 'query_body_b64' is not base64"
        with self.lock:
            for key, value in changes.items():
                if key == "rotate_refresh":
                    self.rotate = (self.cfg.rotate_refresh if value is None
                                   else value)
                if value is None:
                    self.faults.pop(key, None)
                else:
                    self.faults[key] = value
        return None

    def take_query_status(self):
        """The query_status fault for this request, counting it down."""
        with self.lock:
            status = self.faults.get("query_status")
            if status is None:
                return None
            left = self.faults.get("query_status_count")
            if left is not None:
                if left <= 1:
                    self.faults.pop("query_status", None)
                    self.faults.pop("query_status_count", None)
                else:
                    self.faults["query_status_count"] = left - 1
            return status

    def deactivated(self, username):
        return username in self.faults.get("deactivated_users", ())

    # -- consent and codes --------------------------------------------

    def add_pending(self, req):
        cid = secrets.token_urlsafe(24)
        with self.lock:
            now = self.now()
            for k in [k for k, v in self.pending.items()
                      if v["expires"] < now]:
                del self.pending[k]
            req["expires"] = now + CONSENT_TTL
            self.pending[cid] = req
        return cid

    def take_pending(self, cid):
        with self.lock:
            req = self.pending.pop(cid, None)
            if req is None or req["expires"] < self.now():
                return None
            return req

    def new_code(self, req, user):
        code = new_code()
        with self.lock:
            self.ledger.add(code)
            self.codes[code] = {
                "client_id": req["client_id"],
                "redirect_uri": req["redirect_uri"],
                "challenge": req["code_challenge"],
                "scopes": req["scopes"],
                "user": user, "expires": self.now() + CODE_TTL}
        return code

    def take_code(self, code):
        """Consume a code (one use, whatever the outcome); None if stale."""
        with self.lock:
            entry = self.codes.pop(code, None)
            if entry is None or entry["expires"] < self.now():
                return None
            return entry

    # -- grants and tokens ---------------------------------------------

    def _revoke_grant(self, g, why):
        """why: "revoke" (the client called /revoke), "revoke_all" (the
        control API), "grant_limit" (a sixth grant), "retired_refresh"
        (a rotated-out refresh token came back)."""
        if not g.revoked:
            g.revoked_by = why
        g.revoked = True
        for tok in g.access:
            self.access[tok]["revoked"] = True

    def _issue_access(self, g):
        tok = new_access_token()
        self.ledger.add(tok)
        ttl = self.faults.get("access_ttl", self.cfg.access_ttl)
        self.access[tok] = {"grant": g.seq, "user": g.user,
                            "expires": self.now() + ttl,
                            "revoked": False}
        g.access.add(tok)
        return tok

    def create_grant(self, user, client_id, scopes):
        """A new grant from a code exchange; drops the oldest past five
        (or the grant_limit fault)."""
        with self.lock:
            live = sorted((g for g in self.grants.values()
                           if g.user == user and g.client_id == client_id
                           and not g.revoked), key=lambda g: g.seq)
            limit = self.faults.get("grant_limit", MAX_GRANTS)
            while len(live) >= max(limit, 1):
                self._revoke_grant(live.pop(0), "grant_limit")
                self.c["grants_dropped"] += 1
            self.seq += 1
            g = Grant(self.seq, user, client_id, scopes, self.now())
            self.grants[g.seq] = g
            access = self._issue_access(g)
            refresh = None
            if "refresh_token" in scopes or "offline_access" in scopes:
                refresh = new_refresh_token()
                self.ledger.add(refresh)
                g.refresh = refresh
                self.refresh[refresh] = [g.seq, False]
            return g, access, refresh

    def client_credentials_grant(self, user, client_id):
        """A token for the Run-As user: a grant of its own, with no
        refresh token (the flow issues none)."""
        with self.lock:
            self.seq += 1
            g = Grant(self.seq, user, client_id, ("api",), self.now())
            g.client_credentials = True
            self.grants[g.seq] = g
            return g, self._issue_access(g)

    def token_owner(self, token):
        """(username, client_id, live) behind an access token, or
        (None, None, False) for a token this org never issued."""
        with self.lock:
            a = self.access.get(token)
            if a is None:
                return None, None, False
            live = (not a["revoked"] and a["expires"] > self.now()
                    and not self.deactivated(a["user"]))
            return a["user"], self.grants[a["grant"]].client_id, live

    def refresh_client(self, token):
        """The client id a refresh token was issued to, or None."""
        with self.lock:
            entry = self.refresh.get(token)
            return self.grants[entry[0]].client_id if entry else None

    def record(self, entry):
        with self.lock:
            self.requests.append(entry)

    def use_refresh(self, token, client_id):
        """Returns (grant, access, new refresh or None, error description)."""
        with self.lock:
            entry = self.refresh.get(token)
            if entry is None:
                return None, None, None, "expired access/refresh token"
            g = self.grants[entry[0]]
            if g.revoked or g.client_id != client_id:
                return None, None, None, "expired access/refresh token"
            if entry[1]:
                # A rotated-out token came back: treat it as stolen.
                self.c["retired_refresh_presented"] += 1
                self._revoke_grant(g, "retired_refresh")
                return None, None, None, "expired access/refresh token"
            if self.deactivated(g.user):
                return None, None, None, "authentication failure"
            access = self._issue_access(g)
            new = None
            if self.rotate:
                new = new_refresh_token()
                self.ledger.add(new)
                entry[1] = True
                self.refresh[new] = [g.seq, False]
                g.refresh = new
            return g, access, new, None

    def check_access(self, token):
        """The username behind a live access token, or None."""
        with self.lock:
            a = self.access.get(token)
            if a is None or a["revoked"] or a["expires"] <= self.now():
                return None
            if self.deactivated(a["user"]):
                return None
            return a["user"]

    def revoke(self, token):
        """Revoke a token; returns (kind revoked or None if unknown, the
        grant it belongs to or None)."""
        with self.lock:
            entry = self.refresh.get(token)
            if entry is not None:
                g = self.grants[entry[0]]
                if entry[1] or g.revoked:
                    return None, g.seq
                self._revoke_grant(g, "revoke")
                return "refresh_token", g.seq
            a = self.access.get(token)
            if a is not None and not a["revoked"] and \
                    a["expires"] > self.now():
                a["revoked"] = True
                a["revoked_by"] = "revoke"
                return "access_token", a["grant"]
            return None, a["grant"] if a is not None else None

    def token_info(self, token):
        """What the stand-in knows of a token it issued: for tests that
        hold a token and ask whether the client revoked it."""
        with self.lock:
            entry = self.refresh.get(token)
            if entry is not None:
                g = self.grants[entry[0]]
                return {"known": True, "kind": "refresh_token",
                        "grant": g.seq, "user": g.user,
                        "retired": entry[1], "revoked": g.revoked,
                        "revoked_by": g.revoked_by,
                        "live": not (entry[1] or g.revoked)}
            a = self.access.get(token)
            if a is not None:
                g = self.grants[a["grant"]]
                revoked = a["revoked"]
                return {"known": True, "kind": "access_token",
                        "grant": g.seq, "user": g.user, "retired": False,
                        "revoked": revoked,
                        "revoked_by": a.get("revoked_by") or (
                            g.revoked_by if revoked else None),
                        "live": not revoked and a["expires"] > self.now()}
            return {"known": False}

    def grants_json(self):
        with self.lock:
            return [{"grant": g.seq, "user": g.user,
                     "client_id": g.client_id, "scopes": list(g.scopes),
                     "created": g.created,
                     "client_credentials": g.client_credentials,
                     "revoked": g.revoked, "revoked_by": g.revoked_by,
                     "live_access_tokens": sum(
                         1 for t in g.access
                         if not self.access[t]["revoked"]
                         and self.access[t]["expires"] > self.now())}
                    for _, g in sorted(self.grants.items())]

    # -- browser sessions and remembered approvals ---------------------

    def session_user(self, sid):
        with self.lock:
            sess = self.sessions.get(sid or "")
            return sess["user"] if sess else None

    def remembered(self, sid, client_id):
        """The user whose approval of client_id this browser session
        remembers, or None."""
        with self.lock:
            sess = self.sessions.get(sid or "")
            if sess is None or client_id not in sess["approved"]:
                return None
            if self.deactivated(sess["user"]):
                return None
            return sess["user"]

    def log_in(self, sid, user, approved_client=None):
        """The consent page was answered in session sid as user (logging
        in as someone else replaces the session's user and approvals)."""
        with self.lock:
            sess = self.sessions.get(sid)
            if sess is None or sess["user"] != user:
                sess = self.sessions[sid] = {"user": user,
                                             "approved": set()}
            if approved_client is not None:
                sess["approved"].add(approved_client)

    # -- per-user userinfo fields --------------------------------------

    def set_users(self, changes):
        """Merge {username: {field: value}} (null removes a field);
        returns an error or None."""
        for user, fields in changes.items():
            if user not in USERS_BY_NAME:
                return "unknown user '%s'" % user
            if not isinstance(fields, dict):
                return "user '%s' needs an object" % user
            for k, v in fields.items():
                if k not in USER_FIELDS:
                    return "unknown field '%s'" % k
                if v is not None and not isinstance(v, USER_FIELDS[k]):
                    return "field '%s' has the wrong type" % k
        with self.lock:
            for user, fields in changes.items():
                over = self.user_overrides.setdefault(user, {})
                for k, v in fields.items():
                    if v is None:
                        over.pop(k, None)
                    else:
                        over[k] = v
        return None

    def user_fields(self, username):
        with self.lock:
            out = {"email": username, "email_verified": True}
            out.update(self.user_overrides.get(username, {}))
            return out

    def expire_access_tokens(self):
        with self.lock:
            n = 0
            for a in self.access.values():
                if not a["revoked"] and a["expires"] > self.now():
                    n += 1
                a["expires"] = 0
            return n

    def revoke_all(self, user=None):
        with self.lock:
            n = 0
            for g in self.grants.values():
                if not g.revoked and (user is None or g.user == user):
                    self._revoke_grant(g, "revoke_all")
                    n += 1
            # Revoking a user's access to the app (Setup, "OAuth Usage")
            # also ends the approvals the browsers remember.
            for sess in self.sessions.values():
                if user is None or sess["user"] == user:
                    sess["approved"].clear()
            return n

    # -- hooks ---------------------------------------------------------

    def hook_post(self, path, raw, body, status_fault):
        """Record a post to a response_url; returns (status, reply text)."""
        with self.lock:
            now = self.now()
            count, first = self.hook_urls.get(path, (0, now))
            if status_fault is not None:
                status, text = status_fault, "internal_error"
            elif count >= HOOK_MAX_POSTS:
                status, text = 404, "used_url"
            elif now - first > HOOK_WINDOW:
                status, text = 404, "expired_url"
            else:
                status, text = 200, "ok"
                self.hook_urls[path] = (count + 1, first)
            self.hooks.append({"path": path, "body": body, "raw": raw,
                               "time": now, "status": status})
            return status, text

    # -- counters ------------------------------------------------------

    def count(self, key, sub=None):
        with self.lock:
            if sub is None:
                self.c[key] += 1
            else:
                self.c[key][sub] += 1

    def token_begin(self):
        with self.lock:
            self.inflight_token += 1
            self.c["max_inflight_token_requests"] = max(
                self.c["max_inflight_token_requests"], self.inflight_token)

    def token_end(self):
        with self.lock:
            self.inflight_token -= 1

    def api_call(self):
        with self.lock:
            self.api_usage += 1
            return self.api_usage

    def state_json(self):
        with self.lock:
            out = json.loads(json.dumps(self.c))
            grants = {u["username"]: 0 for u in USERS}
            for g in self.grants.values():
                if not g.revoked and not g.client_credentials:
                    grants[g.user] += 1
            out["live_grants"] = grants
            out["api_usage"] = self.api_usage
            out["rotate_refresh"] = self.rotate
            out["faults"] = dict(self.faults)
            out["clock_offset"] = self.offset
            out["hooks"] = list(self.hooks)
            return out


# --------------------------------------------------------------------------
# HTTP

STOPPING = threading.Event()
SECRET_PARAMS = {"code", "state", "token", "access_token", "refresh_token",
                 "client_secret", "code_verifier", "code_challenge",
                 "oauth_token", "consent", "nonce"}
URL_FORBIDDEN = {"client_secret", "code", "code_verifier", "refresh_token",
                 "client_assertion", "password"}
JSON_TYPE = "application/json;charset=UTF-8"
FORM_TYPE = "application/x-www-form-urlencoded"


class Log:
    def __init__(self, path):
        self.lock = threading.Lock()
        self.fp = open(path, "a", buffering=1) if path else sys.stderr

    def write(self, line):
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        with self.lock:
            try:
                self.fp.write("%s %s\n" % (stamp, line))
                self.fp.flush()
            except (OSError, ValueError):
                pass


def safe_target(target):
    """The request target with every secret-looking value hidden."""
    path, _, query = target.partition("?")
    if not query:
        return path
    parts = []
    for key, value in urllib.parse.parse_qsl(query, keep_blank_values=True):
        if key in SECRET_PARAMS:
            value = "***"
        elif len(value) > 80:
            value = value[:80] + "..."
        parts.append("%s=%s" % (key, urllib.parse.quote(value, safe="*")))
    return path + "?" + "&".join(parts)


def to_json(obj):
    return json.dumps(obj, ensure_ascii=False,
                      separators=(",", ":")).encode("utf-8")


def sf_error(status):
    """A Salesforce-shaped REST error body for an HTTP status."""
    table = {
        400: ("MALFORMED_QUERY", "A query string has to be specified"),
        401: ("INVALID_SESSION_ID", "Session expired or invalid"),
        403: ("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."),
        404: ("NOT_FOUND", "The requested resource does not exist"),
        503: ("SERVER_UNAVAILABLE", "Server too busy"),
    }
    code, msg = table.get(status, (
        "UNKNOWN_EXCEPTION",
        "An unexpected error occurred. Please include this ErrorId if you "
        "contact support: 1452464078-314667 (-1173371248)"))
    return [{"message": msg, "errorCode": code}]


INVALID_SESSION = [{"message": "Session expired or invalid",
                    "errorCode": "INVALID_SESSION_ID"}]


class Reply(Exception):
    """Raised by handlers to answer at once."""

    def __init__(self, status, body=b"", ctype="text/plain;charset=UTF-8",
                 headers=None):
        super().__init__(status)
        self.status, self.body, self.ctype = status, body, ctype
        self.headers = headers or {}


def oauth_error(status, error, description):
    return Reply(status, to_json({"error": error,
                                  "error_description": description}),
                 JSON_TYPE, {"Cache-Control": "no-cache,no-store"})


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60

    def version_string(self):
        return "SalesforceStandIn/1.0"

    # -- plumbing ------------------------------------------------------

    def log_request(self, code="-", size="-"):
        pass

    def log_message(self, fmt, *args):
        self.server.log.write("%s %s" % (self.client_address[0],
                                         fmt % args))

    def note(self, **kw):
        """Adds to this request's ledger entry."""
        if getattr(self, "rec", None) is not None:
            self.rec.update(kw)

    def note_token(self, token):
        """Notes whose access token a call carries and its client id."""
        user, client_id, _ = self.st.token_owner(token)
        self.note(user=user, client_id=client_id,
                  token_known=user is not None)

    def log_done(self, status):
        if getattr(self, "rec", None) is not None:
            self.rec["status"] = status
            self.st.record(self.rec)
            self.rec = None
        ms = (time.monotonic() - self.t0) * 1000
        self.server.log.write("%s %s %s %s %.1fms" % (
            self.client_address[0], self.command,
            safe_target(self.path), status, ms))

    @property
    def st(self):
        return self.server.state

    def send_body(self, status, body, ctype, headers=None, drip=None):
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
        if drip:
            self.write_slowly(body, drip)
        else:
            self.wfile.write(body)
        self.log_done(status)

    def write_slowly(self, body, rate):
        step = max(1, int(rate / 10))
        for i in range(0, len(body), step):
            if STOPPING.wait(step / rate):
                return
            self.wfile.write(body[i:i + step])
            self.wfile.flush()

    def send_huge(self, size, headers):
        head = b'{"totalSize":0,"done":true,"records":[],"padding":"'
        tail = b'"}'
        self.send_response(200)
        self.send_header("Content-Type", JSON_TYPE)
        self.send_header("Content-Length", str(size))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        if size < len(head) + len(tail):
            self.wfile.write(b" " * size)
        else:
            left = size - len(head) - len(tail)
            self.wfile.write(head)
            chunk = b"x" * 65536
            while left > 0 and not STOPPING.is_set():
                n = min(left, len(chunk))
                self.wfile.write(chunk[:n])
                left -= n
            self.wfile.write(tail)
        self.log_done(200)

    def blackhole(self):
        """Hold the connection without answering until the client leaves."""
        self.server.log.write("%s %s %s blackholed" % (
            self.client_address[0], self.command, safe_target(self.path)))
        sock = self.connection
        while not STOPPING.is_set() and \
                self.st.snapshot_faults().get("blackhole"):
            try:
                ready, _, _ = select.select([sock], [], [], 0.2)
                if ready and not sock.recv(4096):
                    break
            except ssl.SSLWantReadError:
                continue
            except (OSError, ValueError):
                break
        self.close_connection = True

    def read_body(self):
        self.body_read = True
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return self.read_chunked()
        length = self.headers.get("Content-Length")
        if length is None:
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

    def read_chunked(self):
        out = bytearray()
        while True:
            line = self.rfile.readline(100)
            try:
                n = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                self.close_connection = True
                raise Reply(400, "bad chunk")
            if n == 0:
                while self.rfile.readline(8192) not in (b"\r\n", b"\n", b""):
                    pass
                return bytes(out)
            if len(out) + n > MAX_BODY:
                self.close_connection = True
                raise Reply(413, "request body too large")
            out += self.rfile.read(n)
            self.rfile.readline(10)

    def form(self, body):
        """Parse a form body; a repeated parameter is refused."""
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise oauth_error(400, "invalid_request", "malformed request")
        out = {}
        for k, v in urllib.parse.parse_qsl(text, keep_blank_values=True):
            if k in out:
                raise oauth_error(400, "invalid_request",
                                  "duplicate parameter: %s" % k)
            out[k] = v
        return out

    def query_params(self):
        query = urllib.parse.urlsplit(self.path).query
        out = {}
        for k, v in urllib.parse.parse_qsl(query, keep_blank_values=True):
            out.setdefault(k, v)
        return out

    def bearer(self):
        auth = self.headers.get("Authorization", "")
        scheme, _, value = auth.partition(" ")
        if scheme.lower() in ("bearer", "oauth") and value.strip():
            return value.strip()
        return None

    def delay(self, seconds):
        if seconds:
            # Counted, so tests can tell "not delayed" without timing
            # it on a machine that may be busy.
            self.st.count("delays")
            STOPPING.wait(float(seconds))

    # -- dispatch ------------------------------------------------------

    def do_GET(self):
        self.dispatch()

    def do_POST(self):
        self.dispatch()

    def do_PUT(self):
        self.dispatch()

    def do_DELETE(self):
        self.dispatch()

    def do_PATCH(self):
        self.dispatch()

    def dispatch(self):
        self.t0 = time.monotonic()
        path = urllib.parse.urlsplit(self.path).path
        self.body_read = False
        # The ledger records every Salesforce request (not the control
        # API, not Slack's response_url): what, with which client id or
        # whose token, and the status.
        self.rec = None
        conn = getattr(self.request, "standin_conn", None)
        if conn is not None and not path.startswith("/_control/"):
            self.st.conn_request(conn, self.headers.get("User-Agent"))
        if not path.startswith(("/_control/", "/hooks/")):
            self.rec = {"method": self.command, "path": path,
                        "client_id": None, "grant_type": None,
                        "user": None, "token_known": None,
                        "grant": None, "prompt": None,
                        "prompt_login": None, "remembered": None,
                        "soql": None}
        try:
            self.route(path)
        except Reply as r:
            if not self.body_read and (
                    self.headers.get("Content-Length", "0").strip() != "0"
                    or "Transfer-Encoding" in self.headers):
                # An unread body would be taken for the next request.
                self.close_connection = True
            self.send_body(r.status, r.body, r.ctype, r.headers)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError,
                socket.timeout):
            self.close_connection = True
        except Exception as e:          # a bug here must not kill the server
            self.close_connection = True
            self.server.log.write("internal error on %s: %r" % (path, e))
            try:
                self.send_body(500, to_json(sf_error(500)), JSON_TYPE)
            except OSError:
                pass

    def route(self, path):
        m = self.command
        if path == "/services/oauth2/authorize":
            if m == "GET":
                return self.authorize_get()
            if m == "POST":
                return self.authorize_post()
        elif path == "/services/oauth2/token":
            if m == "POST":
                return self.token()
        elif path == "/services/oauth2/revoke":
            if m in ("GET", "POST"):
                return self.revoke()
        elif path == "/services/oauth2/userinfo":
            if m in ("GET", "POST"):
                return self.userinfo()
        elif path.startswith("/id/"):
            if m == "GET":
                return self.identity(path)
        elif path in ("/services/data", "/services/data/"):
            if m == "GET":
                raise Reply(200, to_json(api_versions()), JSON_TYPE)
        elif path.startswith("/services/data/"):
            return self.data(path)
        elif path.startswith("/hooks/") and len(path) > len("/hooks/"):
            if m == "POST":
                return self.hook(path)
        elif path.startswith("/_control/"):
            return self.control(path[len("/_control/"):])
        else:
            raise Reply(404, "Not Found")
        raise Reply(405, "Method Not Allowed", headers={"Allow": "GET, POST"})

    # -- OAuth: authorize ----------------------------------------------

    def page(self, status, title, body_html, headers=None):
        doc = ("<!DOCTYPE html>\n<html lang=\"en\"><head>"
               "<meta charset=\"utf-8\"><meta name=\"viewport\" "
               "content=\"width=device-width, initial-scale=1\">"
               "<title>%s</title><style>"
               "body{font-family:sans-serif;max-width:34em;margin:3em auto;"
               "padding:0 1em}"
               "label{display:block;margin:.4em 0}"
               "button{margin-right:1em;padding:.4em 1.2em}"
               "</style></head><body>%s</body></html>\n"
               % (html.escape(title), body_html))
        h = {"Cache-Control": "no-cache,no-store",
             "X-Frame-Options": "DENY",
             "Content-Security-Policy": "default-src 'none'; "
             "style-src 'unsafe-inline'; frame-ancestors 'none'"}
        h.update(headers or {})
        raise Reply(status, doc, "text/html;charset=UTF-8", h)

    def error_page(self, error, description):
        self.page(400, "OAuth Error",
                  "<h1>OAuth Error</h1><p>We can't authorize you because of "
                  "an OAuth error. For more information, contact your "
                  "Salesforce administrator.</p><p><code>error=%s&amp;"
                  "error_description=%s</code></p>" % (
                      html.escape(error),
                      html.escape(urllib.parse.quote(description))))

    def redirect(self, uri, params):
        sep = "&" if "?" in uri else "?"
        location = uri + sep + urllib.parse.urlencode(
            [(k, v) for k, v in params if v is not None])
        raise Reply(302, "", headers={"Location": location,
                                      "Cache-Control": "no-cache,no-store"})

    def session_id(self):
        """The stand-in's own browser session cookie, or None."""
        jar = http.cookies.SimpleCookie()
        try:
            jar.load(self.headers.get("Cookie", ""))
        except http.cookies.CookieError:
            return None
        m = jar.get(SESSION_COOKIE)
        return m.value if m is not None and m.value else None

    def authorize_get(self):
        self.st.count("authorize_requests")
        p = self.query_params()
        prompts = set(p.get("prompt", "").split())
        self.note(client_id=p.get("client_id"), prompt=p.get("prompt"),
                  prompt_login="login" in prompts, remembered=False)
        cfg = self.server.cfg
        if not hmac.compare_digest(p.get("client_id", ""), cfg.client_id):
            self.error_page("invalid_client_id", "client identifier invalid")
        if p.get("redirect_uri", "") != cfg.redirect_uri:
            self.error_page("redirect_uri_mismatch",
                            "redirect_uri must match configuration")
        uri, state = cfg.redirect_uri, p.get("state")
        if p.get("response_type") != "code":
            self.redirect(uri, [("error", "unsupported_response_type"),
                                ("error_description",
                                 "response type not supported"),
                                ("state", state)])
        challenge = p.get("code_challenge")
        method = p.get("code_challenge_method")
        if challenge is not None or method is not None:
            if method != "S256":
                self.redirect(uri, [("error", "invalid_request"),
                                    ("error_description",
                                     "invalid code_challenge_method"),
                                    ("state", state)])
            if challenge is None or not _CHALLENGE.fullmatch(challenge):
                self.redirect(uri, [("error", "invalid_request"),
                                    ("error_description",
                                     "invalid code_challenge"),
                                    ("state", state)])
        scopes = APP_SCOPES
        if p.get("scope"):
            scopes = tuple(p["scope"].split())
            if any(s not in KNOWN_SCOPES for s in scopes):
                self.redirect(uri, [("error", "invalid_scope"),
                                    ("error_description",
                                     "the requested scope is not allowed"),
                                    ("state", state)])
        req = {"client_id": cfg.client_id, "redirect_uri": uri,
               "state": state, "code_challenge": challenge,
               "scopes": scopes}
        faults = self.st.snapshot_faults()
        auto = faults.get("auto_consent")
        if auto in USERS_BY_NAME:
            self.st.count("consents")
            code = self.st.new_code(req, auto)
            self.redirect(uri, [("code", code), ("state", state)])
        # Salesforce skips the page when this browser is logged in as a
        # user who approved the app before, unless prompt asks for it.
        sid = self.session_id()
        if faults.get("remember_approvals") and \
                not prompts & PROMPTS_SHOWING_PAGE:
            user = self.st.remembered(sid, cfg.client_id)
            if user is not None:
                self.st.count("silent_approvals")
                self.note(remembered=True)
                code = self.st.new_code(req, user)
                self.redirect(uri, [("code", code), ("state", state)])
        hint = p.get("login_hint") or self.st.session_user(sid)
        headers = None
        if not sid:
            # A browser session for the page to be answered in; answering
            # it logs the session in (and remembers an Allow).
            headers = {"Set-Cookie": "%s=%s; Path=/; Secure; HttpOnly; "
                       "SameSite=Lax" % (SESSION_COOKIE,
                                         secrets.token_urlsafe(24))}
        self.consent_page(self.st.add_pending(req), hint, headers)

    def consent_page(self, cid, hint, headers=None):
        choices = []
        for n, u in enumerate(USERS):
            checked = u["username"] == hint or (
                n == 0 and hint not in USERS_BY_NAME)
            choices.append(
                '<label><input type="radio" name="user" value="%s"%s> '
                '%s %s (%s)</label>' % (
                    html.escape(u["username"]),
                    " checked" if checked else "",
                    html.escape(u["first"]), html.escape(u["last"]),
                    html.escape(u["username"])))
        self.page(200, "Allow Access?",
                  "<h1>Allow Access?</h1><p><b>forcelink</b> is asking to: "
                  "access and manage your data (api), perform requests at "
                  "any time (refresh_token).</p>"
                  '<form method="post" action="/services/oauth2/authorize">'
                  '<input type="hidden" name="consent" value="%s">'
                  "<fieldset><legend>Log in as</legend>%s</fieldset><p>"
                  '<button type="submit" name="action" value="Allow">Allow'
                  '</button><button type="submit" name="action" '
                  'value="Deny">Deny</button></p></form>' % (
                      html.escape(cid), "".join(choices)), headers)

    def authorize_post(self):
        ctype = self.headers.get("Content-Type", "").split(";")[0].strip()
        body = self.read_body()
        if ctype.lower() != FORM_TYPE:
            self.error_page("invalid_request", "form expected")
        try:
            f = dict(urllib.parse.parse_qsl(body.decode("utf-8"),
                                            keep_blank_values=True))
        except UnicodeDecodeError:
            self.error_page("invalid_request", "malformed request")
        req = self.st.take_pending(f.get("consent", ""))
        if req is not None:
            self.note(client_id=req["client_id"])
        if req is None:
            self.error_page("invalid_request",
                            "this consent request has expired; start again")
        action = f.get("action")
        sid = self.session_id()
        if action == "Deny":
            if sid and f.get("user") in USERS_BY_NAME:
                self.st.log_in(sid, f["user"])
            self.st.count("denials")
            self.redirect(req["redirect_uri"], [
                ("error", "access_denied"),
                ("error_description", "end-user denied authorization"),
                ("state", req["state"])])
        user = f.get("user")
        if action != "Allow" or user not in USERS_BY_NAME:
            self.error_page("invalid_request", "choose a user and Allow")
        self.st.count("consents")
        if sid:
            self.st.log_in(sid, user, req["client_id"])
        code = self.st.new_code(req, user)
        self.redirect(req["redirect_uri"], [("code", code),
                                            ("state", req["state"])])

    # -- OAuth: token --------------------------------------------------

    def token(self):
        self.st.token_begin()
        try:
            self.token_inner()
        finally:
            self.st.token_end()

    def token_inner(self):
        faults = self.st.snapshot_faults()
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        if any(k in URL_FORBIDDEN for k in query):
            # Secrets in a URL end up in logs; the stand-in refuses them.
            self.read_body()
            raise oauth_error(400, "invalid_request",
                              "parameters must be sent in the request "
                              "body, not in the URL")
        body = self.read_body()
        ctype = self.headers.get("Content-Type", "").split(";")[0].strip()
        f = self.form(body) if ctype.lower() == FORM_TYPE else {}
        grant_type = f.get("grant_type", "")
        kind = grant_type if grant_type in (
            "authorization_code", "refresh_token",
            "client_credentials") else "other"
        self.note(client_id=f.get("client_id"), grant_type=grant_type)
        self.st.count("token_requests", kind)
        self.delay(faults.get("token_delay"))
        if faults.get("token_status"):
            self.token_fault(faults["token_status"])
        if faults.get("token_body") is not None:
            raise Reply(200, faults["token_body"], JSON_TYPE)
        if kind == "other":
            raise oauth_error(400, "unsupported_grant_type",
                              "grant type not supported")
        cfg = self.server.cfg
        if kind == "refresh_token":
            self.st.count("refreshes")
        elif kind == "authorization_code":
            self.st.count("code_exchanges")
        if not hmac.compare_digest(f.get("client_id", ""), cfg.client_id):
            raise oauth_error(400, "invalid_client_id",
                              "client identifier invalid")
        if not hmac.compare_digest(f.get("client_secret", "").encode(),
                                   cfg.client_secret.encode()):
            raise oauth_error(400, "invalid_client",
                              "invalid client credentials")
        if kind == "client_credentials":
            self.client_credentials_grant(f, faults)
        if kind == "authorization_code":
            self.code_grant(f, faults)
        self.refresh_grant(f, faults)

    def client_credentials_grant(self, f, faults):
        """The OAuth 2.0 client credentials flow: the app's Run-As user
        (--run-as) gets an access token, with no refresh token.  Without
        a Run-As user the app cannot use the flow."""
        user = self.server.cfg.run_as
        if not user:
            raise oauth_error(400, "invalid_grant",
                              "no client credentials user enabled")
        if self.st.deactivated(user):
            raise oauth_error(400, "invalid_grant", "authentication failure")
        g, access = self.st.client_credentials_grant(user, f["client_id"])
        self.st.count("client_credentials_ok")
        self.token_reply(g, access, None, faults)

    def token_fault(self, status):
        if status == 400:
            raise oauth_error(400, "invalid_grant",
                              "expired access/refresh token")
        if status in (401, 403):
            raise oauth_error(status, "invalid_client",
                              "invalid client credentials")
        raise oauth_error(status, "unknown_error", "retry your request")

    def code_grant(self, f, faults):
        code = self.st.take_code(f.get("code", ""))
        if code is None or code["client_id"] != f["client_id"]:
            raise oauth_error(400, "invalid_grant",
                              "expired authorization code")
        if f.get("redirect_uri") != code["redirect_uri"]:
            raise oauth_error(400, "redirect_uri_mismatch",
                              "redirect_uri must match configuration")
        verifier = f.get("code_verifier")
        if verifier:
            self.st.remember(verifier)
        if code["challenge"] is not None or verifier is not None:
            if code["challenge"] is None or verifier is None or \
                    not _VERIFIER.fullmatch(verifier) or \
                    not hmac.compare_digest(pkce_challenge(verifier),
                                            code["challenge"]):
                raise oauth_error(400, "invalid_grant",
                                  "invalid code verifier")
        if self.st.deactivated(code["user"]):
            raise oauth_error(400, "invalid_grant", "authentication failure")
        g, access, refresh = self.st.create_grant(
            code["user"], f["client_id"], code["scopes"])
        self.st.count("code_exchanges_ok")
        self.token_reply(g, access, refresh, faults)

    def refresh_grant(self, f, faults):
        token = f.get("refresh_token")
        if not token:
            raise oauth_error(400, "invalid_request",
                              "refresh_token is missing")
        g, access, new, err = self.st.use_refresh(token, f["client_id"])
        if err:
            raise oauth_error(400, "invalid_grant", err)
        self.st.count("refreshes_ok")
        # The grant is already refreshed (and a rotated token retired):
        # only the reply is late, as when it is slow on the wire.
        self.delay(faults.get("refresh_reply_delay"))
        self.token_reply(g, access, new, faults)

    def token_reply(self, g, access, refresh, faults):
        cfg = self.server.cfg
        user = USERS_BY_NAME[g.user]
        issued = str(int(self.st.now() * 1000))
        id_url = "%s/id/%s/%s" % (cfg.public_url, ORG_ID, user["id"])
        key = cfg.client_secret
        if faults.get("bad_signature"):
            key = "not-" + key
        self.note(grant=g.seq)
        body = {"access_token": access}
        if refresh:
            body["refresh_token"] = refresh
        body.update({
            "signature": token_signature(key, id_url, issued),
            "scope": " ".join(g.scopes),
            "instance_url": faults.get("instance_url", cfg.public_url),
            "id": id_url, "token_type": "Bearer", "issued_at": issued})
        if g.client_credentials:
            body["token_format"] = "opaque"
        raise Reply(200, to_json(body), JSON_TYPE,
                    {"Cache-Control": "no-cache,no-store"})

    # -- OAuth: revoke -------------------------------------------------

    def revoke(self):
        if self.command == "POST":
            ctype = self.headers.get("Content-Type", "").split(";")[0]
            body = self.read_body()
            f = self.form(body) if ctype.strip().lower() == FORM_TYPE else {}
        else:
            f = self.query_params()
        token = f.get("token", "")
        if token:
            client = self.st.refresh_client(token)
            if client is not None:
                self.note(client_id=client, token_known=True)
            else:
                self.note_token(token)
        kind, seq = self.st.revoke(token) if token else (None, None)
        self.note(grant=seq)
        with self.st.lock:
            self.st.c["revocations"].append({
                "kind": kind or ("missing" if not token else "unknown"),
                "ok": kind is not None})
        if kind:
            raise Reply(200, "", "text/plain;charset=UTF-8",
                        {"Cache-Control": "no-cache,no-store"})
        if not token:
            err = ("unsupported_token_type",
                   "this token type is not supported")
        else:
            err = ("invalid_token", "invalid token")
        # Salesforce answers revoke errors form-encoded unless asked for JSON.
        if "json" in self.headers.get("Accept", "").lower():
            raise oauth_error(400, err[0], err[1])
        raise Reply(400, urllib.parse.urlencode(
            {"error": err[0], "error_description": err[1]},
            quote_via=urllib.parse.quote), FORM_TYPE + ";charset=UTF-8")

    # -- identity ------------------------------------------------------

    def api_faults(self):
        """Delay and blackhole for data, userinfo and identity calls."""
        faults = self.st.snapshot_faults()
        self.api_body = b""
        if self.command == "POST":
            self.api_body = self.read_body()
        self.delay(faults.get("delay"))
        if faults.get("blackhole"):
            self.blackhole()
            return None
        return faults

    def send_api(self, status, body, ctype, faults, headers=None):
        if status == 200 and faults.get("huge"):
            return self.send_huge(int(faults["huge"]), headers or {})
        self.send_body(status, body, ctype, headers, drip=faults.get("drip"))

    def oauth_user(self):
        """Counts a userinfo/identity call, applies the API faults and
        checks the Bearer token as Salesforce does (403 Missing_OAuth_Token
        or Bad_OAuth_Token).  Returns (faults, user); faults is None when a
        fault already answered the request."""
        self.st.count("userinfo")
        faults = self.api_faults()
        if faults is None:
            return None, None
        token = self.bearer()
        if token is None:
            raise Reply(403, "Missing_OAuth_Token")
        self.note_token(token)
        user = self.st.check_access(token)
        if user is None:
            raise Reply(403, "Bad_OAuth_Token")
        return faults, user

    def userinfo(self):
        faults, user = self.oauth_user()
        if faults is None:
            return
        if faults.get("userinfo_status"):
            status = faults["userinfo_status"]
            raise Reply(status, to_json(sf_error(status)), JSON_TYPE)
        self.send_api(200, to_json(self.userinfo_json(user)), JSON_TYPE,
                      faults)

    def userinfo_json(self, username):
        cfg = self.server.cfg
        u = USERS_BY_NAME[username]
        fields = self.st.user_fields(username)
        base = cfg.public_url
        return {
            "sub": "%s/id/%s/%s" % (base, ORG_ID, u["id"]),
            "user_id": u["id"], "organization_id": ORG_ID,
            "preferred_username": username,
            "nickname": username.split("@")[0],
            "name": "%s %s" % (u["first"], u["last"]),
            "email": fields["email"],
            "email_verified": fields["email_verified"],
            "given_name": u["first"], "family_name": u["last"],
            "zoneinfo": "Europe/London",
            "photos": {"picture": base + "/profilephoto/005/F",
                       "thumbnail": base + "/profilephoto/005/T"},
            "profile": "%s/%s" % (base, u["id"]),
            "picture": base + "/profilephoto/005/F",
            "address": {"country": "GB"},
            "is_salesforce_integration_user": username == cfg.run_as,
            "urls": {
                "rest": base + "/services/data/v{version}/",
                "sobjects": base + "/services/data/v{version}/sobjects/",
                "query": base + "/services/data/v{version}/query/",
                "profile": "%s/%s" % (base, u["id"])},
            "active": True, "user_type": "STANDARD",
            "language": "en_US", "locale": "en_GB",
            "utcOffset": 0, "updated_at": "2026-01-05T10:00:00Z",
            "is_app_installed": True,
        }

    def identity(self, path):
        faults, user = self.oauth_user()
        if faults is None:
            return
        info = self.userinfo_json(user)
        if path.rstrip("/") != urllib.parse.urlsplit(info["sub"]).path:
            raise Reply(404, "Bad_Id")
        out = {"id": info["sub"], "asserted_user": True,
               "user_id": info["user_id"],
               "organization_id": ORG_ID, "username": user,
               "nick_name": info["nickname"],
               "display_name": info["name"], "email": info["email"],
               "email_verified": info["email_verified"],
               "first_name": info["given_name"],
               "last_name": info["family_name"],
               "timezone": info["zoneinfo"], "photos": info["photos"],
               "active": True, "user_type": "STANDARD",
               "language": "en_US", "locale": "en_GB", "utcOffset": 0,
               "urls": info["urls"]}
        self.send_api(200, to_json(out), JSON_TYPE, faults)

    # -- REST API ------------------------------------------------------

    def data(self, path):
        m = re.fullmatch(r"/services/data/(v(\d+)\.0)(/.*)?", path)
        rest = m.group(3) if m else None
        if not m or not OLDEST_VERSION <= int(m.group(2)) <= LATEST_VERSION:
            raise Reply(404, to_json(sf_error(404)), JSON_TYPE)
        version = m.group(1)
        if rest in ("/query", "/query/"):
            self.st.count("queries")
        faults = self.api_faults()
        if faults is None:
            return
        token = self.bearer()
        if token is not None:
            self.note_token(token)
        if token is None or self.st.check_access(token) is None:
            raise Reply(401, to_json(INVALID_SESSION), JSON_TYPE)
        usage = self.st.api_call()
        limit = {"Sforce-Limit-Info": "api-usage=%d/%d" % (usage, API_LIMIT)}
        if rest in (None, "", "/"):
            body = {k: "/services/data/%s/%s" % (version, k)
                    for k in ("limits", "query", "sobjects", "search")}
            return self.send_api(200, to_json(body), JSON_TYPE, faults, limit)
        if rest.startswith(("/sobjects/", "/composite")):
            return self.sobjects(version, rest, faults, limit)
        if rest not in ("/query", "/query/"):
            raise Reply(404, to_json(sf_error(404)), JSON_TYPE, limit)
        if self.command != "GET":
            raise Reply(405, to_json([{
                "message": "HTTP Method '%s' not allowed. Allowed are GET"
                % self.command, "errorCode": "METHOD_NOT_ALLOWED"}]),
                JSON_TYPE, limit)
        self.query(version, faults, limit)

    def query(self, version, faults, limit):
        self.delay(faults.get("query_delay"))
        status = self.st.take_query_status()
        if status:
            raise Reply(status, to_json(sf_error(status)), JSON_TYPE, limit)
        if faults.get("query_body") is not None:
            return self.send_api(200, faults["query_body"], JSON_TYPE,
                                 faults, limit)
        if faults.get("query_body_b64") is not None:
            return self.send_api(200, base64.b64decode(
                faults["query_body_b64"]), JSON_TYPE, faults, limit)
        q = self.query_params().get("q")
        # The SOQL received, for tests of what forcelink sends.
        self.note(soql=q)
        if not q:
            raise Reply(400, to_json(sf_error(400)), JSON_TYPE, limit)
        try:
            records = run_query(parse_soql(q), version)
        except SoqlError as e:
            raise Reply(400, to_json([{"message": e.message,
                                       "errorCode": e.code}]),
                        JSON_TYPE, limit)
        self.st.count("queries_ok")
        body = {"totalSize": len(records), "done": True, "records": records}
        self.send_api(200, to_json(body), JSON_TYPE, faults, limit)

    # -- Case: describe, create, read, composite (sf_case.py) ----------

    def sobjects(self, version, rest, faults, limit):
        user = self.st.check_access(self.bearer())
        owner = USERS_BY_NAME[user]["id"] if user in USERS_BY_NAME else None
        if self.command == "POST":
            try:
                body = json.loads(self.api_body.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                raise Reply(400, to_json([{
                    "message": "Unexpected character: the body is not JSON",
                    "errorCode": "JSON_PARSER_ERROR"}]), JSON_TYPE, limit)
        else:
            body = None
        if rest == "/sobjects/Case/describe" and self.command == "GET":
            return self.case_describe(version, faults, limit)
        if rest == "/composite" and self.command == "POST":
            problem = sf_case.composite_problem(body, version)
            if problem:
                raise Reply(400, to_json(problem), JSON_TYPE, limit)
            self.st.count("composites")
            made = []

            def run_sub(method, url, sub_body):
                return self.sobject_call(version, method, url, sub_body,
                                         faults, owner, made)

            def rollback():
                with self.st.lock:
                    for case_id in made:
                        self.st.cases.remove(case_id)
                        self.st.c["case_creates"] -= 1
            out = sf_case.run_composite(body, run_sub, rollback)
            self.note(composite=[(s["method"], s["url"])
                                 for s in body["compositeRequest"]])
            return self.send_api(200, to_json({"compositeResponse": out}),
                                 JSON_TYPE, faults, limit)
        url = "/services/data/%s%s" % (version, rest)
        query = urllib.parse.urlsplit(self.path).query
        if query:
            url += "?" + query
        status, out, hdrs = self.sobject_call(version, self.command, url,
                                              body, faults, owner, [])
        hdrs = dict(hdrs, **limit)
        if status >= 400:
            raise Reply(status, to_json(out), JSON_TYPE, hdrs)
        self.send_api(status, to_json(out), JSON_TYPE, faults, hdrs)

    def case_describe(self, version, faults, limit):
        self.st.count("describes")
        modified = sf_case.describe_modified(faults)
        since = self.headers.get("If-Modified-Since")
        hdrs = dict(limit, **{"Last-Modified": modified})
        if since:
            try:
                t_since = parsedate_to_datetime(since)
                t_mod = parsedate_to_datetime(modified)
            except (TypeError, ValueError):
                t_since = None
            if t_since is not None and t_since >= t_mod:
                raise Reply(304, b"", JSON_TYPE, hdrs)
        self.send_api(200, to_json(sf_case.describe(version, faults)),
                      JSON_TYPE, faults, hdrs)

    def sobject_call(self, version, method, url, body, faults, owner, made):
        """One sObject request (top level or a composite's subrequest):
        returns (status, body, headers); notes created Case ids in made."""
        parts = urllib.parse.urlsplit(url)
        path = parts.path
        params = dict(urllib.parse.parse_qsl(parts.query,
                                             keep_blank_values=True))
        base = "/services/data/%s" % version
        if path in (base + "/sobjects/Case", base + "/sobjects/Case/") and \
                method == "POST":
            with self.st.lock:
                account_ids = {a["Id"][:15] for a in ACCOUNTS.values()}
            errs = sf_case.case_errors(body, faults, account_ids)
            if errs:
                return 400, errs, {}
            with self.st.lock:
                rec = self.st.cases.create(body, owner, self.st.now())
                self.st.c["case_creates"] += 1
            made.append(rec["Id"])
            return 201, {"id": rec["Id"], "success": True, "errors": []}, {
                "Location": "%s/sobjects/Case/%s" % (base, rec["Id"])}
        m = re.fullmatch(re.escape(base) + r"/sobjects/Case/([^/]+)", path)
        if m and method == "GET":
            try:
                fields = sf_case.read_fields(params.get("fields"))
            except ValueError as e:
                return 400, [{
                    "message": "No such column '%s' on entity 'Case'. If you "
                    "are attempting to use a custom field, be sure to append "
                    "the '__c' after the custom field name. Please reference "
                    "your WSDL or the describe call for the appropriate "
                    "names." % e.args[0], "errorCode": "INVALID_FIELD"}], {}
            with self.st.lock:
                rec = self.st.cases.get(m.group(1))
                rec = dict(rec) if rec else None
            if rec is None:
                return 404, sf_case.NOT_FOUND, {}
            return 200, sf_case.case_record(rec, fields, version), {}
        if path in (base + "/query", base + "/query/") and method == "GET":
            try:
                recs = run_query(parse_soql(params.get("q", "")), version)
            except SoqlError as e:
                return 400, [{"message": e.message, "errorCode": e.code}], {}
            return 200, {"totalSize": len(recs), "done": True,
                         "records": recs}, {}
        return 404, sf_case.NOT_FOUND, {}

    # -- Slack response_url --------------------------------------------

    def hook(self, path):
        raw = self.read_body()
        faults = self.st.snapshot_faults()
        ctype = self.headers.get("Content-Type", "").split(";")[0]
        text = raw.decode("utf-8", "replace")
        body = None
        if ctype.strip().lower() == "application/json":
            try:
                body = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                body = None
        if not isinstance(body, dict):
            with self.st.lock:
                self.st.hooks.append({"path": path, "body": None,
                                      "raw": text, "time": self.st.now(),
                                      "status": 400})
            raise Reply(400, "invalid_payload")
        if "text" not in body and "blocks" not in body and \
                not body.get("delete_original"):
            with self.st.lock:
                self.st.hooks.append({"path": path, "body": body,
                                      "raw": text, "time": self.st.now(),
                                      "status": 400})
            raise Reply(400, "no_text")
        status, reply = self.st.hook_post(path, text, body,
                                          faults.get("hooks_status"))
        raise Reply(status, reply)

    # -- control API ---------------------------------------------------

    def control(self, what):
        global MULTI_CURRENCY
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
        elif m == "GET" and what == "hooks":
            out = st.state_json()["hooks"]
        elif m == "GET" and what == "secrets":
            out = st.ledger_json()
        elif m == "GET" and what == "connections":
            with st.lock:
                out = [dict(c) for c in st.conns]
        elif m == "GET" and what == "requests":
            with st.lock:
                out = list(st.requests)
        elif m == "GET" and what == "faults":
            out = st.snapshot_faults()
        elif m == "GET" and what == "cases":
            with st.lock:
                out = st.cases.list()
        elif m == "GET" and what == "grants":
            out = st.grants_json()
        elif m == "GET" and what == "users":
            with st.lock:
                out = {u: dict(f) for u, f in st.user_overrides.items()}
        elif m == "POST" and what == "users":
            err = st.set_users(arg)
            if err:
                raise Reply(400, to_json({"error": err}), JSON_TYPE)
            with st.lock:
                out = {u: dict(f) for u, f in st.user_overrides.items()}
        elif m == "POST" and what == "token_info":
            if not isinstance(arg.get("token"), str):
                raise Reply(400, to_json({"error": "token expected"}),
                            JSON_TYPE)
            out = st.token_info(arg["token"])
        elif m == "POST" and what == "reset":
            st.reset()
            out = {"ok": True}
        elif m == "POST" and what == "faults":
            err = st.set_faults(arg)
            if err:
                raise Reply(400, to_json({"error": err}), JSON_TYPE)
            out = st.snapshot_faults()
        elif m == "POST" and what == "expire_access_tokens":
            out = {"expired": st.expire_access_tokens()}
        elif m == "POST" and what == "revoke_all":
            out = {"revoked_grants": st.revoke_all(arg.get("user"))}
        elif m == "POST" and what == "currency":
            # {"multi": bool}: a multi-currency org (Opportunity has
            # CurrencyIsoCode) or a single-currency one (INVALID_FIELD).
            # Without "multi", it only tells.
            if "multi" in arg and not isinstance(arg["multi"], bool):
                raise Reply(400, to_json({"error": "multi: a boolean"}),
                            JSON_TYPE)
            with st.lock:
                MULTI_CURRENCY = arg.get("multi", MULTI_CURRENCY)
            out = {"multi": MULTI_CURRENCY}
        elif m == "GET" and what == "currency":
            out = {"multi": MULTI_CURRENCY}
        elif m == "POST" and what == "advance":
            secs = arg.get("seconds")
            if not isinstance(secs, (int, float)) or isinstance(secs, bool):
                raise Reply(400, to_json({"error": "seconds expected"}),
                            JSON_TYPE)
            with st.lock:
                st.offset += secs
                out = {"clock_offset": st.offset}
        else:
            raise Reply(404, to_json({"error": "no such control"}),
                        JSON_TYPE)
        raise Reply(200, to_json(out), JSON_TYPE)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False
    # socketserver listens with a backlog of 5: a burst of new connections
    # (every worker thread of a grown pool opens one) would then wait for
    # SYN retransmits, a second or more, which Salesforce does not do.
    request_queue_size = 1024

    def __init__(self, addr, ctx, cfg, log):
        self.ctx, self.cfg, self.log = ctx, cfg, log
        self.state = State(cfg)
        super().__init__(addr, Handler)

    def finish_request(self, request, client_address):
        # The TLS handshake runs here, in the connection's own thread, so a
        # client that never finishes it cannot stall the accept loop.
        request.settimeout(10)
        try:
            tls = self.ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as e:
            self.log.write("%s TLS handshake failed: %s" % (
                client_address[0], getattr(e, "reason", None) or e))
            return
        tls.standin_conn = self.state.conn_opened(tls)
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
        description="Salesforce stand-in for forcelink tests and demo mode.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0,
                   help="0 picks a free port (default)")
    p.add_argument("--cert", required=True, help="server certificate (PEM)")
    p.add_argument("--key", required=True, help="server private key (PEM)")
    p.add_argument("--client-id", default="forcelink-demo-client")
    p.add_argument("--client-secret", default=None)
    p.add_argument("--client-secret-file", default=None,
                   help="read the client secret from this file instead")
    p.add_argument("--redirect-uri", required=True,
                   help="the app's registered callback (exact match)")
    p.add_argument("--public-url", default=None,
                   help="base URL told to clients (default "
                   "https://localhost:PORT)")
    p.add_argument("--ready-file", default=None,
                   help="written once listening: line 1 port, line 2 URL")
    p.add_argument("--log", default=None, help="log file (default stderr)")
    p.add_argument("--rotate-refresh", action="store_true",
                   help="start with refresh-token rotation on")
    p.add_argument("--access-ttl", type=float, default=7200,
                   help="access token lifetime in seconds (default 7200)")
    p.add_argument("--org", choices=("a", "b"), default="a",
                   help="which org to serve: a (default) or b, a second "
                   "org with its own ids, users and contacts")
    p.add_argument("--run-as", default=None, metavar="USERNAME",
                   help="enable the client credentials flow for the app, "
                   "running as this user (one of the org's users)")
    args = p.parse_args(argv)
    if args.client_secret_file:
        with open(args.client_secret_file, encoding="utf-8") as fp:
            args.client_secret = fp.read().strip()
    if not args.client_secret:
        p.error("--client-secret or --client-secret-file is required")
    if args.org == "b":
        use_org_b()
    if args.run_as is not None and args.run_as not in USERS_BY_NAME:
        p.error("--run-as: %s is not a user of org %s" % (args.run_as,
                                                         args.org))
    return args


def write_ready(path, port, url):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w", encoding="utf-8") as fp:
        fp.write("%d\n%s\n" % (port, url))
    os.replace(tmp, path)


def main(argv=None):
    cfg = parse_args(argv if argv is not None else sys.argv[1:])
    log = Log(cfg.log)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(cfg.cert, cfg.key)
    except (OSError, ssl.SSLError) as e:
        print("salesforce.py: cannot load %s / %s: %s" % (
            cfg.cert, cfg.key, e), file=sys.stderr)
        return 1
    try:
        server = Server((cfg.host, cfg.port), ctx, cfg, log)
    except OSError as e:
        print("salesforce.py: cannot listen on %s:%d: %s" % (
            cfg.host, cfg.port, e), file=sys.stderr)
        return 1
    port = server.server_address[1]
    if not cfg.public_url:
        cfg.public_url = "https://localhost:%d" % port
    cfg.public_url = cfg.public_url.rstrip("/")

    def stop(signum, frame):
        STOPPING.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    thread = threading.Thread(target=server.serve_forever,
                              kwargs={"poll_interval": 0.2}, daemon=True)
    thread.start()
    log.write("listening on %s:%d as %s" % (cfg.host, port, cfg.public_url))
    if cfg.ready_file:
        write_ready(cfg.ready_file, port, cfg.public_url)
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
