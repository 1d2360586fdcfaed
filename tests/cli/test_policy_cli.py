"""The policy registry commands as a user runs them (real CLI, real store in RAIDT_HOME)."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest
from typer.testing import CliRunner

from raidt.cli.main import app

runner = CliRunner()

POLICY = """\
id: triage-notes
version: "1"
title: Triage notes
approved_templates:
  - {id: meeting-notes-summary, version: "1"}
approved_models:
  - {provider: openai, model: gpt-4o-mini, parameters: {temperature: {max: 0.5}}}
"""


@pytest.fixture
def home(raidt_home: Path) -> Path:
    result = runner.invoke(app, ["init"])
    assert result.exit_code == 0, result.output
    return raidt_home


def _json(args: list[str]) -> object:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_init_installs_presets(home: Path) -> None:
    listed = _json(["policy", "list", "--json"])
    assert isinstance(listed, list)
    assert {p["id"] for p in listed} == {
        "discharge-summary",
        "policy-briefing",
        "credit-memo",
        "student-feedback",
        "benefits-letter",
        "meeting-notes",
    }
    human = runner.invoke(app, ["policy", "list"])
    assert human.exit_code == 0 and "discharge-summary" in human.stdout


def test_show_json_contract(home: Path) -> None:
    shown = _json(["policy", "show", "credit-memo", "--json"])
    assert isinstance(shown, dict)
    assert shown["id"] == "credit-memo" and shown["version"] == "1"
    assert shown["approved_templates"][0]["id"] == "credit-memo-draft"
    assert shown["approved_templates"][0]["version"] == "1"
    assert len(shown["approved_templates"][0]["sha256"]) == 64
    assert {"provider": "azure.ai.openai", "model": "gpt-4o"}.items() <= shown["approved_models"][
        0
    ].items()
    assert shown["approved_models"][0]["parameters"]["temperature"]["max"] == 0.2
    human = runner.invoke(app, ["policy", "show", "credit-memo"])
    assert human.exit_code == 0 and "senior-credit-authority" in human.stdout


def test_add_validate_history(home: Path, tmp_path: Path) -> None:
    f = tmp_path / "triage.yaml"
    f.write_text(POLICY, encoding="utf-8")
    ok = runner.invoke(app, ["policy", "validate", str(f)])
    assert ok.exit_code == 0 and "is valid" in ok.stdout
    # validate stores nothing
    assert runner.invoke(app, ["policy", "history", "triage-notes"]).exit_code == 1
    added = runner.invoke(app, ["policy", "add", str(f)])
    assert added.exit_code == 0 and "added" in added.stdout
    again = runner.invoke(app, ["policy", "add", str(f)])
    assert again.exit_code == 0 and "already stored" in again.stdout
    f2 = tmp_path / "triage2.yaml"
    f2.write_text(POLICY.replace('"1"\ntitle', '"2"\ntitle'), encoding="utf-8")
    assert runner.invoke(app, ["policy", "add", str(f2)]).exit_code == 0
    history = _json(["policy", "history", "triage-notes", "--json"])
    assert [h["version"] for h in history] == ["1", "2"]  # type: ignore[union-attr]
    v1 = _json(["policy", "show", "triage-notes", "--version", "1", "--json"])
    assert v1["version"] == "1"  # type: ignore[index]


def test_history_of_unknown_policy_fails(home: Path) -> None:
    result = runner.invoke(app, ["policy", "history", "nope"])
    assert result.exit_code == 1
    assert "unknown policy 'nope'" in result.stderr


def test_bad_file_one_line_error_and_nothing_written(home: Path, tmp_path: Path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text(POLICY + "retention:\n  min_days: 90\n", encoding="utf-8")
    for verb in ("validate", "add"):
        result = runner.invoke(app, ["policy", verb, str(f)])
        assert result.exit_code == 1
        lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1, result.stderr
        assert f"{f}:9: field 'retention.min_days'" in lines[0].replace("\n", "")
    assert "triage-notes" not in runner.invoke(app, ["policy", "list", "--json"]).stdout
    missing = runner.invoke(app, ["policy", "add", str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 1 and "no such file" in missing.stderr


def test_changed_content_same_version_refused(home: Path, tmp_path: Path) -> None:
    text = (resources.files("raidt") / "policies/presets/meeting-notes.yaml").read_text(
        encoding="utf-8"
    )
    f = tmp_path / "mn.yaml"
    f.write_text(text.replace("sla_hours: 168", "sla_hours: 24"), encoding="utf-8")
    result = runner.invoke(app, ["policy", "add", str(f)])
    assert result.exit_code == 1 and "new version" in result.stderr
    shown = _json(["policy", "show", "meeting-notes", "--json"])
    assert shown["sla_hours"] == 168  # type: ignore[index]


def test_templates(home: Path, tmp_path: Path) -> None:
    listed = _json(["template", "list", "--json"])
    assert len(listed) == 6  # type: ignore[arg-type]
    shown = _json(["template", "show", "discharge-summary-draft", "--json"])
    assert "{{ clinical_record }}" in shown["text"]  # type: ignore[index]
    human = runner.invoke(app, ["template", "show", "discharge-summary-draft"])
    assert human.exit_code == 0 and "Medication changes" in human.stdout
    f = tmp_path / "t.yaml"
    f.write_text("id: triage\nversion: 1\ntext: 'Summarise {{ notes }}'\n", encoding="utf-8")
    added = runner.invoke(app, ["template", "add", str(f)])
    assert added.exit_code == 0 and "added" in added.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: triage\nversion: 2\ntext: 'x {{ a }}'\nvariables: [b]\n", encoding="utf-8")
    refused = runner.invoke(app, ["template", "add", str(bad)])
    assert refused.exit_code == 1 and "bad.yaml:1" in refused.stderr
    assert len(_json(["template", "list", "--json"])) == 7  # type: ignore[arg-type]


def test_actors_import_and_list(home: Path, tmp_path: Path) -> None:
    example = resources.files("raidt") / "policies/actors-example.yaml"
    f = tmp_path / "actors.yaml"
    f.write_text(example.read_text(encoding="utf-8"), encoding="utf-8")
    result = runner.invoke(app, ["actors", "import", str(f)])
    assert result.exit_code == 0 and "imported 21 actors" in result.stdout
    listed = _json(["actors", "list", "--json"])
    by_id = {a["id"]: a for a in listed}  # type: ignore[union-attr]
    assert by_id["u-103"]["qualifications"][1]["name"] == "consultant"
    bad = tmp_path / "bad.yaml"
    bad.write_text("actors:\n  - id: u-1\n    roles: [boss]\n", encoding="utf-8")
    refused = runner.invoke(app, ["actors", "import", str(bad)])
    assert refused.exit_code == 1 and "bad.yaml:3: field 'actors[0].roles'" in refused.stderr
    assert len(_json(["actors", "list", "--json"])) == 21  # type: ignore[arg-type]


def test_a_new_version_starts_from_a_preset_via_yaml(home: Path, tmp_path: Path) -> None:
    for preset in (p["id"] for p in _json(["policy", "list", "--json"])):  # type: ignore[union-attr]
        shown = runner.invoke(app, ["policy", "show", preset, "--yaml"])
        assert shown.exit_code == 0, shown.output
        f = tmp_path / f"{preset}.yaml"
        f.write_text(shown.stdout, encoding="utf-8")
        assert runner.invoke(app, ["policy", "validate", str(f)]).exit_code == 0, preset
        again = runner.invoke(app, ["policy", "add", str(f)])
        assert again.exit_code == 0 and "already stored" in again.stdout, preset

    source = runner.invoke(app, ["policy", "show", "credit-memo", "--yaml"]).stdout
    edited = tmp_path / "credit-memo-2.yaml"
    edited.write_text(
        source.replace('version: "1"', 'version: "2"', 1).replace("sla_hours:", "sla_hours: 12 #"),
        encoding="utf-8",
    )
    added = runner.invoke(app, ["policy", "add", str(edited)])
    assert added.exit_code == 0 and "version 2 added" in added.stdout, added.output
    assert _json(["policy", "show", "credit-memo", "--json"])["version"] == "2"  # type: ignore[index]


def test_show_json_validates_and_its_hash_is_checked(home: Path, tmp_path: Path) -> None:
    shown = _json(["policy", "show", "credit-memo", "--json"])
    assert isinstance(shown, dict) and "content_hash" in shown
    f = tmp_path / "credit-memo.json"
    f.write_text(json.dumps(shown), encoding="utf-8")
    ok = runner.invoke(app, ["policy", "validate", str(f)])
    assert ok.exit_code == 0, ok.output
    f.write_text(json.dumps({**shown, "title": "quietly changed"}), encoding="utf-8")
    refused = runner.invoke(app, ["policy", "validate", str(f)])
    assert refused.exit_code == 1
    assert "is not the hash of this policy" in " ".join(refused.output.split())


def test_show_json_and_yaml_together_refused(home: Path) -> None:
    result = runner.invoke(app, ["policy", "show", "credit-memo", "--json", "--yaml"])
    assert result.exit_code == 1 and "not both" in result.output
