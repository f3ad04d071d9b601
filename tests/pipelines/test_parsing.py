"""Landed-file validation: every row is loaded, quarantined with a reason, or a duplicate."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from core.contracts import EVENTS, INTERACTIONS
from pipelines.ingest.parsing import read_landed_file, validate

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def _line(iid: str, user: object = 1, event: object = 10, ts: str = "2026-05-01T10:00:00Z") -> str:
    return (
        f'{{"interaction_id": "{iid}", "user_id": {user}, "event_id": {event}, '
        f'"type": "view", "timestamp": "{ts}", "source": "web", "context": {{"page": "home"}}}}'
    )


def test_corrupted_interactions_file_accounts_for_every_line(tmp_path: Path) -> None:
    path = tmp_path / "part-0000.jsonl"
    lines = [
        _line("a"),
        _line("b", ts="2027-01-01T00:00:00Z"),  # future
        _line("c", event=999),  # unknown event
        _line("a"),  # duplicate
        _line("d", user='"zz"'),  # wrong type
        _line("e", ts="yesterday"),  # bad timestamp
        _line("f"),
    ]
    body = "\n".join(lines).encode() + b'\n{"interaction_id": "g", "user_id": \xff\xfe}\n'
    body += b'{"interaction_id": "h", "user_id": 1, "ev'  # truncated last line
    path.write_bytes(body)

    frame, unknown = read_landed_file(path, INTERACTIONS)
    batch = validate(
        frame,
        INTERACTIONS,
        now=NOW,
        known_ids={"event_id": pl.Series([10], dtype=pl.Int64)},
        unknown_columns=unknown,
    )

    assert batch.rows_read == 9
    assert batch.good["interaction_id"].to_list() == ["a", "f"]
    assert batch.duplicates == 1
    reasons = dict(zip(batch.rejected["_line"], batch.rejected["reason"], strict=True))
    assert reasons == {
        2: "timestamp is in the future",
        3: "unknown event_id 999",
        5: "user_id is not an integer: 'zz'",
        6: "timestamp is not an ISO-8601 timestamp with offset: 'yesterday'",
        8: "invalid UTF-8",
        9: "not a valid JSON object (malformed or truncated line)",
    }
    assert batch.good.height + batch.rejected.height + batch.duplicates == batch.rows_read
    assert batch.good["timestamp"].dtype == pl.Datetime("us", "UTC")


def test_events_csv_types_lists_and_reports_unknown_columns(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    header = (
        "event_id,title,description,category,tags,starts_at,ends_at,venue_name,city,lat,lng,"
        "capacity,price,currency,organizer_id,status,created_at,updated_at,promo_code"
    )
    good = (
        '1,PyCon,"A, conference",conference,python|data,2026-07-01T09:00:00+02:00,'
        "2026-07-01T18:00:00+02:00,Hall,Berlin,52.5,13.4,100,0,EUR,,published,"
        "2026-01-01T00:00:00Z,2026-01-02T00:00:00Z,X1"
    )
    bad = (
        "2,Bad,,meetup,,2026-07-01T09:00:00Z,2026-07-01T08:00:00Z,,Paris,48.8,2.3,10,5,EUR,,"
        "published,2026-01-01T00:00:00Z,2026-01-01T00:00:00Z,"
    )
    path.write_text("\n".join([header, good, bad]) + "\n")

    frame, unknown = read_landed_file(path, EVENTS)
    batch = validate(frame, EVENTS, now=NOW, unknown_columns=unknown)

    assert unknown == ("promo_code",)
    assert batch.good.height == 1
    row = batch.good.row(0, named=True)
    assert row["tags"] == ["python", "data"]
    assert row["description"] == "A, conference"
    assert row["starts_at"] == datetime(2026, 7, 1, 7, 0, tzinfo=UTC)
    assert batch.rejected.rows() == [
        (str(path), 3, "ends_at is not after starts_at", batch.rejected["_record"][0])
    ]


def _field(name: str, value: object) -> str:
    return f'"{name}": {value}'


EDGE_LINES = [
    _line("ok"),
    _line("s1", user='"12"'),  # numeric text where an integer is expected
    _line("s2", user="1.0"),
    _line("s3", user="1.5"),
    _line("s4", user="true"),
    _line("s5", user='{"a": 1}'),
    _line("s6", user="123456789012345678901234567890"),
    '{"interaction_id": 5, "user_id": 1, "event_id": 10, "type": "view", '
    '"timestamp": "2026-05-01T10:00:00Z", "source": "web"}',  # a number as the id
    '{"interaction_id": 1.0, "user_id": 1, "event_id": 10, "type": "view", '
    '"timestamp": "2026-05-01T10:00:00Z", "source": "web"}',
    _line("s7", ts="1.0"),
    _line("s8", ts="2026-05-01T10:00:00+02:00"),
    _line("s9").replace('"view"', '"vi\\u0065w"'),  # an escape
    _line("s10").replace('"s10"', '"\\ud800"'),  # a lone surrogate: not valid JSON text
    _line("s11").replace('"s11"', '"\\ud83d\\ude00"'),
    _line("s12").replace('"page": "home"', '"q": "caf\\u00e9", "n": [1, 2.50]'),
    _line("s13").replace("}}", '}, "model_version": null}'),
    _line("s14").replace("}}", '}, "model_version": 2.5}'),
    _line("s15").replace("}}", '}, "campaign": "x"}'),
    "[1, 2]",
    "null",
    "{}",
    '{"a": }',
    "",
    "   ",
    _line("s16") + " x",
    _line("s17") + _line("s18"),
    _line("s19").replace('"web"', '"web\x01"'),  # a raw control character
    "  " + _line("s20") + "  ",
    _line("ok"),  # duplicate
]


def _read_both(path: Path) -> tuple[object, object]:
    """Validate a file through the one-pass reader and through the field-by-field reader."""
    from pipelines.ingest.parsing import extract_json_fields, read_lines, unknown_json_keys

    known = {"event_id": pl.Series([10], dtype=pl.Int64)}
    fast, fast_unknown = read_landed_file(path, INTERACTIONS)
    slow = extract_json_fields(read_lines([path]), INTERACTIONS)
    results = []
    for frame, unknown in ((fast, fast_unknown), (slow, unknown_json_keys(slow, INTERACTIONS))):
        results.append(
            validate(frame, INTERACTIONS, now=NOW, known_ids=known, unknown_columns=unknown)
        )
    return results[0], results[1]


def _same_batches(fast: object, slow: object) -> None:
    import json

    assert fast.rows_read == slow.rows_read
    assert fast.duplicates == slow.duplicates
    assert fast.unknown_columns == slow.unknown_columns
    assert fast.rejected.rows() == slow.rejected.rows()
    # ``context`` is loaded as jsonb: compare it as JSON, not as text layout.
    assert fast.good.drop("context").rows() == slow.good.drop("context").rows()
    contexts = [
        [json.loads(v) if v is not None else None for v in batch.good["context"]]
        for batch in (fast, slow)
    ]
    assert contexts[0] == contexts[1]


def test_one_pass_reading_matches_field_by_field_reading(tmp_path: Path) -> None:
    path = tmp_path / "edge.jsonl"
    body = "\n".join(EDGE_LINES).encode() + b'\n{"interaction_id": "u", "user_id": \xff}\n'
    path.write_bytes(body + b'{"interaction_id": "t", "us')
    fast, slow = _read_both(path)
    _same_batches(fast, slow)
    assert fast.rows_read == len(EDGE_LINES) + 2
    assert fast.unknown_columns == ("campaign",)


def test_bad_lines_in_large_files_cost_only_themselves(tmp_path: Path, monkeypatch) -> None:
    """Small blocks force the halving: clean blocks decode in one pass, bad lines go slowly."""
    import random

    from pipelines.ingest import parsing

    monkeypatch.setattr(parsing, "_BLOCK_BYTES", 1 << 14)
    monkeypatch.setattr(parsing, "_LEAF_BYTES", 1 << 10)
    rng = random.Random(5)
    lines = [_line(f"id{i}", user=1 + i % 3) for i in range(3000)]
    for line in rng.sample(EDGE_LINES + [line for line, _ in REFUSED_LINES], 30):
        lines.insert(rng.randrange(len(lines)), line)
    path = tmp_path / "big.jsonl"
    path.write_bytes("\r\n".join(lines[:1500]).encode() + b"\n" + "\n".join(lines[1500:]).encode())
    calls = []
    original = parsing._field_path_rows
    monkeypatch.setattr(
        parsing,
        "_field_path_rows",
        lambda lines, d: calls.append(lines.height) or original(lines, d),
    )
    fast, slow = _read_both(path)
    monkeypatch.undo()
    _same_batches(fast, slow)
    assert fast.good.height >= 3000
    # The field-by-field reading of the one-pass run saw far fewer lines than the file holds.
    assert 0 < sum(calls) < len(lines) // 4


def test_parquet_rows_follow_the_same_rules(tmp_path: Path) -> None:
    from datetime import timedelta

    frame = pl.DataFrame(
        {
            "interaction_id": ["a", "b", "c", "a", "d"],
            "user_id": [1, 1, 1, 1, -1],
            "event_id": [10, 999, 10, 10, 10],
            "type": ["view", "view", "nope", "view", "view"],
            "timestamp": [NOW - timedelta(days=1)] * 5,
            "source": ["web"] * 5,
            "context": [{"page": "home"}] * 5,
            "promo": ["x"] * 5,
        }
    )
    path = tmp_path / "part-0000.parquet"
    frame.write_parquet(path)

    parsed, unknown = read_landed_file(path, INTERACTIONS)
    batch = validate(
        parsed,
        INTERACTIONS,
        now=NOW,
        known_ids={"event_id": pl.Series([10], dtype=pl.Int64)},
        unknown_columns=unknown,
    )

    assert unknown == ("promo",)
    assert batch.good["interaction_id"].to_list() == ["a"]
    assert batch.good["timestamp"].to_list() == [NOW - timedelta(days=1)]
    assert batch.good["context"].to_list() == ['{"page":"home"}']
    assert batch.duplicates == 1
    reasons = dict(zip(batch.rejected["_line"], batch.rejected["reason"], strict=True))
    assert reasons == {
        2: "unknown event_id 999",
        3: "type is not an accepted interaction type",
        5: "user_id must be positive",
    }
    assert batch.rejected["_record"][0].startswith('{"interaction_id":"b"')


def _interaction(**fields: object) -> str:
    import json

    record: dict[str, object] = {
        "interaction_id": "x",
        "user_id": 1,
        "event_id": 10,
        "type": "view",
        "timestamp": "2026-05-01T10:00:00Z",
        "source": "web",
        "context": {"page": "home"},
    }
    record.update(fields)
    return json.dumps(record)


# Values PostgreSQL would refuse, or that would be coerced silently, each with its reason.
REFUSED_LINES = [
    (_interaction(interaction_id="ok1"), None),
    (
        _interaction(interaction_id="c1", context="not-an-object"),
        "context is not a JSON object: 'not-an-object'",
    ),
    (_interaction(interaction_id="c2", context=["a"]), "context is not a JSON object: '[\"a\"]'"),
    (_interaction(interaction_id="c3", context=5), "context is not a JSON object: '5'"),
    (_interaction(interaction_id="c4", context="{}"), "context is not a JSON object: '{}'"),
    (
        _interaction(interaction_id="c5", context={"q": "a\u0000b"}),
        "context contains a NUL character",
    ),
    (
        _interaction(interaction_id="c6", context={"q": "\ud800"}),
        "not a valid JSON object (malformed or truncated line)",
    ),
    (
        _interaction(interaction_id="c7").replace('"home"', "1e999"),
        "not a valid JSON object (malformed or truncated line)",
    ),
    (
        _interaction(interaction_id="c8").replace('"home"', "NaN"),
        "not a valid JSON object (malformed or truncated line)",
    ),
    (_interaction(interaction_id="n1\u0000"), "interaction_id contains a NUL character"),
    (
        _interaction(interaction_id="n2", model_version="v\u0000"),
        "model_version contains a NUL character",
    ),
    (_interaction(interaction_id="i" * 201), "interaction_id is longer than 200 characters"),
    (_interaction(interaction_id="e1", event_id=12.5), "event_id is not an integer: '12.5'"),
    (_interaction(interaction_id="e2", event_id=12.0), "event_id is not an integer: '12.0'"),
    (_interaction(interaction_id="e3", event_id="12"), "event_id is not an integer: '12'"),
    (_interaction(interaction_id="e4", event_id=True), "event_id is not an integer: 'true'"),
    (_interaction(interaction_id="e5", event_id=[10]), "event_id is not an integer: '[10]'"),
    (_interaction(interaction_id="e6", event_id=2**63), f"event_id is out of range: '{2**63}'"),
    (_interaction(interaction_id={"a": 1}), "interaction_id is not a string: '{\"a\":1}'"),
    (_interaction(interaction_id=12), "interaction_id is not a string: '12'"),
    (_interaction(interaction_id="t1", type=["view"]), "type is not a string: '[\"view\"]'"),
    (
        _interaction(interaction_id="t2", timestamp=1767225600),
        "timestamp is not an ISO-8601 timestamp with offset: '1767225600'",
    ),
    # A raw unit separator cannot be split as a line of its own: read as a replacement character.
    (_interaction(interaction_id="u1").replace('"web"', '"w\x1feb"'), "invalid UTF-8"),
    # Loaded: escapes and control characters inside the context are written out again exactly.
    (
        _interaction(
            interaction_id="ok2", context={"q": 'say "hi" \\ \n\t\u00e9', "n": 12345678901234567890}
        ),
        None,
    ),
    (_interaction(interaction_id="ok3", context=None), None),
]


def test_values_postgresql_would_refuse_are_quarantined_with_reasons(tmp_path: Path) -> None:
    import json

    path = tmp_path / "refused.jsonl"
    path.write_text("\n".join(line for line, _ in REFUSED_LINES) + "\n")
    fast, slow = _read_both(path)
    _same_batches(fast, slow)

    reasons = dict(zip(fast.rejected["_line"], fast.rejected["reason"], strict=True))
    expected = {n: r for n, (_, r) in enumerate(REFUSED_LINES, start=1) if r is not None}
    assert reasons == expected
    assert fast.good["interaction_id"].to_list() == ["ok1", "ok2", "ok3"]
    context = json.loads(fast.good["context"][1])
    assert context == {"q": 'say "hi" \\ \n\t\u00e9', "n": 12345678901234567890}
    assert fast.good.height + fast.rejected.height + fast.duplicates == fast.rows_read == 25


EVENTS_HEADER = (
    "event_id,title,description,category,tags,starts_at,ends_at,venue_name,city,lat,lng,"
    "capacity,price,currency,organizer_id,status,created_at,updated_at"
)


def _event(key: object, **fields: str) -> str:
    values = {
        "event_id": str(key),
        "title": "Meetup",
        "description": "",
        "category": "meetup",
        "tags": "a|b",
        "starts_at": "2026-07-01T09:00:00Z",
        "ends_at": "2026-07-01T10:00:00Z",
        "venue_name": "",
        "city": "Berlin",
        "lat": "52.5",
        "lng": "13.4",
        "capacity": "10",
        "price": "5",
        "currency": "EUR",
        "organizer_id": "",
        "status": "published",
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:00Z",
    }
    values.update(fields)
    return ",".join(values.values())


def test_malformed_csv_records_cost_only_their_line(tmp_path: Path) -> None:
    lines = [
        EVENTS_HEADER,  # line 1
        _event(1),
        _event(2, title='"Unbalanced, quote'),  # an unbalanced quote
        _event(3),
        _event(4, description='"Two\nlines, quoted"'),  # lines 5-6: one record
        _event(5) + ",extra",  # a field too many
        "6,Short",  # too few fields
        _event(7, title='Stray "quote" inside'),
        _event(8, title='"Quoted" then text'),
        _event(9, title="Nul\x00byte"),
        "",  # a blank line is not a record
        _event(10),
    ]
    path = tmp_path / "events.csv"
    body = ("\n".join(lines) + "\n").encode()
    body = body.replace(b"Meetup,,meetup", b"Meetup,\xff\xfe,meetup", 1)  # bad UTF-8 in event 1
    path.write_bytes(b"\xef\xbb\xbf" + body)

    frame, unknown = read_landed_file(path, EVENTS)
    batch = validate(frame, EVENTS, now=NOW, unknown_columns=unknown)

    assert unknown == ()
    reasons = dict(zip(batch.rejected["_line"], batch.rejected["reason"], strict=True))
    assert reasons == {
        2: "invalid UTF-8",
        3: "malformed CSV record (',' expected after '\"')",
        7: "malformed CSV record: 19 fields where the header has 18",
        8: "malformed CSV record: 2 fields where the header has 18",
        10: "malformed CSV record (',' expected after '\"')",
        11: "title contains a NUL character",
    }
    assert batch.good["event_id"].to_list() == [3, 4, 7, 10]
    assert batch.good.filter(pl.col("event_id") == 4)["description"].item() == "Two\nlines, quoted"
    assert batch.good.filter(pl.col("event_id") == 7)["title"].item() == 'Stray "quote" inside'
    assert batch.rejected.filter(pl.col("_line") == 3)["_record"].item().startswith('2,"Unbal')
    assert batch.rows_read == batch.good.height + batch.rejected.height + batch.duplicates == 10


def test_event_values_outside_their_columns_are_quarantined(tmp_path: Path) -> None:
    cases = [
        (_event(1), None),
        (_event(2, capacity="12.5"), "capacity is not an integer: '12.5'"),
        (_event(3, capacity="2147483648"), "capacity is larger than 2147483647"),
        (
            _event(4, event_id="99999999999999999999"),
            "event_id is out of range: '99999999999999999999'",
        ),
        (_event(5, price="100000000"), "price is too large (at most 99999999.99)"),
        (_event(6, price="NaN"), "price is not a finite number"),
        (_event(7, lat="inf"), "lat is not a finite number"),
        (
            _event(8, starts_at="0000-07-01T09:00:00Z"),
            "starts_at is out of range: '0000-07-01T09:00:00Z'",
        ),
        (
            _event(9, ends_at="+10000-07-01T09:00:00Z"),
            "ends_at is out of range: '+10000-07-01T09:00:00Z'",
        ),
        (_event(10, city="c" * 201), "city is longer than 200 characters"),
        (_event(11, organizer_id="1e3"), "organizer_id is not an integer: '1e3'"),
        (_event(12, capacity=" 7 "), None),
    ]
    path = tmp_path / "events.csv"
    path.write_text("\n".join([EVENTS_HEADER, *(line for line, _ in cases)]) + "\n")

    frame, unknown = read_landed_file(path, EVENTS)
    batch = validate(frame, EVENTS, now=NOW, unknown_columns=unknown)

    reasons = dict(zip(batch.rejected["_line"], batch.rejected["reason"], strict=True))
    assert reasons == {n: r for n, (_, r) in enumerate(cases, start=2) if r is not None}
    assert batch.good["capacity"].to_list() == [10, 7]


def test_parquet_columns_of_the_wrong_type_are_quarantined(tmp_path: Path) -> None:
    from datetime import timedelta

    frame = pl.DataFrame(
        {
            "interaction_id": ["a", "b", "c", "d"],
            "user_id": ["1", "1", "1", "1"],
            "event_id": [10, 10, 10, 10],
            "type": ["view"] * 4,
            "timestamp": [NOW - timedelta(days=1)] * 4,
            "source": ["web"] * 4,
            "context": ['{"page": "home"}', "not-an-object", '{"q": "\\u0000"}', None],
        }
    )
    path = tmp_path / "part-0000.parquet"
    frame.write_parquet(path)
    parsed, unknown = read_landed_file(path, INTERACTIONS)
    batch = validate(parsed, INTERACTIONS, now=NOW, unknown_columns=unknown)
    reasons = dict(zip(batch.rejected["_line"], batch.rejected["reason"], strict=True))
    assert reasons == dict.fromkeys([1, 2, 3, 4], "user_id is not an integer: '1'")

    typed = frame.with_columns(pl.col("user_id").cast(pl.Int64))
    typed.write_parquet(path)
    parsed, unknown = read_landed_file(path, INTERACTIONS)
    batch = validate(parsed, INTERACTIONS, now=NOW, unknown_columns=unknown)
    reasons = dict(zip(batch.rejected["_line"], batch.rejected["reason"], strict=True))
    assert reasons == {
        2: "context is not a JSON object: 'not-an-object'",
        3: "context contains a NUL character",
    }
    assert batch.good["interaction_id"].to_list() == ["a", "d"]


def test_simple_csv_files_read_in_one_pass_as_record_by_record() -> None:
    from pipelines.ingest import csv_rows

    columns = csv_rows.CsvColumns(line="_line", text="_record", error="_read_error")
    bodies = [
        "a,b,c\n1,2,3\n4,,6\n",
        'a,b,c\r\n"x, y","say ""hi""",""\r\n7,8,9\r\n\r\n10,11\r\n12,13,14,15\r\n',
        "a,b\n   \n1,\x1f2\n,\n",
        "a,b\n",
        "",
    ]
    for body in bodies:
        fast = csv_rows._frame_of_simple_lines(body, columns)
        slow = csv_rows._frame_of_records(body, columns)
        if body:
            assert fast is not None, body
            assert fast[0] == slow[0]
            assert fast[1].equals(slow[1].select(fast[1].columns)), body
    # Not simple: a quoted field over two lines, a quote inside a plain field, a stray quote.
    for body in ['a,b\n1,"x\ny"\n', 'a,b\n1,A "q" b\n', 'a,b\n1,"x"y\n', "a,a\n1,2\n"]:
        assert csv_rows._frame_of_simple_lines(body, columns) is None, body


def test_event_places_online_urls_and_zones_are_checked(tmp_path: Path) -> None:
    header = "event_id,title,starts_at,ends_at,capacity,currency,status,created_at,updated_at,"
    header += "timezone,attendance_mode,online_url,image_url"
    times = "2026-07-01T09:00:00Z,2026-07-01T10:00:00Z,10,EUR,published,"
    times += "2026-01-01T00:00:00Z,2026-01-01T00:00:00Z"
    cases = [
        ("Europe/Lisbon,hybrid,https://live.example.org/1,https://img.example.org/1.jpg", None),
        (",,,", None),
        ("Mars/Olympus,,,", "timezone is not an IANA time zone of a place"),
        ("Etc/GMT+5,,,", "timezone is not an IANA time zone of a place"),
        ("UTC,somewhere,,", "attendance_mode is not in_person, online or hybrid"),
        ("UTC,online,ftp://files.example.org/x,", "online_url is not an http(s) URL"),
        ("UTC,online,,javascript:alert(1)", "image_url is not an http(s) URL"),
        (
            "UTC,in_person,https://live.example.org/8,",
            "online_url is for online and hybrid events only",
        ),
        ("UTC,online,https://" + "x" * 2000 + ",", "online_url is longer than 2000 characters"),
    ]
    lines = [f"{n},Talk,{times},{extra}" for n, (extra, _) in enumerate(cases, start=1)]
    path = tmp_path / "events.csv"
    path.write_text("\n".join([header, *lines]) + "\n")

    frame, unknown = read_landed_file(path, EVENTS)
    batch = validate(frame, EVENTS, now=NOW, unknown_columns=unknown)

    reasons = dict(zip(batch.rejected["_line"], batch.rejected["reason"], strict=True))
    assert reasons == {n: r for n, (_, r) in enumerate(cases, start=2) if r is not None}
    first = batch.good.filter(pl.col("event_id") == 1).row(0, named=True)
    assert (first["timezone"], first["attendance_mode"]) == ("Europe/Lisbon", "hybrid")
    assert first["image_url"] == "https://img.example.org/1.jpg"
