"""Tests for the policy model, templates, redaction, actors and the sector presets."""

from __future__ import annotations

from datetime import UTC, date, datetime
from importlib import resources
from pathlib import Path

import pytest

from raidt.core.actors import ActorDirectory, ActorsFile
from raidt.core.hashing import sha256_hex
from raidt.core.policy import Policy, PromptTemplate, load_policy, load_template
from raidt.core.redaction import capture_fields, redact
from raidt.core.yamldoc import YamlDocumentError, load_yaml_model
from raidt.errors import ValidationError

PACKAGE = resources.files("raidt") / "policies"
PRESET_IDS = {
    "discharge-summary": "healthcare",
    "policy-briefing": "public-sector",
    "credit-memo": "finance",
    "student-feedback": "education",
    "benefits-letter": "public-services",
    "meeting-notes": "enterprise",
}

MINIMAL = """\
id: demo
version: 1
title: Demo
approved_templates:
  - {id: t, version: "2"}
approved_models:
  - provider: openai
    model: gpt-4o
    parameters:
      temperature: {min: 0, max: 0.5}
      response_format: {allowed: [text, json_object]}
"""


def _presets() -> dict[str, Policy]:
    out = {}
    for f in (PACKAGE / "presets").iterdir():
        if f.name.endswith(".yaml"):
            p = load_policy(f.read_text(encoding="utf-8"), f.name)
            out[p.id] = p
    return out


def _templates() -> dict[tuple[str, str], PromptTemplate]:
    out = {}
    for f in (PACKAGE / "templates").iterdir():
        if f.name.endswith(".yaml"):
            t = load_template(f.read_text(encoding="utf-8"), f.name)
            out[(t.id, t.version)] = t
    return out


def test_integer_version_becomes_text() -> None:
    p = load_policy(MINIMAL, "p.yaml")
    assert p.version == "1"


def test_float_version_is_refused_with_line() -> None:
    with pytest.raises(YamlDocumentError) as info:
        load_policy(MINIMAL.replace("version: 1", "version: 1.10"), "p.yaml")
    assert (info.value.line, info.value.field) == (2, "version")
    assert "quoted" in info.value.diagnostic()


def test_model_bounds() -> None:
    p = load_policy(MINIMAL, "p.yaml")
    assert p.model_approved("openai", "gpt-4o", {"temperature": 0.2})
    assert p.model_approved("openai", "gpt-4o", {"seed": 7})
    assert not p.model_approved("openai", "gpt-4o", {"temperature": 0.9})
    assert not p.model_approved("openai", "gpt-4o", {"response_format": "xml"})
    assert not p.model_approved("openai", "gpt-4", {})
    why = p.model_problem("openai", "gpt-4o", {"temperature": 0.9})
    assert why is not None and "above the policy's maximum 0.5" in why
    why = p.model_problem("anthropic", "claude-sonnet-4", {})
    assert why is not None and "approved: openai/gpt-4o" in why


def test_template_approval_and_hash_pinning() -> None:
    p = load_policy(MINIMAL, "p.yaml")
    assert p.template_approved("t", "2")
    assert not p.template_approved("t", "1")
    problem = p.template_problem("t", "1")
    assert problem is not None and "approved: t@2" in problem
    pinned = p.model_copy(
        update={
            "approved_templates": [p.approved_templates[0].model_copy(update={"sha256": "a" * 64})]
        }
    )
    assert pinned.template_approved("t", "2", "a" * 64)
    assert not pinned.template_approved("t", "2", "b" * 64)
    assert "not the approved one" in (pinned.template_problem("t", "2", "b" * 64) or "")


def test_content_hash_ignores_formatting_but_not_content() -> None:
    a = load_policy(MINIMAL, "a.yaml")
    b = load_policy("# comment\n" + MINIMAL.replace("title: Demo", "title:   'Demo'"), "b.yaml")
    c = load_policy(MINIMAL.replace("max: 0.5", "max: 0.6"), "c.yaml")
    assert a.content_hash == b.content_hash
    assert a.content_hash != c.content_hash


@pytest.mark.parametrize(
    ("insert", "field", "fragment"),
    [
        (
            "roles: {required: [initiator, clinician]}",
            "roles.required[1]",
            "unknown role 'clinician'",
        ),
        (
            "roles: {separation_of_duties: [[reviewer, reviewer]]}",
            "roles.separation_of_duties",
            "with itself",
        ),
        ("escalation: {triggers: [risk:high]}", "escalation.triggers", "unknown escalation"),
        ("signoff: {critical: [approver]}", "signoff.critical", "'low', 'medium' or 'high'"),
        ("signoff: {high: [consultant]}", "signoff.high[0]", "unknown role"),
        ("retention: {min_days: 30}", "retention.min_days", "greater than or equal to 183"),
        ("capture: {mode: redacted}", "capture", "needs at least one"),
        (
            "capture: {mode: full, redact_patterns: ['(']}",
            "capture.redact_patterns",
            "not a valid regular expression",
        ),
        (
            "capture: {mode: full, redact_patterns: ['x*']}",
            "capture.redact_patterns",
            "matches empty",
        ),
        (
            "capture: {mode: full, redact_patterns: ['builtin:nope']}",
            "capture.redact_patterns",
            "unknown builtin",
        ),
        ("review: {checklist: [a, a]}", "review.checklist", "appears twice"),
        ("sla_hours: 0", "sla_hours", "greater than 0"),
        ("surprise: 1", "surprise", "Extra inputs"),
    ],
)
def test_bad_policies_name_line_and_field(insert: str, field: str, fragment: str) -> None:
    text = MINIMAL + insert + "\n"
    with pytest.raises(ValidationError) as info:
        load_policy(text, "bad.yaml")
    err = info.value
    assert isinstance(err, YamlDocumentError)
    assert err.field == field
    assert err.line == 12
    assert fragment in err.diagnostic()
    assert err.diagnostic().startswith(f"bad.yaml:12: field '{field}'")


def test_numeric_looking_hash_must_be_quoted() -> None:
    text = MINIMAL.replace('{id: t, version: "2"}', "{id: t, version: 2, sha256: " + "0" * 64 + "}")
    with pytest.raises(YamlDocumentError, match="put it in quotes") as info:
        load_policy(text, "p.yaml")
    assert info.value.field == "approved_templates[0].sha256"


def test_duplicate_models_refused() -> None:
    text = MINIMAL + "  - {provider: openai, model: gpt-4o}\n"
    with pytest.raises(YamlDocumentError, match="listed twice"):
        load_policy(text, "p.yaml")


def test_digest_only_alias_and_signoff_roles() -> None:
    p = load_policy(MINIMAL + "capture: {mode: digest-only}\nsignoff: {high: [approver]}\n", "p")
    assert p.capture.mode == "digest"
    assert p.signoff_roles("high") == ["approver"]
    assert p.signoff_roles("low") == []
    assert p.signoff_roles(None) == []


def test_effective_from_is_a_date() -> None:
    p = load_policy(MINIMAL + "effective_from: 2026-04-01\n", "p")
    assert p.effective_from == date(2026, 4, 1)


def test_template_variables_and_render() -> None:
    t = PromptTemplate(id="t", version="1", text="Hello {{ name }}, see {{ref}}.")
    assert t.variables == ["name", "ref"]
    assert t.render({"name": "A", "ref": "S1"}) == "Hello A, see S1."
    with pytest.raises(ValueError, match="missing ref"):
        t.render({"name": "A"})
    with pytest.raises(YamlDocumentError, match="not declared in variables: ref"):
        load_template(
            "id: t\nversion: 1\ntext: 'Hi {{ name }} {{ ref }}'\nvariables: [name]\n", "t"
        )


def test_redaction_modes() -> None:
    p = load_policy(
        MINIMAL + "capture:\n  mode: redacted\n  redact_patterns: [builtin:email, 'MRN\\d+']\n", "p"
    )
    text = "Contact jo@example.org about MRN1234567."
    assert redact(text, p) == "Contact [REDACTED:email] about [REDACTED:pattern-2]."
    assert capture_fields("output", text, p) == {"output": redact(text, p)}
    digest = p.model_copy(update={"capture": p.capture.model_copy(update={"mode": "digest"})})
    assert capture_fields("prompt", text, digest) == {
        "prompt_sha256": sha256_hex(text.encode("utf-8"))
    }
    full = load_policy(MINIMAL, "p")
    assert capture_fields("output", text, full) == {"output": text}
    assert redact(text, full) == text


def test_builtin_patterns_catch_common_identifiers() -> None:
    presets = _presets()
    ds = presets["discharge-summary"]
    red = redact("NHS 943 476 5919, DOB: 01/02/1950, call 07700 900123, MRN: 00123456", ds)
    assert "943 476 5919" not in red and "1950" not in red
    assert "07700 900123" not in red and "00123456" not in red
    bl = presets["benefits-letter"]
    assert "QQ123456C" not in redact("NI number QQ 12 34 56 C and QQ123456C", bl)
    cm = presets["credit-memo"]
    assert "GB82WEST12345698765432" not in redact("IBAN GB82 WEST 1234 5698 7654 32", cm).replace(
        " ", ""
    )


def test_every_preset_validates_and_is_realistic() -> None:
    presets = _presets()
    assert {p: presets[p].sector for p in presets} == PRESET_IDS
    for p in presets.values():
        assert p.version == "1"
        assert p.approved_templates and p.approved_models
        assert p.review.guidance is not None and len(p.review.guidance.text) > 100
        assert p.retention.min_days >= 183
        assert p.downstream_allowed
    ds = presets["discharge-summary"]
    assert ds.capture.mode in ("redacted", "digest")
    assert ds.roles.qualifications["reviewer"] == "registered-clinician"
    assert "approver" in ds.signoff_roles("high")
    assert ds.roles.qualifications["approver"] == "consultant"
    assert presets["credit-memo"].roles.must_differ("reviewer", "approver")
    mn = presets["meeting-notes"]
    assert mn.roles.required == ["initiator"] and not mn.signoff and not mn.escalation.triggers


def test_preset_template_hashes_match_template_files() -> None:
    templates = _templates()
    for p in _presets().values():
        for ref in p.approved_templates:
            assert (ref.id, ref.version) in templates, f"{p.id}: no template file for {ref.id}"
            assert ref.sha256 == templates[(ref.id, ref.version)].content_hash, p.id


def test_example_actor_directory() -> None:
    text = (PACKAGE / "actors-example.yaml").read_text(encoding="utf-8")
    doc = load_yaml_model(text, ActorsFile, "actors-example.yaml")
    directory = ActorDirectory.of(doc.actors)
    assert len(directory) >= 15
    run_day = datetime(2026, 3, 1, tzinfo=UTC)
    assert directory.qualified("u-103", "consultant", run_day)
    assert not directory.qualified("u-102", "consultant", run_day)
    # expired qualification: the clinical safety officer's lapsed on 2026-01-15
    assert not directory.qualified("u-104", "clinical-safety-officer", run_day)
    assert directory.qualified("u-104", "clinical-safety-officer", date(2025, 6, 1))
    assert [a.id for a in directory.with_role("approver")][:2] == ["u-103", "u-203"]
    # every qualification a preset names is held by someone in the example directory
    held = {q.name for a in doc.actors for q in a.qualifications}
    for p in _presets().values():
        assert set(p.roles.qualifications.values()) <= held, p.id


def test_actor_file_refuses_duplicates_and_bad_dates() -> None:
    with pytest.raises(YamlDocumentError, match="appears twice"):
        load_yaml_model("actors:\n  - {id: a}\n  - {id: a}\n", ActorsFile, "a.yaml")
    bad = (
        "actors:\n  - id: a\n    qualifications:\n"
        "      - {name: q, valid_from: 2026-01-02, valid_until: 2025-01-01}\n"
    )
    with pytest.raises(YamlDocumentError) as info:
        load_yaml_model(bad, ActorsFile, "a.yaml")
    assert info.value.line == 4
    assert "before valid_from" in info.value.diagnostic()
    with pytest.raises(YamlDocumentError, match="unknown role"):
        load_yaml_model("actors:\n  - {id: a, roles: [boss]}\n", ActorsFile, "a.yaml")


def test_docs_example_is_a_valid_policy() -> None:
    doc = Path(__file__).resolve().parents[2] / "docs" / "policies.md"
    if not doc.exists():
        pytest.fail("docs/policies.md is missing")
    text = doc.read_text(encoding="utf-8")
    block = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    assert load_policy(block, "docs/policies.md").id
