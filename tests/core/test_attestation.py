"""in-toto statements: our shape passes in-toto-attestation's own validator."""

from __future__ import annotations

import hashlib

import pytest
from google.protobuf import json_format
from in_toto_attestation.v1 import statement_pb2
from in_toto_attestation.v1.statement import Statement as ItStatement

from raidt.core.attestation import PREDICATE_TYPE, build_statement, parse_statement
from raidt.core.canonical import from_json
from raidt.errors import IntegrityError

SUBJECTS = {
    "run.json": hashlib.sha256(b"a").hexdigest(),
    "events.jsonl": hashlib.sha256(b"b").hexdigest(),
}


def _validate_with_in_toto(payload: bytes) -> None:
    pb = json_format.Parse(payload.decode(), statement_pb2.Statement())  # type: ignore[attr-defined]
    ItStatement.copy_from_pb(pb).validate()


def test_statement_validates_with_in_toto_attestation() -> None:
    st = build_statement(SUBJECTS, {"run": {"id": "r-1"}, "readiness": "managed"})
    _validate_with_in_toto(st.to_bytes())
    data = from_json(st.to_bytes())
    assert data["_type"] == "https://in-toto.io/Statement/v1"
    assert data["predicateType"] == PREDICATE_TYPE
    assert [s["name"] for s in data["subject"]] == ["events.jsonl", "run.json"]


def test_parse_round_trips() -> None:
    st = build_statement(SUBJECTS, {"run": {"id": "r-1"}})
    assert parse_statement(st.to_bytes(), predicate_type=PREDICATE_TYPE) == st


def test_in_toto_rejects_what_we_refuse_to_build() -> None:
    with pytest.raises(ValueError, match="predicate"):
        build_statement(SUBJECTS, {})
    with pytest.raises(ValueError, match="subject"):
        build_statement({}, {"a": 1})
    with pytest.raises(ValueError, match="hex"):
        build_statement({"x": "XYZ"}, {"a": 1})


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(_type="https://in-toto.io/Statement/v0.1"), "_type"),
        (lambda d: d.update(predicateType="https://example.com/other"), "predicateType"),
        (lambda d: d.update(predicate={}), "predicate"),
        (lambda d: d.update(subject=[]), "subjects"),
        (lambda d: d["subject"].append(dict(d["subject"][0])), "twice"),
        (lambda d: d["subject"][0].update(digest={"sha1": "ab"}), "sha256"),
    ],
)
def test_malformed_statements_are_named(mutate: object, message: str) -> None:
    import json

    data = from_json(build_statement(SUBJECTS, {"a": 1}).to_bytes())
    mutate(data)  # type: ignore[operator]
    with pytest.raises(IntegrityError, match=message):
        parse_statement(json.dumps(data).encode(), predicate_type=PREDICATE_TYPE)


def test_not_json_is_named() -> None:
    with pytest.raises(IntegrityError, match="not JSON"):
        parse_statement(b"{nope")
