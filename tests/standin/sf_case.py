"""The Salesforce stand-in's Case: describe, create, read, and composite.

Used by salesforce.py (issue 15).  It plays, with the shapes Salesforce's
REST API guide documents (developer.salesforce.com: "sObject Describe",
"sObject Basic Information" (create), "sObject Rows" (read), "Composite",
"Composite Subrequest Result", "Status Codes and Error Responses"):

  * GET  /services/data/vXX.X/sobjects/Case/describe: the fields forcelink's
    Case form uses, with lengths, picklistValues (Priority: High, Medium
    (the default), Low, or what the case_priorities fault says), and
    Last-Modified (June 2026, or when a describe first saw the
    case_priorities fault set, changed or removed); If-Modified-Since at or after it answers 304;
  * POST /services/data/vXX.X/sobjects/Case: 201 {"id","success":true,
    "errors":[]} with Location, or 400 with a JSON array of
    {"message","errorCode","fields"}: INVALID_FIELD (unknown field, or an
    Id), INVALID_FIELD_FOR_INSERT_UPDATE (CaseNumber), JSON_PARSER_ERROR (a
    value of the wrong type), STRING_TOO_LONG (one error per field, "Subject:
    data value too large: ... (max length=255)"; the case_lengths fault
    shortens a field, as an org's custom field can be),
    INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST, MALFORMED_ID and
    INVALID_CROSS_REFERENCE_KEY for AccountId, REQUIRED_FIELD_MISSING
    ("Required fields are missing: [Subject]", the case_required fault),
    FIELD_CUSTOM_VALIDATION_EXCEPTION (the case_validation fault: the
    admin's message, fields often empty);
  * GET  /services/data/vXX.X/sobjects/Case/ID[?fields=A,B]: the record, or
    404 NOT_FOUND;
  * POST /services/data/vXX.X/composite: up to 25 subrequests (at most 5
    queries) run in order, "@{ref.path}" in a url or body replaced by an
    earlier result's value; the outer answer is 200 {"compositeResponse":
    [{"body","httpHeaders","httpStatusCode","referenceId"}]}.  With
    allOrNone, the first failure stops the run, what was created is rolled
    back, and every other subrequest answers 400 [{"errorCode":
    "PROCESSING_HALTED","message":"The transaction was rolled back since
    another operation in the same transaction failed."}]; without it, a
    subrequest that refers to a failed one answers PROCESSING_HALTED
    ("Invalid reference specified ...").  A malformed composite body is an
    outer 400.
"""

import re
import threading
import time
from email.utils import formatdate

CASE_FIELDS = [
    # (name, label, type, length, createable, nillable, extra)
    ("Id", "Case ID", "id", 18, False, False, {}),
    ("CaseNumber", "Case Number", "string", 30, False, False,
     {"autoNumber": True}),
    ("Subject", "Subject", "string", 255, True, True, {}),
    ("Description", "Description", "textarea", 32000, True, True, {}),
    ("Priority", "Priority", "picklist", 40, True, True,
     {"restrictedPicklist": True}),
    ("Status", "Status", "picklist", 40, True, True,
     {"restrictedPicklist": True, "defaultedOnCreate": True}),
    ("Origin", "Case Origin", "picklist", 40, True, True,
     {"restrictedPicklist": True}),
    ("SuppliedEmail", "Web Email", "email", 80, True, True, {}),
    ("AccountId", "Account ID", "reference", 18, True, True,
     {"referenceTo": ["Account"], "relationshipName": "Account"}),
    ("ContactId", "Contact ID", "reference", 18, True, True,
     {"referenceTo": ["Contact"], "relationshipName": "Contact"}),
    ("OwnerId", "Owner ID", "reference", 18, True, False,
     {"referenceTo": ["Group", "User"], "relationshipName": "Owner",
      "defaultedOnCreate": True}),
]
FIELDS_BY_NAME = {f[0]: f for f in CASE_FIELDS}
PICKLISTS = {
    "Priority": (["High", "Medium", "Low"], "Medium"),
    "Status": (["New", "Working", "Escalated", "Closed"], "New"),
    "Origin": (["Phone", "Email", "Web"], None),
}
DESCRIBE_MODIFIED = "Mon, 01 Jun 2026 00:00:00 GMT"
FIRST_CASE_NUMBER = 1026
COMPOSITE_MAX = 25
COMPOSITE_QUERIES_MAX = 5
HALTED = [{"errorCode": "PROCESSING_HALTED",
           "message": "The transaction was rolled back since another "
           "operation in the same transaction failed."}]
NOT_FOUND = [{"errorCode": "NOT_FOUND",
              "message": "The requested resource does not exist"}]
ID_RE = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?")
REF_ID_RE = re.compile(r"[A-Za-z0-9_]+")
REFERENCE_RE = re.compile(r"@\{([A-Za-z0-9_]+)\.([^}]+)\}")


def picklist(name, faults):
    values, default = PICKLISTS[name]
    if name == "Priority" and faults.get("case_priorities") is not None:
        values = list(faults["case_priorities"])
        default = values[0] if values else None
    return values, default


def describe(version, faults):
    fields = []
    for name, label, kind, length, createable, nillable, extra in \
            CASE_FIELDS:
        f = {"name": name, "label": label, "type": kind,
             "length": field_length(name, length, faults),
             "createable": createable, "updateable": createable,
             "nillable": nillable, "custom": False, "calculated": False,
             "autoNumber": False, "defaultedOnCreate": False,
             "restrictedPicklist": False, "defaultValue": None,
             "picklistValues": [], "referenceTo": [],
             "relationshipName": None}
        f.update(extra)
        if name in PICKLISTS:
            values, default = picklist(name, faults)
            f["picklistValues"] = [
                {"active": True, "defaultValue": v == default, "label": v,
                 "validFor": None, "value": v} for v in values]
        fields.append(f)
    base = "/services/data/%s/sobjects/Case" % version
    return {"name": "Case", "label": "Case", "labelPlural": "Cases",
            "keyPrefix": "500", "custom": False, "createable": True,
            "updateable": True, "queryable": True, "fields": fields,
            "recordTypeInfos": [{
                "name": "Master", "recordTypeId": "012000000000000AAA",
                "master": True, "available": True, "active": True,
                "defaultRecordTypeMapping": True}],
            "urls": {"sobject": base, "describe": base + "/describe",
                     "rowTemplate": base + "/{ID}"}}


# The Priority values last described and when they changed: a describe
# that finds them changed (the case_priorities fault set, changed or
# removed) dates the change then, at least a second after the last one,
# as a describe is once an admin edits the picklist; a client's
# If-Modified-Since from before it gets the new values, one from then or
# after gets 304.
_last = {"key": None, "at": None}
_last_lock = threading.Lock()


def describe_modified(faults):
    values = faults.get("case_priorities")
    key = None if values is None else tuple(values)
    with _last_lock:
        if key != _last["key"]:
            now = time.time()
            if _last["at"] is not None:
                now = max(now, _last["at"] + 1)
            _last["key"], _last["at"] = key, now
        at = _last["at"]
    return DESCRIBE_MODIFIED if at is None else formatdate(at, usegmt=True)


def _error(code, message, fields):
    return {"message": message, "errorCode": code, "fields": fields}


def case_errors(body, faults, account_ids):
    """The errors Salesforce gives for creating a Case from body (a parsed
    JSON value), in its order of checks; [] when it may be created."""
    if not isinstance(body, dict):
        return [{"message": "Json Deserialization failed on token 'null' "
                 "and has left off in the middle of parsing a row. Will go "
                 "to end of row to begin parsing the next row",
                 "errorCode": "INVALID_FIELD"}]
    if "Id" in body:
        return [{"message": "The Id field should not be specified in the "
                 "sobject data.", "errorCode": "INVALID_FIELD"}]
    for k in body:
        if k not in FIELDS_BY_NAME and k != "attributes":
            return [{"message": "No such column '%s' on sobject of type "
                     "Case" % k, "errorCode": "INVALID_FIELD"}]
    ro = [k for k in body if k in FIELDS_BY_NAME and
          not FIELDS_BY_NAME[k][4]]
    if ro:
        return [_error("INVALID_FIELD_FOR_INSERT_UPDATE",
                       "Unable to create/update fields: %s. Please check "
                       "the security settings of this field and verify "
                       "that it is read/write for your profile or "
                       "permission set." % ", ".join(ro), ro)]
    for k, v in body.items():
        if k != "attributes" and v is not None and not isinstance(v, str):
            return [{"message": "Cannot deserialize instance of %s from "
                     "%s value" % (FIELDS_BY_NAME[k][2], type(v).__name__),
                     "errorCode": "JSON_PARSER_ERROR"}]
    errs = []
    for name, label, kind, length, _, _, _ in CASE_FIELDS:
        length = field_length(name, length, faults)
        v = body.get(name)
        if isinstance(v, str) and len(v) > length:
            errs.append(_error("STRING_TOO_LONG",
                               "%s: data value too large: %s (max length="
                               "%d)" % (label, v, length), [name]))
    if errs:
        return errs
    for name in PICKLISTS:
        v = body.get(name)
        if v not in (None, "") and v not in picklist(name, faults)[0]:
            errs.append(_error("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                               "%s: bad value for restricted picklist "
                               "field: %s" % (FIELDS_BY_NAME[name][1], v),
                               [name]))
    if errs:
        return errs
    acct = body.get("AccountId")
    if acct not in (None, ""):
        if not ID_RE.fullmatch(acct):
            return [_error("MALFORMED_ID", "Account ID: id value of "
                           "incorrect type: %s" % acct, ["AccountId"])]
        if acct[:15] not in account_ids:
            return [_error("INVALID_CROSS_REFERENCE_KEY",
                           "invalid cross reference id", ["AccountId"])]
    missing = [f for f in faults.get("case_required") or []
               if body.get(f) in (None, "")]
    if missing:
        return [_error("REQUIRED_FIELD_MISSING",
                       "Required fields are missing: [%s]" %
                       ", ".join(missing), missing)]
    rule = faults.get("case_validation")
    if rule:
        when = rule.get("when")
        if not when or when.get("contains", "") in str(
                body.get(when.get("field", "Subject")) or ""):
            return [_error("FIELD_CUSTOM_VALIDATION_EXCEPTION",
                           rule.get("message", "Validation failed"),
                           list(rule.get("fields") or []))]
    return []


def field_length(name, length, faults):
    """The length of field name: its own, or what the case_lengths fault
    gives it (an org whose field is shorter, as a custom one can be)."""
    return (faults.get("case_lengths") or {}).get(name, length)


def check_fault(key, value):
    """An error for a malformed Case fault value, or None."""
    if value is None:
        return None
    if key in ("case_required", "case_priorities"):
        if not all(isinstance(x, str) for x in value):
            return "fault '%s' must be a list of strings" % key
        if key == "case_required" and any(x not in FIELDS_BY_NAME
                                          for x in value):
            return "fault 'case_required' names an unknown Case field"
    if key == "case_lengths":
        if any(k not in FIELDS_BY_NAME or not isinstance(v, int) or
               isinstance(v, bool) or v < 1 for k, v in value.items()):
            return "fault 'case_lengths' maps Case fields to lengths"
    if key == "case_validation":
        if not isinstance(value.get("message"), str) or \
                not all(isinstance(x, str) for x in value.get("fields", [])):
            return "fault 'case_validation' needs a message and fields"
        if set(value) - {"message", "fields", "when"}:
            return "fault 'case_validation' has an unknown key"
    return None


class Cases:
    """The Cases created (the owner's lock guards it)."""

    def __init__(self, make_id):
        self.make_id = make_id
        self.reset()

    def reset(self):
        self.rows = {}          # 15-char id -> record
        self.seq = 0
        self.number = FIRST_CASE_NUMBER

    def create(self, body, owner, now):
        self.seq += 1
        rec = {"Id": self.make_id(self.seq),
               "CaseNumber": "%08d" % self.number}
        self.number += 1
        for name, _, _, _, createable, _, _ in CASE_FIELDS:
            if createable:
                rec[name] = body.get(name) or None
        rec["Status"] = rec["Status"] or "New"
        rec["OwnerId"] = rec["OwnerId"] or owner
        rec["CreatedDate"] = now
        self.rows[rec["Id"][:15]] = rec
        return rec

    def remove(self, case_id):
        self.rows.pop(case_id[:15], None)

    def get(self, case_id):
        if not ID_RE.fullmatch(case_id or ""):
            return None
        return self.rows.get(case_id[:15])

    def list(self):
        return [dict(r) for r in self.rows.values()]


def case_record(rec, fields, version):
    out = {"attributes": {
        "type": "Case",
        "url": "/services/data/%s/sobjects/Case/%s" % (version, rec["Id"])}}
    for f in fields:
        out[f] = rec.get(f)
    return out


def read_fields(param):
    """The fields of ?fields=A,B (None: all); raises ValueError naming an
    unknown one."""
    if param is None:
        return [f[0] for f in CASE_FIELDS]
    names = [x.strip() for x in param.split(",") if x.strip()]
    out = []
    for n in names:
        f = next((k for k in FIELDS_BY_NAME if k.lower() == n.lower()), None)
        if f is None:
            raise ValueError(n)
        out.append(f)
    return out


def _lookup(value, path):
    """value at path ("id", "records[0].Id"); raises KeyError."""
    for part in path.split("."):
        m = re.fullmatch(r"([A-Za-z0-9_]+)((?:\[\d+\])*)", part)
        if not m:
            raise KeyError(part)
        value = value[m.group(1)]
        for idx in re.findall(r"\[(\d+)\]", m.group(2)):
            value = value[int(idx)]
    return value


def _substitute(obj, results):
    """obj with every @{ref.path} replaced; raises LookupError(ref, path)
    when a reference has no value."""
    if isinstance(obj, str):
        def one(m):
            ref, path = m.group(1), m.group(2)
            r = results.get(ref)
            if r is None or r["httpStatusCode"] >= 400:
                raise LookupError(ref, path)
            try:
                v = _lookup(r["body"], path)
            except (KeyError, IndexError, TypeError):
                raise LookupError(ref, path)
            return str(v)
        return REFERENCE_RE.sub(one, obj)
    if isinstance(obj, dict):
        return {k: _substitute(v, results) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_substitute(v, results) for v in obj]
    return obj


def composite_problem(req, version):
    """The outer 400's body for a malformed composite request, or None."""
    def bad(message, code="INVALID_INPUT"):
        return [{"message": message, "errorCode": code}]
    if not isinstance(req, dict):
        return bad("Unexpected request body: the composite request must be "
                   "a JSON object", "JSON_PARSER_ERROR")
    subs = req.get("compositeRequest")
    if not isinstance(subs, list) or not subs:
        return bad("compositeRequest: the list of subrequests is missing "
                   "or empty")
    if not isinstance(req.get("allOrNone", False), bool) or \
            not isinstance(req.get("collateSubrequests", False), bool):
        return bad("allOrNone and collateSubrequests must be booleans",
                   "JSON_PARSER_ERROR")
    if len(subs) > COMPOSITE_MAX:
        return bad("The composite request can have at most %d subrequests"
                   % COMPOSITE_MAX, "LIMIT_EXCEEDED")
    seen, queries = set(), 0
    for s in subs:
        if not isinstance(s, dict) or not isinstance(s.get("method"), str) \
                or not isinstance(s.get("url"), str) or \
                not isinstance(s.get("referenceId"), str):
            return bad("Each subrequest needs method, url and referenceId")
        if not REF_ID_RE.fullmatch(s["referenceId"]):
            return bad("Invalid referenceId: %s. A referenceId may hold "
                       "only letters, numbers and underscores" %
                       s["referenceId"])
        if s["referenceId"] in seen:
            return bad("Duplicate referenceId: %s" % s["referenceId"])
        seen.add(s["referenceId"])
        if not s["url"].startswith("/services/data/%s/" % version):
            return bad("The url of subrequest %s must start with "
                       "/services/data/%s/" % (s["referenceId"], version))
        hdrs = s.get("httpHeaders") or {}
        if not isinstance(hdrs, dict) or {h.lower() for h in hdrs} & {
                "authorization", "content-type", "accept"}:
            return bad("Subrequest %s may not set Accept, Authorization or "
                       "Content-Type" % s["referenceId"])
        if "/query" in s["url"]:
            queries += 1
    if queries > COMPOSITE_QUERIES_MAX:
        return bad("The composite request can have at most %d query "
                   "subrequests" % COMPOSITE_QUERIES_MAX, "LIMIT_EXCEEDED")
    return None


def run_composite(req, run_sub, rollback):
    """Runs a checked composite request.  run_sub(method, url, body) ->
    (status, body, headers) runs one subrequest and notes what it
    created; rollback() undoes what run_sub created in this run.  Returns
    the compositeResponse list."""
    all_or_none = req.get("allOrNone", False)
    results, out, failed = {}, [], False
    for s in req["compositeRequest"]:
        ref = s["referenceId"]
        if failed and all_or_none:
            entry = {"body": HALTED, "httpHeaders": {},
                     "httpStatusCode": 400, "referenceId": ref}
        else:
            try:
                url = _substitute(s["url"], results)
                body = _substitute(s.get("body"), results)
                status, rbody, hdrs = run_sub(s["method"].upper(), url, body)
            except LookupError as e:
                r, path = e.args
                status, rbody, hdrs = 400, [{
                    "errorCode": "PROCESSING_HALTED",
                    "message": "Invalid reference specified. No value for "
                    "%s.%s found in %s." % (r, path, r)}], {}
            entry = {"body": rbody, "httpHeaders": hdrs,
                     "httpStatusCode": status, "referenceId": ref}
            if status >= 400:
                failed = True
        results[ref] = entry
        out.append(entry)
    if failed and all_or_none:
        rollback()
        for entry in out:
            if entry["httpStatusCode"] < 400:
                entry.update({"body": HALTED, "httpHeaders": {},
                              "httpStatusCode": 400})
    return out
