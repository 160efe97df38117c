"""Segments: every operator against a known contact set on a fixed day; errors with file and line."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from helpers import CONTACT_HEADER, CONTACT_ROWS, invoke, write, write_csv
from sqlalchemy import Engine, event

from outreach.audience.contacts import iter_contacts
from outreach.audience.importer import import_contacts
from outreach.audience.segments import (
    contacts_query,
    count_segment,
    list_segments,
    load_segment,
    segment_query,
)
from outreach.errors import ConfigError, NotFoundError
from outreach.settings.workspace import WorkspaceConfig, load_workspace
from outreach.storage import open_engine

TODAY = date(2026, 6, 30)  # 90 days before is 2026-04-01; 30 days before is 2026-05-31


@pytest.fixture
def seg_ws(tmp_path: Path, example_ws: Path) -> tuple[WorkspaceConfig, Engine]:
    ws = load_workspace(example_ws)
    engine = open_engine(ws.database_url)
    import_contacts(engine, write_csv(tmp_path / "small.csv", CONTACT_HEADER, CONTACT_ROWS))
    return ws, engine


def members(ws: WorkspaceConfig, engine: Engine, name: str, today: date = TODAY) -> list[str]:
    query = contacts_query(ws, load_segment(ws, name), today)
    return [c.first_name for c in iter_contacts(engine, query)]


def segment(ws: WorkspaceConfig, name: str, text: str) -> Path:
    return write(ws.segments_dir / f"{name}.yaml", text)


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        # text: equals (case-insensitive), in, not_in, ne, contains, empty
        ("status: prospect", ["Ani", "Budi", "Citra", "Fajar"]),
        ("city: jakarta", ["Ani", "Dedi", "Fajar"]),
        ("city: {eq: Jakarta}", ["Ani", "Dedi", "Fajar"]),
        ("city: [Jakarta, Tangerang]", ["Ani", "Budi", "Dedi", "Fajar"]),
        ("city: {in: [bandung]}", ["Citra"]),
        ("industry: {not_in: [Government, Retail]}", ["Ani", "Dedi", "Eka", "Fajar"]),
        ("city: {ne: Jakarta}", ["Budi", "Citra", "Eka"]),
        ("company: {contains: delta}", ["Dedi"]),
        ("company: {contains: '%'}", []),
        ("owner: {empty: true}", ["Citra", "Fajar"]),
        ("owner: {empty: false}", ["Ani", "Budi", "Dedi", "Eka"]),
        ("company: PT Alpha Teknik", ["Ani"]),
        ("custom.region: east", ["Eka"]),
        ("custom.region: {not_in: [east]}", ["Ani", "Budi", "Citra", "Dedi", "Fajar"]),
        # numbers
        ("transactions: 0", ["Ani", "Fajar"]),
        ("transactions: {eq: 0}", ["Ani", "Fajar"]),
        ("transactions: {ne: 0}", ["Budi", "Citra", "Dedi", "Eka"]),
        ("transactions: {lt: 2}", ["Ani", "Budi", "Fajar"]),
        ("transactions: {lte: 2}", ["Ani", "Budi", "Citra", "Fajar"]),
        ("transactions: {gt: 3}", ["Dedi"]),
        ("transactions: {gte: 3}", ["Dedi", "Eka"]),
        ("transactions: {gte: 1, lte: 3}", ["Budi", "Citra", "Eka"]),
        ("transactions: {in: [1, 5]}", ["Budi", "Dedi"]),
        ("transactions: {not_in: [0]}", ["Budi", "Citra", "Dedi", "Eka"]),
        # dates, against TODAY
        ("last_contacted_at: {older_than: 90d}", ["Ani", "Eka", "Fajar"]),
        ("last_contacted_at: {older_than: 3m}", ["Ani", "Eka", "Fajar"]),
        ("last_contacted_at: {older_than: 1y}", []),
        ("last_contacted_at: {older_than: 25w}", ["Ani", "Eka"]),
        ("last_contacted_at: {older_than: 26w}", []),
        ("last_contacted_at: {newer_than: 30d}", ["Budi", "Dedi"]),
        ("last_contacted_at: {never: true}", ["Citra"]),
        ("last_contacted_at: {never: false}", ["Ani", "Budi", "Dedi", "Eka", "Fajar"]),
        ("last_contacted_at: {gte: 2026-06-01}", ["Budi", "Dedi"]),
        ("last_contacted_at: {lt: 2026-01-01}", ["Eka"]),
        ("last_contacted_at: 2026-03-31", ["Fajar"]),
        # tags
        ("tags: {any: [security, cloud]}", ["Ani", "Budi", "Dedi", "Eka"]),
        ("tags: {all: [network, security]}", ["Ani"]),
        ("tags: {none: [network]}", ["Budi", "Citra", "Eka"]),
        ("tags: [cloud]", ["Dedi", "Eka"]),
        ("tags: NETWORK", ["Ani", "Dedi", "Fajar"]),
        # several conditions are all required
        ("status: prospect\n  city: Jakarta\n  transactions: {lte: 0}", ["Ani", "Fajar"]),
    ],
)
def test_operator(seg_ws: tuple[WorkspaceConfig, Engine], where: str, expected: list[str]) -> None:
    ws, engine = seg_ws
    segment(ws, "t", f"where:\n  {where}\n")
    assert members(ws, engine, "t") == expected


def test_age_moves_with_today(seg_ws: tuple[WorkspaceConfig, Engine]) -> None:
    ws, engine = seg_ws
    segment(ws, "t", "where:\n  last_contacted_at: {older_than: 90d}\n")
    assert members(ws, engine, "t", date(2026, 6, 29)) == ["Ani", "Eka"]  # cutoff 2026-03-31
    assert members(ws, engine, "t", date(2026, 9, 30)) == ["Ani", "Budi", "Dedi", "Eka", "Fajar"]


def test_exclude(seg_ws: tuple[WorkspaceConfig, Engine]) -> None:
    ws, engine = seg_ws
    segment(ws, "jakarta", "where:\n  city: Jakarta\nexclude: [existing-customers]\n")
    assert members(ws, engine, "jakarta") == ["Ani", "Fajar"]
    # exclusion chains: everyone, minus (Jakarta minus existing)
    segment(ws, "rest", "exclude: jakarta\n")
    assert members(ws, engine, "rest") == ["Budi", "Citra", "Dedi", "Eka"]


def test_limit_takes_never_contacted_then_oldest(seg_ws: tuple[WorkspaceConfig, Engine]) -> None:
    ws, engine = seg_ws
    segment(ws, "two", "where:\n  status: prospect\nlimit: 2\n")
    assert members(ws, engine, "two") == ["Ani", "Citra"]  # Citra never, Ani oldest; id order
    segment(ws, "three", "where:\n  status: prospect\nlimit: 3\n")
    assert members(ws, engine, "three") == ["Ani", "Citra", "Fajar"]


def test_limit_applies_before_an_outer_exclude(seg_ws: tuple[WorkspaceConfig, Engine]) -> None:
    ws, engine = seg_ws
    segment(ws, "oldest", "limit: 1\n")  # Citra: never contacted
    segment(ws, "others", "where:\n  status: prospect\nexclude: [oldest]\n")
    assert members(ws, engine, "others") == ["Ani", "Budi", "Fajar"]


def count_statements(engine: Engine) -> list[str]:
    statements: list[str] = []

    def before(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    return statements


def test_a_segment_is_one_sql_statement(seg_ws: tuple[WorkspaceConfig, Engine]) -> None:
    ws, engine = seg_ws
    segment(ws, "others", "where:\n  status: prospect\nexclude: [existing-customers]\nlimit: 1\n")
    segment(ws, "big", (
        "description: many conditions\nwhere:\n  status: prospect\n  city: [Jakarta, Tangerang]\n"
        "  industry: {not_in: [Government]}\n  transactions: {lte: 2}\n"
        "  last_contacted_at: {older_than: 90d}\n  tags: {any: [security, network]}\n"
        "  custom.region: west\nexclude: [existing-customers, others]\nlimit: 50\n"
    ))  # fmt: skip
    seg = load_segment(ws, "big")
    statements = count_statements(engine)
    assert count_segment(engine, ws, seg) == 2
    assert len(statements) == 1, statements
    statements.clear()
    found = [c.first_name for c in iter_contacts(engine, contacts_query(ws, seg, TODAY))]
    assert found == ["Ani", "Fajar"]
    assert len(statements) == 1, statements
    assert "NOT IN" in statements[0] and "LIMIT" in statements[0]


def test_segment_query_compiles_without_database(seg_ws: tuple[WorkspaceConfig, Engine]) -> None:
    ws, _ = seg_ws
    sql = str(segment_query(ws, load_segment(ws, "jakarta-prospects"), TODAY))
    assert sql.count("SELECT") == 2  # the segment and its exclude, nested in it


def error(ws: WorkspaceConfig, name: str) -> str:
    with pytest.raises(ConfigError) as exc:
        segment_query(ws, load_segment(ws, name), TODAY)
    return str(exc.value)


def test_unknown_field_names_file_and_line(seg_ws: tuple[WorkspaceConfig, Engine]) -> None:
    ws, _ = seg_ws
    path = segment(ws, "bad", "description: x\nwhere:\n  status: prospect\n  colour: red\n")
    assert error(ws, "bad").startswith(f"{path}, line 4: unknown field 'colour' (fields: email, ")
    result = invoke("segments", "show", "bad", ws=ws.root)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith(f"Error: {path}, line 4: unknown field 'colour'")


def test_unknown_operator_names_file_and_line(seg_ws: tuple[WorkspaceConfig, Engine]) -> None:
    ws, _ = seg_ws
    path = segment(ws, "bad", "where:\n  status: prospect\n  transactions:\n    between: [1, 2]\n")
    assert error(ws, "bad") == (
        f"{path}, line 4: unknown operator 'between' for transactions (operators: eq, ne, lt, lte, gt, gte, in, not_in)"
    )
    path = segment(ws, "bad2", "where:\n  tags: {contains: x}\n")
    assert error(ws, "bad2").startswith(f"{path}, line 2: unknown operator 'contains' for tags")


def test_yaml_syntax_error_names_file_and_line(seg_ws: tuple[WorkspaceConfig, Engine]) -> None:
    ws, _ = seg_ws
    path = segment(ws, "bad", "where:\n  status: prospect\n  city: [Jakarta, Bekasi\n")
    assert error(ws, "bad").startswith(f"{path}, line 3: YAML syntax error")  # where the [ opens
    result = invoke("segments", "list", ws=ws.root)
    assert result.exit_code == 1
    assert "bad\t-\terror: segments/bad.yaml, line 3: YAML syntax error" in result.stdout
    assert result.stderr == ("Error: 1 segment file(s) could not be used: segments/bad.yaml (the error is on its "
                             "line above)\n")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("wher:\n  status: x\n", "line 1: unknown key 'wher'"),
        ("where: [status]\n", "line 1: 'where' must be a mapping of field: condition"),
        ("where:\n  last_contacted_at: {older_than: soon}\n",
         "line 2: older_than needs an age like 90d, 6w, 3m or 1y, not 'soon'"),
        ("where:\n  transactions: {lte: two}\n", "line 2: expected a number, not 'two'"),
        ("where:\n  last_contacted_at: {gte: 31/12/2026}\n",
         "line 2: expected an ISO date (YYYY-MM-DD), not '31/12/2026'"),
        ("where:\n  last_contacted_at: {never: yes please}\n", "line 2: never takes true or false"),
        ("limit: 0\n", "line 1: 'limit' must be a positive whole number"),
        ("exclude: {a: b}\n", "line 1: 'exclude' must be a list of segment names"),
        ("- status\n", "line 1: a segment is a mapping"),
    ],
)  # fmt: skip
def test_bad_segment_files(seg_ws: tuple[WorkspaceConfig, Engine], text: str, message: str) -> None:
    ws, _ = seg_ws
    path = segment(ws, "bad", text)
    assert error(ws, "bad").startswith(f"{path}, {message}")


def test_exclude_cycle_is_an_error(seg_ws: tuple[WorkspaceConfig, Engine]) -> None:
    ws, _ = seg_ws
    segment(ws, "a", "exclude: [b]\n")
    segment(ws, "b", "where:\n  status: prospect\nexclude: [a]\n")
    assert error(ws, "a") == f"{ws.segments_dir / 'a.yaml'}: segments exclude each other in a cycle: a -> b -> a"
    segment(ws, "self", "exclude: [self]\n")
    assert error(ws, "self").endswith("in a cycle: self -> self")


def test_unknown_segment(seg_ws: tuple[WorkspaceConfig, Engine]) -> None:
    ws, _ = seg_ws
    with pytest.raises(NotFoundError, match=r"segment 'nope' not found: no .*nope.yaml \(segments: "):
        load_segment(ws, "nope")
    segment(ws, "x", "exclude: [nope]\n")
    with pytest.raises(NotFoundError, match="segment 'nope' not found"):
        segment_query(ws, load_segment(ws, "x"), TODAY)


def test_one_broken_segment_does_not_hide_the_others(seg_ws: tuple[WorkspaceConfig, Engine]) -> None:
    """Decided: every other segment is listed with its count, the broken one with its error (its file
    named from the workspace), and the command exits 1, as every command does on a broken file, so a
    script notices; the Error line names the file."""
    ws, _ = seg_ws
    segment(ws, "broken", "description: typo\nwher:\n  status: prospect\n")
    segment(ws, "uses-broken", "where:\n  status: prospect\nexclude: [broken]\n")
    result = invoke("segments", "list", ws=ws.root)
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "broken\t-\terror: segments/broken.yaml, line 2: unknown key 'wher' (expected description, where, exclude, "
        "limit)",
        "existing-customers\t2\tExisting customers (at least one purchase), for renewals and loyalty offers",
        "jakarta-prospects\t2\tProspects in Greater Jakarta (the contact policy keeps out anyone mailed lately)",
        "security-interest\t4\tAnyone interested in security or network products",
        "uses-broken\t-\terror: segments/broken.yaml, line 2: unknown key 'wher' (expected description, where, "
        "exclude, limit)",
    ]
    assert result.stderr == ("Error: 2 segment file(s) could not be used: segments/broken.yaml, "
                             "segments/uses-broken.yaml (the error is on its line above)\n")


def test_segments_list(seg_ws: tuple[WorkspaceConfig, Engine]) -> None:
    ws, _ = seg_ws
    segment(ws, "prospects", "description: All prospects\nwhere:\n  status: prospect\n")
    assert list_segments(ws) == [
        "existing-customers",
        "jakarta-prospects",
        "prospects",
        "security-interest",
    ]
    result = invoke("segments", "list", ws=ws.root)
    assert result.exit_code == 0, result.output
    out = result.stdout.splitlines()
    assert (
        out[0] == "existing-customers\t2\tExisting customers (at least one purchase), for renewals and loyalty offers"
    )
    assert out[2] == "prospects\t4\tAll prospects"
    assert out[3] == "security-interest\t4\tAnyone interested in security or network products"


def test_segments_show_prints_count_and_sample(seg_ws: tuple[WorkspaceConfig, Engine]) -> None:
    ws, _ = seg_ws
    segment(ws, "prospects", "description: All prospects\nwhere:\n  status: prospect\n")
    result = invoke("segments", "show", "prospects", "--sample", "2", ws=ws.root)
    assert result.exit_code == 0, result.output
    out = result.stdout.splitlines()
    assert out[0] == "Segment prospects: 4 contact(s) — All prospects"
    assert out[1].split() == [
        "email",
        "name",
        "company",
        "city",
        "status",
        "owner",
        "last",
        "contacted",
    ]
    assert out[2].split()[:3] == ["ani@alpha.example.com", "Ani", "Lestari"]
    assert out[3].split()[:3] == ["budi@beta.example.com", "Budi", "Santoso"]
    assert out[4] == "a sample: the first 2 of 4 (--sample N shows more)"  # not a second, different count
    assert len(out) == 5
    result = invoke("segments", "show", "prospects", ws=ws.root)
    assert result.stdout.splitlines()[-1] == "all 4 shown"


def test_segments_show_empty_and_unknown(seg_ws: tuple[WorkspaceConfig, Engine]) -> None:
    ws, _ = seg_ws
    segment(ws, "nobody", "where:\n  city: Atlantis\n")
    result = invoke("segments", "show", "nobody", ws=ws.root)
    assert result.exit_code == 0
    assert result.stdout == "Segment nobody: 0 contact(s)\n"
    result = invoke("segments", "show", "nope", ws=ws.root)
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: segment 'nope' not found: no ")
