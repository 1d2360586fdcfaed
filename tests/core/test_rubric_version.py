"""Rubric and policy versions follow one rule: ``1.10`` unquoted is refused, not read as 1.1."""

from __future__ import annotations

import pytest

from raidt.core.policy import load_policy
from raidt.core.rubric import load_rubric
from raidt.core.yamldoc import YamlDocumentError
from raidt.services.scoring import default_rubric_text

POLICY = "id: p\nversion: 1\ntitle: P\n"


def _rubric(version_line: str) -> str:
    text = default_rubric_text()
    start = text.index("\nversion:") + 1
    end = text.index("\n", start)
    return text[:start] + version_line + text[end:]


@pytest.mark.parametrize("line", ["version: 1.10", "version: 2.0"])
def test_float_version_refused_by_rubric_and_policy_alike(line: str) -> None:
    with pytest.raises(YamlDocumentError) as r:
        load_rubric(_rubric(line), "r.yaml")
    with pytest.raises(YamlDocumentError) as p:
        load_policy(POLICY.replace("version: 1", line), "p.yaml")
    assert r.value.field == p.value.field == "version"
    assert "quoted" in r.value.diagnostic() and "quoted" in p.value.diagnostic()


@pytest.mark.parametrize(("line", "version"), [('version: "1.10"', "1.10"), ("version: 3", "3")])
def test_quoted_and_integer_versions_read_the_same_way(line: str, version: str) -> None:
    assert load_rubric(_rubric(line), "r.yaml").version == version
    assert load_policy(POLICY.replace("version: 1", line), "p.yaml").version == version
