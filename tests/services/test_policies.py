"""Tests for raidt.services.policies on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

import pytest

from raidt.errors import NotFoundError, ValidationError
from raidt.services.app import App
from raidt.services.policies import PolicyService, install_presets

PRESETS = [
    "benefits-letter",
    "credit-memo",
    "discharge-summary",
    "meeting-notes",
    "policy-briefing",
    "student-feedback",
]

POLICY = """\
id: triage-notes
version: "1"
title: Triage notes
approved_templates:
  - id: meeting-notes-summary
    version: "1"
"""


@pytest.fixture
def app(tmp_path: Path, db_url: str) -> Iterator[App]:
    a = App.open(home=tmp_path / "home", database_url=db_url)
    yield a
    a.close()


@pytest.fixture
def svc(app: App) -> PolicyService:
    return PolicyService(app)


def test_install_presets_is_idempotent(app: App, svc: PolicyService) -> None:
    assert install_presets(app) == 6
    assert install_presets(app) == 0
    assert [p.id for p in svc.list_policies()] == PRESETS
    assert len(svc.list_templates()) == 6
    ds = svc.get("discharge-summary")
    assert ds.sector == "healthcare"
    ref = ds.approved_templates[0]
    assert svc.get_template(ref.id, ref.version).content_hash == ref.sha256
    text = (resources.files("raidt") / "policies/presets/discharge-summary.yaml").read_text(
        encoding="utf-8"
    )
    assert svc.policy_text("discharge-summary", "1") == text


def test_versions_history_and_conflicts(svc: PolicyService) -> None:
    svc.add_policy(POLICY, "v1.yaml")
    v2 = POLICY.replace('version: "1"', 'version: "2"').replace("Triage notes", "Triage v2")
    svc.add_policy(v2, "v2.yaml")
    assert svc.get("triage-notes").version == "2"
    assert svc.get("triage-notes", "1").title == "Triage notes"
    assert [h.version for h in svc.history("triage-notes")] == ["1", "2"]
    # identical re-add: no-op; changed content under an existing version: refused
    svc.add_policy("# same content\n" + POLICY, "again.yaml")
    with pytest.raises(ValidationError, match="new version"):
        svc.add_policy(POLICY.replace("Triage notes", "Sneaky edit"), "edit.yaml")
    assert svc.get("triage-notes", "1").title == "Triage notes"
    assert len(svc.history("triage-notes")) == 2


def test_invalid_policy_writes_nothing(svc: PolicyService) -> None:
    bad = POLICY + "retention:\n  min_days: 30\n"
    with pytest.raises(ValidationError) as info:
        svc.add_policy(bad, "bad.yaml")
    assert info.value.diagnostic().startswith("bad.yaml:8: field 'retention.min_days'")
    assert svc.list_policies() == []


def test_validate_checks_pinned_hash_against_stored_template(app: App, svc: PolicyService) -> None:
    install_presets(app)
    wrong = POLICY.replace('    version: "1"\n', '    version: "1"\n    sha256: ' + "f" * 64 + "\n")
    with pytest.raises(ValidationError, match="stored with hash"):
        svc.validate_policy(wrong, "wrong.yaml")


def test_not_found_names_known_ids(app: App, svc: PolicyService) -> None:
    with pytest.raises(NotFoundError, match="raidt init"):
        svc.get("nope")
    install_presets(app)
    with pytest.raises(NotFoundError, match="known policies: benefits-letter, credit-memo"):
        svc.get("nope")
    with pytest.raises(NotFoundError, match="known versions: 1"):
        svc.get("credit-memo", "9")
    with pytest.raises(NotFoundError, match="known templates"):
        svc.get_template("nope")
    with pytest.raises(NotFoundError, match="unknown actor"):
        svc.get_actor("u-404")


def test_policy_in_force(svc: PolicyService) -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    svc.add_policy(POLICY, "v1.yaml", at=t0)
    v2 = POLICY.replace('version: "1"', 'version: "2"')
    svc.add_policy(v2, "v2.yaml", at=t0 + timedelta(days=10))
    v3 = POLICY.replace('version: "1"', 'version: "3"') + "effective_from: 2026-03-01\n"
    svc.add_policy(v3, "v3.yaml", at=t0 + timedelta(days=20))
    assert svc.policy_in_force("triage-notes", t0 - timedelta(days=1)).version == "1"
    assert svc.policy_in_force("triage-notes", t0 + timedelta(days=5)).version == "1"
    assert svc.policy_in_force("triage-notes", t0 + timedelta(days=10)).version == "2"
    # v3 is added on day 20 but only takes effect on 1 March
    assert svc.policy_in_force("triage-notes", t0 + timedelta(days=25)).version == "2"
    assert svc.policy_in_force("triage-notes", datetime(2026, 3, 1, 8, tzinfo=UTC)).version == "3"
    with pytest.raises(NotFoundError):
        svc.policy_in_force("nope", t0)


def test_actors_import_and_directory(svc: PolicyService) -> None:
    text = (resources.files("raidt") / "policies/actors-example.yaml").read_text(encoding="utf-8")
    n = svc.import_actors(text, "actors-example.yaml")
    assert n == len(svc.actor_directory())
    assert svc.get_actor("u-103").qualified("consultant", datetime(2026, 3, 1, tzinfo=UTC))
    svc.import_actors("actors:\n  - {id: u-103, roles: [auditor]}\n", "update.yaml")
    assert svc.get_actor("u-103").roles == ["auditor"]
    assert len(svc.actor_directory()) == n
    with pytest.raises(ValidationError, match=r"bad.yaml:2: field 'actors\[0\].roles'"):
        svc.import_actors("actors:\n  - {id: u-9, roles: [boss]}\n", "bad.yaml")
    with pytest.raises(NotFoundError):
        svc.get_actor("u-9")


def test_find_actor_reads_the_latest_entry_of_one_actor(svc: PolicyService) -> None:
    assert svc.find_actor("u-103") is None  # empty directory: None, not an error
    text = (resources.files("raidt") / "policies/actors-example.yaml").read_text(encoding="utf-8")
    svc.import_actors(text, "actors-example.yaml")
    directory = svc.actor_directory()
    for actor in directory.actors.values():
        assert svc.find_actor(actor.id) == actor
    assert svc.find_actor("u-404") is None
    # a later import wins for that actor only; the others keep their entries
    svc.import_actors("actors:\n  - {id: u-103, roles: [auditor]}\n", "update.yaml")
    found = svc.find_actor("u-103")
    assert found is not None and found.roles == ["auditor"]
    assert found == svc.actor_directory().get("u-103")
    assert svc.find_actor("u-101") == directory.get("u-101")
