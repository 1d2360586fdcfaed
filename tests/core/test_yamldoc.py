"""Tests for raidt.core.yamldoc: line-accurate errors from YAML into pydantic models."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, Field

from raidt.core.yamldoc import YamlDocumentError, load_yaml_model, yaml_mapping
from raidt.errors import ValidationError


class Inner(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    weight: float = Field(default=1.0, ge=0)


class Outer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    count: int = 0
    items: list[Inner] = []
    nested: dict[str, Inner] = {}


GOOD = """\
id: x
count: 3
items:
  - name: a
    weight: 2
  - name: b
nested:
  k:
    name: c
"""


def test_valid_document_loads() -> None:
    doc = load_yaml_model(GOOD, Outer, "good.yaml")
    assert doc.items[0].weight == 2
    assert doc.nested["k"].name == "c"


def test_wrong_type_names_file_line_and_field() -> None:
    text = GOOD.replace("weight: 2", "weight: heavy")
    with pytest.raises(ValidationError) as info:
        load_yaml_model(text, Outer, "p.yaml")
    err = info.value
    assert isinstance(err, YamlDocumentError)
    assert err.line == 5
    assert err.field == "items[0].weight"
    assert err.diagnostic().startswith("p.yaml:5: field 'items[0].weight': ")
    assert "number" in err.diagnostic()


def test_missing_field_points_at_nearest_parent() -> None:
    text = "id: x\nitems:\n  - weight: 1\n"
    with pytest.raises(YamlDocumentError) as info:
        load_yaml_model(text, Outer, "p.yaml")
    assert info.value.field == "items[0].name"
    assert info.value.line == 3
    assert "Field required" in info.value.diagnostic()


def test_missing_top_level_field_points_at_line_one() -> None:
    with pytest.raises(YamlDocumentError) as info:
        load_yaml_model("\n\ncount: 2\n", Outer, "p.yaml")
    assert info.value.field == "id"
    assert info.value.line == 3  # the mapping starts at its first key


def test_extra_field_points_at_its_line() -> None:
    text = GOOD + "nested_typo: 1\n"
    with pytest.raises(YamlDocumentError) as info:
        load_yaml_model(text, Outer, "p.yaml")
    assert info.value.line == 10
    assert info.value.field == "nested_typo"


def test_dict_entry_error_line() -> None:
    text = GOOD.replace("    name: c", "    name: c\n    weight: -1")
    with pytest.raises(YamlDocumentError) as info:
        load_yaml_model(text, Outer, "p.yaml")
    assert (info.value.line, info.value.field) == (10, "nested.k.weight")


def test_all_problems_are_listed() -> None:
    text = "id: [1]\ncount: many\n"
    with pytest.raises(YamlDocumentError) as info:
        load_yaml_model(text, Outer, "p.yaml")
    lines = sorted(p["line"] for p in info.value.problems)
    assert lines == [1, 2]
    assert "(and 1 more problem)" in info.value.diagnostic()


def test_syntax_error_names_line() -> None:
    with pytest.raises(YamlDocumentError) as info:
        load_yaml_model("id: x\nitems: [a, b\ncount: 1\n", Outer, "bad.yaml")
    assert info.value.diagnostic().startswith("bad.yaml:")
    assert info.value.line is not None and info.value.line >= 2
    assert "invalid YAML" in info.value.diagnostic()


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        ("- a\n- b\n", "expected a mapping"),
        ("1: a\n", "field names must be text"),
        ("id: x\nid: y\n", "duplicate key 'id'"),
        ("a: &x [*x]\n", "alias refers"),
        ("a: !!python/object:os.system {}\n", "invalid YAML"),
        ("a: 2026-13-45\n", "invalid YAML value"),
        ("---\na: 1\n---\nb: 2\n", "invalid YAML"),
    ],
)
def test_bad_documents_are_refused(text: str, fragment: str) -> None:
    with pytest.raises(YamlDocumentError) as info:
        yaml_mapping(text, "f.yaml")
    assert fragment in info.value.diagnostic()
    assert info.value.diagnostic().startswith("f.yaml")


def test_alias_bomb_is_refused() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 10)}]")
    with pytest.raises(YamlDocumentError, match="expands to more than"):
        yaml_mapping("\n".join(lines) + "\n", "bomb.yaml")


def test_merge_keys_resolve_lines() -> None:
    text = "id: x\nnested:\n  k: &b\n    name: a\n    weight: -1\nitems:\n  - <<: *b\n"
    with pytest.raises(YamlDocumentError) as info:
        load_yaml_model(text, Outer, "m.yaml")
    by_field = {p["field"]: p["line"] for p in info.value.problems}
    assert by_field == {"nested.k.weight": 5, "items[0].weight": 5}


def test_yaml_mapping_returns_plain_data() -> None:
    assert yaml_mapping("a: 1\nb: [x]\n", "f.yaml") == {"a": 1, "b": ["x"]}


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_text_only_raises_validation_error(text: str) -> None:
    try:
        load_yaml_model(text, Outer, "fuzz.yaml")
    except ValidationError as err:
        assert err.diagnostic().startswith("fuzz.yaml")
        assert "\n" not in err.diagnostic()


_yamlish = st.lists(
    st.sampled_from(
        [
            "id: x",
            "count: 1",
            "items:",
            "  - name: a",
            "    weight: -2",
            "- ",
            "nested:",
            "  k: {name: 1}",
            "&a [*a]",
            "[",
            "{",
            ": :",
            "!!binary x",
            "\t",
            "'",
            '"',
            "2026-02-30",
            "? [a]",
            "<<: *z",
            "---",
            "...",
        ]
    ),
    max_size=12,
).map("\n".join)


@settings(max_examples=300, deadline=None)
@given(_yamlish)
def test_yamlish_text_only_raises_validation_error(text: str) -> None:
    try:
        load_yaml_model(text, Outer, "fuzz.yaml")
    except ValidationError as err:
        assert "\n" not in err.diagnostic()
