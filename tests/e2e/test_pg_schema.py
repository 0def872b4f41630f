"""sql/postgresql/ is the same schema as sql/ (issue 14).

The SQLite migrations (sql/NNN_*.sql) go into a fresh SQLite file the way
common/store.c applies them (one BEGIN IMMEDIATE transaction each, setting
PRAGMA user_version), their PostgreSQL twins (sql/postgresql/NNN_*.sql)
into a fresh database of the throwaway server the way the engine will (one
transaction each under an advisory lock, setting forcelink_schema's
version).  Then both must have the same tables and views, each with the
same column names in the same order and the same NOT NULL columns, the same
primary keys, unique keys and indexes, and the same version; the same rows
inserted with plain SQL into both must read back the same from every table
and view (the views in another session TimeZone on PostgreSQL, which must
not matter), with the defaults filled in alike; and the same wrong rows
must be refused by both.

The only differences allowed are the ones sql/postgresql/001_init.sql
lists: an identity column named rowid, with its unique index, first in
each table SQLite gives a rowid (key rotation pages those by it), and the
forcelink_schema table that holds what PRAGMA user_version holds.
"""

import re
import sqlite3

import pytest

from harness import ROOT

SQL = ROOT / "sql"
PG_SQL = SQL / "postgresql"
# The advisory lock key the tests migrate under (the engine picks its own).
MIGRATE_LOCK = 0x666c736368656d61
DB = "schema_twin"


def migrations(d):
    """[(version, path)] of directory d, in order."""
    out = []
    for p in sorted(d.glob("*.sql")):
        m = re.match(r"^(\d+)_[a-z0-9_]+\.sql$", p.name)
        assert m, p
        out.append((int(m.group(1)), p))
    return out


def sqlite_migrate(db, upto):
    for version, f in migrations(SQL):
        (v,) = db.execute("PRAGMA user_version").fetchone()
        if v >= version or version > upto:
            continue
        db.executescript("BEGIN IMMEDIATE;\n%s\nPRAGMA user_version = %d;\n"
                         "COMMIT;" % (f.read_text(), version))


def pg_migrate_script(upto):
    """psql commands applying the migrations up to version upto as the
    engine will: each in one transaction that takes the advisory lock,
    reads the version (0 while forcelink_schema does not exist), and
    applies the file and sets the version only when it is older."""
    script = []
    for version, f in migrations(PG_SQL):
        if version > upto:
            break
        script.append(
            "BEGIN;\n"
            "SELECT pg_advisory_xact_lock(%d) \\g /dev/null\n"
            "SELECT to_regclass('forcelink_schema') IS NOT NULL AS has "
            "\\gset\n"
            "\\if :has\nSELECT version AS v FROM forcelink_schema \\gset\n"
            "\\else\n\\set v 0\n\\endif\n"
            "SELECT :v < %d AS todo \\gset\n"
            "\\if :todo\n%s\nUPDATE forcelink_schema SET version = %d;\n"
            "\\endif\nCOMMIT;" % (MIGRATE_LOCK, version, f.read_text(),
                                   version))
    return "\n".join(script)


VERSIONS = [v for v, _ in migrations(SQL)]


@pytest.fixture(scope="module")
def twins(pg, tmp_path_factory):
    """Both databases migrated one version at a time: the SQLite one
    (open) and each version's schema on both."""
    pg.createdb(DB)
    lite = sqlite3.connect(str(tmp_path_factory.mktemp("schema") /
                               "twin.db"), isolation_level=None)
    schemas = {}
    for v in VERSIONS:
        sqlite_migrate(lite, v)
        schemas[v] = (sqlite_schema(lite),
                      pg_schema(pg, setup=pg_migrate_script(v)))
    return lite, schemas


# --- What each engine says its schema is ---------------------------------

def sqlite_schema(db):
    """{name: (kind, [(column, notnull)], pk columns, rowid table)}, the
    set of indexes (table, columns, kind, name, predicate) and PRAGMA
    user_version."""
    objs, idx = {}, set()
    for name, kind, sql in db.execute(
            "SELECT name, type, sql FROM sqlite_master WHERE type IN "
            "('table', 'view') AND name NOT LIKE 'sqlite_%'"):
        info = db.execute("PRAGMA table_info(%s)" % name).fetchall()
        cols = [(r[1], bool(r[3])) for r in info]
        pk = tuple(r[1] for r in sorted(info, key=lambda r: r[5]) if r[5])
        rowid = kind == "table" and "WITHOUT ROWID" not in sql.upper()
        objs[name] = (kind, cols, pk, rowid)
        if kind != "table":
            continue
        for _, iname, unique, origin, partial in db.execute(
                "PRAGMA index_list(%s)" % name):
            icols = tuple(r[2] for r in db.execute(
                "PRAGMA index_info(%s)" % iname))
            pred = ""
            if partial:
                (isql,) = db.execute("SELECT sql FROM sqlite_master WHERE "
                                     "name = ?", (iname,)).fetchone()
                pred = norm(isql.split(" WHERE ", 1)[1])
            kind_ = {"pk": "primary", "u": "unique"}.get(
                origin, "unique index" if unique else "index")
            idx.add((name, icols, kind_,
                     iname if origin == "c" else "", pred))
    (version,) = db.execute("PRAGMA user_version").fetchone()
    return objs, idx, version


def pg_schema(pg, setup=""):
    """{name: (kind, [(column, notnull, identity)])}, the set of indexes
    as sqlite_schema() gives them, {name: relpersistence}, and the
    version in forcelink_schema: one psql for all."""
    objs = {}
    (got,) = pg.query(
        "SELECT (SELECT coalesce(json_agg(r), '[]') FROM ("
        "SELECT c.relname AS name, c.relkind AS kind, "
        "c.relpersistence AS persistence FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v')) r) "
        "AS rels, (SELECT coalesce(json_agg(r), '[]') FROM ("
        "SELECT table_name AS t, column_name AS c, "
        "is_nullable = 'NO' AS notnull, is_identity = 'YES' AS ident "
        "FROM information_schema.columns WHERE table_schema = 'public' "
        "ORDER BY table_name, ordinal_position) r) AS cols, "
        "(SELECT coalesce(json_agg(r), '[]') FROM ("
        "SELECT t.relname AS t, i.relname AS i, x.indisunique AS uniq, "
        "x.indisprimary AS pk, "
        "EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = "
        "x.indexrelid AND k.contype = 'u') AS ucons, "
        "pg_get_expr(x.indpred, x.indrelid) AS pred, "
        "(SELECT array_agg(a.attname ORDER BY k.n) FROM "
        "unnest(x.indkey) WITH ORDINALITY k(attnum, n) JOIN pg_attribute a "
        "ON a.attrelid = t.oid AND a.attnum = k.attnum) AS cols "
        "FROM pg_index x JOIN pg_class t ON t.oid = x.indrelid "
        "JOIN pg_class i ON i.oid = x.indexrelid "
        "JOIN pg_namespace n ON n.oid = t.relnamespace "
        "WHERE n.nspname = 'public') r) AS idx, "
        "(SELECT version FROM forcelink_schema) AS version", DB,
        setup=setup)
    rels, cols, idx_rows = got["rels"], got["cols"], got["idx"]
    persistence = {}
    for r in rels:
        c = [(x["c"], x["notnull"], x["ident"]) for x in cols
             if x["t"] == r["name"]]
        objs[r["name"]] = ({"r": "table", "v": "view"}[r["kind"]], c)
        persistence[r["name"]] = r["persistence"]
    idx = set()
    for r in idx_rows:
        kind = "primary" if r["pk"] else "unique" if r["ucons"] else \
            "unique index" if r["uniq"] else "index"
        idx.add((r["t"], tuple(r["cols"]), kind,
                 r["i"] if kind.endswith("index") else "",
                 norm(r["pred"] or "")))
    return objs, idx, persistence, got["version"]


def norm(pred):
    """A partial index's predicate, as both engines print it."""
    return re.sub(r"[()\s]", "", pred).lower()


def test_every_migration_has_its_twin():
    lite, pg = migrations(SQL), migrations(PG_SQL)
    assert [p.name for _, p in pg] == [p.name for _, p in lite]
    assert [v for v, _ in lite] == list(range(1, len(lite) + 1))
    for _, p in pg:
        head = p.read_text().split("\n\n", 1)[0]
        assert "mirrors sql/%s" % p.name in " ".join(head.split()), p
    # Shipped in the release tarball (make distcheck).
    am = (ROOT / "Makefile.am").read_text()
    m = re.search(r"^PG_SQL_FILES = ((?:.*\\\n)*.*)$", am, re.M)
    assert m and m.group(1).replace("\\\n", " ").split() == [
        "sql/postgresql/" + p.name for _, p in pg]


@pytest.mark.parametrize("version", VERSIONS)
def test_same_tables_views_columns_and_keys(twins, version):
    """At every version, not only the last: a view a later migration
    replaces, or a column it adds, counts while the older version is
    there."""
    (lite, lite_idx, lite_v), (pgs, pg_idx, persistence, pg_v) = \
        twins[1][version]
    # forcelink_schema holds PRAGMA user_version: the same version.
    assert pgs.pop("forcelink_schema")[0] == "table"
    assert pg_v == lite_v == version
    assert sorted((n, o[0]) for n, o in pgs.items()) == \
        sorted((n, o[0]) for n, o in lite.items())
    for name, (kind, cols, pk, rowid) in lite.items():
        got = pgs[name][1]
        if rowid:
            # The rowid stand-in: first, an identity, never NULL.
            assert got[0] == ("rowid", True, True), name
            got = got[1:]
        assert not [c for c in got if c[0] == "rowid" or c[2]], name
        want = [(c, notnull or c in pk) for c, notnull in cols]
        if kind == "view":
            # A view's columns are never NOT NULL in PostgreSQL.
            want = [(c, False) for c, _ in want]
        # A primary key column is NOT NULL in PostgreSQL; SQLite allows
        # NULL in one of a rowid table, but forcelink never writes one.
        assert [(c, n) for c, n, _ in got] == want, name
    # The indexes: SQLite's, and the rowid stand-ins' unique ones.
    rowid_idx = {i for i in pg_idx if i[1] == ("rowid",)}
    assert sorted(i[0] for i in rowid_idx) == sorted(
        n for n, o in lite.items() if o[3])
    assert all(i[2] == "unique" for i in rowid_idx)
    assert sorted(i for i in pg_idx - rowid_idx
                  if i[0] != "forcelink_schema") == sorted(lite_idx)
    assert {n: p for n, p in persistence.items() if p != "p"} == \
        {"slack_replay": "u"}


def test_applied_once(pg, twins):
    """Applying every migration again changes nothing (each would fail:
    CREATE TABLE of a table there): the version says they are applied."""
    (got,) = pg.query("SELECT version FROM forcelink_schema", DB,
                      setup=pg_migrate_script(VERSIONS[-1]))
    assert got == {"version": VERSIONS[-1]} and twins[0].execute(
        "PRAGMA user_version").fetchone()[0] == VERSIONS[-1]


# --- The same rows, the same answers ----------------------------------------

def h(n, tag):
    """A 32-byte hash-like value (every byte value appears somewhere)."""
    return bytes((tag * 37 + i * 11 + n) % 256 for i in range(32))


CT = bytes(range(256)) + b"\x00sealed\xff"
# (table, {column: value}); omitted columns take their defaults.
ROWS = [
    ("sf_link", dict(
        enterprise_id="E01", team_id="T01", user_id="U01", org="acme",
        sf_user_id="005000000000001AAA", sf_org_id="00D000000000001EAA",
        sf_username="ann@example.com",
        instance_url="https://acme.my.salesforce.com",
        key_id="0123456789abcdef", access_token_ct=CT,
        refresh_token_ct=CT[::-1], version=3, created_at=951782400,
        updated_at=1700000000, last_used_at=1767225599)),
    ("sf_link", dict(
        team_id="T01", user_id="U02", sf_user_id="005000000000002AAA",
        sf_org_id="00D000000000001EAA", sf_username="bob@example.com",
        instance_url="https://acme.my.salesforce.com", key_id="fedcba9876543210",
        access_token_ct=b"\x00", refresh_token_ct=b"\xff", version=1,
        created_at=0, updated_at=86399)),
    ("login_state", dict(
        nonce_hash=h(1, 1), team_id="T01", user_id="U01",
        created_at=1700000000, expires_at=1700000600)),
    ("login_state", dict(
        nonce_hash=h(2, 1), enterprise_id="E01", team_id="T01",
        user_id="U02", created_at=1700000001, expires_at=1700000601,
        started_at=1700000002, state_hash=h(2, 2), cookie_hash=h(2, 3),
        verifier_ct=CT[:40], key_id="0123456789abcdef", used_at=1700000003,
        search_ct=CT[:50], search_url_ct=CT[50:90],
        search_key_id="0123456789abcdef", org="acme", team_domain="acme",
        user_name="bob", leg="slack", pend_org="",
        pend_sf_user_id="005000000000002AAA",
        pend_sf_org_id="00D000000000001EAA",
        pend_sf_username="bob@example.com",
        pend_instance_url="https://acme.my.salesforce.com",
        pend_key_id="0123456789abcdef", pend_access_ct=CT[:60],
        pend_refresh_ct=CT[60:120], confirm_hash=h(2, 4), confirm_tries=2)),
    # A second NULL state_hash and confirm_hash: NULLs are never equal.
    ("login_state", dict(
        nonce_hash=h(3, 1), team_id="T02", user_id="U03", leg="salesforce",
        created_at=1700000004, expires_at=1700000604)),
    ("slack_replay", dict(sig_hash=h(4, 1), expires_at=1700000300)),
    ("slack_install", dict(
        enterprise_id="E01", team_id="T01", app_id="A01", team_name="Acme",
        enterprise_name="Acme Grid", bot_user_id="U0BOT", bot_id="B01",
        scopes="commands,chat:write", installer_user_id="U01",
        key_id="0123456789abcdef", bot_token_ct=CT[:80],
        refresh_token_ct=CT[80:160], token_expires_at=1700043200,
        needs_reinstall=1, version=2, created_at=1600000000,
        updated_at=1700000000)),
    # Org-wide, no token rotation, the defaults.
    ("slack_install", dict(
        enterprise_id="E02", app_id="A01", bot_user_id="U0BOT2",
        scopes="commands", key_id="0123456789abcdef", bot_token_ct=CT[:8],
        version=1, created_at=1600000001, updated_at=1600000001)),
    ("slack_install_state", dict(
        state_hash=h(5, 1), cookie_hash=h(5, 2), created_at=1700000000,
        expires_at=1700000600)),
    ("slack_install_state", dict(
        state_hash=h(6, 1), cookie_hash=h(6, 2), created_at=1700000000,
        expires_at=1700000600, used_at=1700000100)),
    ("sf_integration", dict(
        name="acme", login_url="https://acme.my.salesforce.com",
        client_id="3MVG9acme", key_id="0123456789abcdef",
        client_secret_ct=CT[:30], api_version="v62.0",
        created_at=1700000000)),
    ("sf_integration", dict(
        name="a" * 64, login_url="https://test.salesforce.com",
        client_id="3MVG9other", key_id="0123456789abcdef",
        client_secret_ct=CT[30:60], api_version="v61.0",
        integration_user=1, created_at=1700000001)),
    ("workspace_integration", dict(
        kind="team", slack_id="T01", integration="acme",
        updated_at=1700000000)),
    ("workspace_integration", dict(
        kind="enterprise", slack_id="E01", integration="",
        updated_at=1700000001)),
    ("integration_token", dict(
        integration="acme", sf_user_id="005000000000009AAA",
        sf_org_id="00D000000000001EAA", sf_username="run-as@example.com",
        instance_url="https://acme.my.salesforce.com",
        key_id="0123456789abcdef", access_token_ct=CT[:70], version=4,
        fetched_at=1700000000)),
    # Migration 6: action rows, one bound to a view, one not (a second
    # NULL view_id: NULLs are never equal); a search's command.
    ("slack_action", dict(
        key_hash=h(7, 1), kind=3, enterprise_id="E01", team_id="T01",
        user_id="U01", view_id="V0123ABC", state=2,
        key_id="0123456789abcdef", data_ct=CT[:90], created_at=1700000000,
        expires_at=1700086400)),
    ("slack_action", dict(
        key_hash=h(8, 1), kind=1, team_id="T01", user_id="U02",
        key_id="0123456789abcdef", data_ct=CT[90:130],
        created_at=1700000001, expires_at=1700000601)),
    ("slack_action", dict(
        key_hash=h(9, 9), kind=2, team_id="T02", user_id="U03",
        key_id="0123456789abcdef", data_ct=b"\x00" * 40,
        created_at=1700000002, expires_at=1700000602)),
    ("login_state", dict(
        nonce_hash=h(10, 1), team_id="T01", user_id="U04",
        created_at=1700000005, expires_at=1700000605, search_ct=CT[:20],
        search_url_ct=CT[20:40], search_key_id="0123456789abcdef",
        search_command="/account")),
]

# Rows both engines must refuse (after ROWS): a key taken, a check broken,
# a NOT NULL column missing.
REFUSED = [
    ("sf_link", dict(ROWS[0][1], sf_username="dup@example.com")),
    ("sf_link", dict(ROWS[0][1], user_id="U09", version=0)),
    ("sf_link", {k: v for k, v in ROWS[0][1].items()
                 if k not in ("user_id", "sf_user_id")}),
    ("login_state", dict(ROWS[2][1], nonce_hash=b"\x01" * 31)),
    ("login_state", dict(ROWS[2][1], nonce_hash=h(9, 1),
                         state_hash=h(2, 2))),
    ("login_state", dict(ROWS[2][1], nonce_hash=h(9, 2),
                         confirm_hash=h(2, 4))),
    ("login_state", dict(ROWS[2][1], nonce_hash=h(9, 3), leg="browser")),
    ("login_state", dict(ROWS[2][1], nonce_hash=h(9, 4),
                         cookie_hash=b"\x02" * 33)),
    ("slack_replay", dict(ROWS[5][1])),
    ("slack_install", dict(ROWS[7][1], enterprise_id="")),
    ("slack_install", dict(ROWS[6][1], team_id="T09", needs_reinstall=2)),
    ("slack_install", dict(ROWS[6][1])),
    ("slack_install_state", dict(ROWS[8][1], state_hash=h(9, 5),
                                 cookie_hash=None)),
    ("sf_integration", dict(ROWS[10][1], name="")),
    ("sf_integration", dict(ROWS[10][1], name="b" * 65)),
    ("sf_integration", dict(ROWS[10][1], name="acme2",
                            integration_user=3)),
    ("workspace_integration", dict(ROWS[12][1], kind="user")),
    ("workspace_integration", dict(ROWS[12][1], slack_id="")),
    ("workspace_integration", dict(ROWS[12][1])),
    ("integration_token", dict(ROWS[14][1])),
    ("integration_token", dict(ROWS[14][1], integration="b", version=0)),
    # slack_action: a key taken, a view taken, a kind out of range, a
    # short hash, an empty user, a NOT NULL column missing.
    ("slack_action", dict(ROWS[15][1], view_id="V0OTHER")),
    ("slack_action", dict(ROWS[16][1], key_hash=h(11, 1),
                          view_id="V0123ABC")),
    ("slack_action", dict(ROWS[16][1], key_hash=h(11, 2), kind=4)),
    ("slack_action", dict(ROWS[16][1], key_hash=h(11, 3), kind=0)),
    ("slack_action", dict(ROWS[16][1], key_hash=b"\x01" * 31)),
    ("slack_action", dict(ROWS[16][1], key_hash=h(11, 4), user_id="")),
    ("slack_action", dict(ROWS[16][1], key_hash=h(11, 5), view_id="")),
    ("slack_action", {k: v for k, v in ROWS[16][1].items()
                      if k not in ("key_hash", "data_ct")} |
     {"key_hash": h(11, 6)}),
]


def literal(v, engine):
    if v is None:
        return "NULL"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, bytes):
        return ("X'%s'" if engine == "sqlite" else "'\\x%s'::bytea") % \
            v.hex()
    return "'%s'" % v.replace("'", "''")


def insert(table, row, engine):
    return "INSERT INTO %s (%s) VALUES (%s);" % (
        table, ", ".join(row), ", ".join(literal(v, engine)
                                          for v in row.values()))


def as_pg(v):
    """A SQLite value as PostgreSQL's JSON shows it."""
    return "\\x" + v.hex() if isinstance(v, bytes) else v


@pytest.fixture(scope="module")
def filled(pg, twins):
    lite = twins[0]
    lite.executescript("BEGIN;\n%s\nCOMMIT;" % "\n".join(
        insert(t, r, "sqlite") for t, r in ROWS))
    pg.psql("BEGIN;\n%s\nCOMMIT;" % "\n".join(
        insert(t, r, "pg") for t, r in ROWS), DB)
    return lite


def sqlite_rows(db, select):
    """The rows of a SELECT as [(column, type, value)] lists (the type, as
    1 == True in Python: a boolean where SQLite has 0 or 1 differs)."""
    cur = db.execute(select)
    names = [d[0] for d in cur.description]
    return [[(n, type(as_pg(v)), as_pg(v)) for n, v in zip(names, r)]
            for r in cur]


def typed(rows):
    """query() rows as sqlite_rows() gives them."""
    return [[(n, type(v), v) for n, v in r.items()] for r in rows]


def test_tables_read_back_alike(pg, filled):
    lite = sqlite_schema(filled)[0]
    selects = {}
    for table in sorted({t for t, _ in ROWS}):
        _, cols, pk, _ = lite[table]
        selects[table] = "SELECT %s FROM %s ORDER BY %s" % (
            ", ".join(c for c, _ in cols), table, ", ".join(pk))
    got = pg.queries(selects, DB)
    for table, select in selects.items():
        want = sqlite_rows(filled, select)
        assert len(want) == sum(t == table for t, _ in ROWS)
        assert typed(got[table]) == want, table


def test_views_read_alike(pg, filled):
    selects = {"links": "SELECT * FROM links ORDER BY team_id, user_id",
               "installations": "SELECT * FROM installations "
               "ORDER BY enterprise_id, team_id"}
    # The times are UTC whatever the session's time zone (+12:45 here).
    got = pg.queries(selects, DB, setup="SET TimeZone = 'Pacific/Chatham';")
    for view, select in selects.items():
        want = sqlite_rows(filled, select)
        assert len(want) == 2
        assert typed(got[view]) == want, view


def test_same_rows_refused(pg, filled):
    # One psql for all: each INSERT its own transaction, then whether it
    # failed.
    script = []
    for i, (t, r) in enumerate(REFUSED):
        script.append("%s\n\\if :ERROR\n\\echo %d refused\n\\else\n"
                      "\\echo %d accepted\n\\endif" % (
                          insert(t, r, "pg"), i, i))
    out = pg.psql("\\set ON_ERROR_STOP off\n" + "\n".join(script), DB)
    assert out.split() == " ".join(
        "%d refused" % i for i in range(len(REFUSED))).split()
    for t, r in REFUSED:
        with pytest.raises(sqlite3.IntegrityError):
            filled.execute(insert(t, r, "sqlite"))
