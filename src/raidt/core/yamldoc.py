"""Load YAML documents into pydantic models with errors that point at a line.

Policies, rubrics and actor directories are written by people in YAML, so a refusal has to
say *where* the problem is: ``policy.yaml:14: field 'review.min_seconds': Input should be
greater than or equal to 0``. PyYAML's composer keeps a mark (line, column) on every node;
we keep the node tree next to the constructed data and map pydantic's ``loc`` tuples back to
the node they came from (or the nearest parent that exists, for missing fields).

Only the safe constructors are used: no Python tags, no arbitrary objects. Alias bombs and
recursive documents are refused before validation, because a few hundred bytes of anchors
can otherwise expand into billions of nodes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

import pydantic
import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from raidt.errors import ImportFileError

__all__ = ["MAX_EXPANDED_NODES", "YamlDocumentError", "load_yaml_model", "yaml_mapping"]

M = TypeVar("M", bound=pydantic.BaseModel)

#: Upper bound on the number of nodes a document may expand to once aliases are followed.
MAX_EXPANDED_NODES = 200_000


class YamlDocumentError(ImportFileError):
    """A YAML document was refused; ``problems`` lists every problem found.

    The message (and :meth:`diagnostic`) names the first problem as
    ``source:line: field 'a.b': what is wrong``; ``problems`` holds all of them as
    ``{"line", "field", "message"}`` dicts so a CLI or API can show the full list.
    """

    def __init__(
        self,
        message: str,
        *,
        line: int | None,
        field: str | None,
        source: str,
        problems: Sequence[dict[str, Any]] = (),
    ) -> None:
        more = len(problems) - 1
        suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more > 0 else ""
        super().__init__(message + suffix, line=line, field=field, source=source)
        self.problems: list[dict[str, Any]] = list(problems) or [
            {"line": line, "field": field, "message": message}
        ]


def _fail(
    source: str, message: str, line: int | None = None, field: str | None = None
) -> YamlDocumentError:
    return YamlDocumentError(message, line=line, field=field, source=source)


def _compose(text: str, source: str) -> tuple[Node | None, Any]:
    """Parse one YAML document, returning its node tree and the constructed data."""
    loader: yaml.SafeLoader | None = None
    try:
        loader = yaml.SafeLoader(text)
        node = loader.get_single_node()
        if node is None:
            return None, None
        _check_expansion(node, source)
        data = loader.construct_document(node)
        return node, data
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        what = " ".join(str(p) for p in (exc.context, exc.problem) if p) or "invalid YAML"
        raise _fail(source, f"invalid YAML: {what}", line) from None
    except yaml.YAMLError as exc:  # reader errors (control characters, bad encoding)
        raise _fail(source, f"invalid YAML: {exc}".replace("\n", " ")) from None
    except RecursionError:
        raise _fail(source, "invalid YAML: nesting is too deep") from None
    except (ValueError, TypeError, OverflowError) as exc:
        # PyYAML's timestamp constructor lets e.g. ``2026-13-45`` through as a ValueError.
        raise _fail(source, f"invalid YAML value: {exc}") from None
    finally:
        if loader is not None:
            loader.dispose()


def _check_expansion(root: Node, source: str) -> None:
    """Refuse duplicate keys, recursive documents and documents that expand too far."""
    sizes: dict[int, int] = {}
    on_path: set[int] = set()

    def size(node: Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in on_path:
            raise _fail(
                source,
                "invalid YAML: an alias refers to the node that contains it",
                node.start_mark.line + 1,
            )
        on_path.add(key)
        total = 1
        if isinstance(node, SequenceNode):
            for item in node.value:
                total += size(item)
        elif isinstance(node, MappingNode):
            seen: set[tuple[str, str]] = set()
            for k, v in node.value:
                if isinstance(k, ScalarNode) and k.tag != "tag:yaml.org,2002:merge":
                    if (k.tag, k.value) in seen:
                        raise _fail(
                            source,
                            f"duplicate key {k.value!r} in one mapping",
                            k.start_mark.line + 1,
                        )
                    seen.add((k.tag, k.value))
                total += size(k) + size(v)
        on_path.discard(key)
        if total > MAX_EXPANDED_NODES:
            raise _fail(
                source,
                f"invalid YAML: document expands to more than "
                f"{MAX_EXPANDED_NODES} nodes (aliases?)",
                node.start_mark.line + 1,
            )
        sizes[key] = total
        return total

    size(root)


def _child(node: Node, key: Any) -> Node | None:
    """The node under ``key`` (a mapping key or a sequence index), or None."""
    if isinstance(node, MappingNode):
        for k, v in node.value:
            if isinstance(k, ScalarNode) and k.value == str(key) and isinstance(v, Node):
                return v
        # merge keys (``<<: *base``): look inside the merged mappings too
        for k, v in node.value:
            if isinstance(k, ScalarNode) and k.tag == "tag:yaml.org,2002:merge":
                merged = [v] if isinstance(v, MappingNode) else list(getattr(v, "value", []))
                for m in merged:
                    found = _child(m, key) if isinstance(m, MappingNode) else None
                    if found is not None:
                        return found
        return None
    if isinstance(node, SequenceNode) and isinstance(key, int) and 0 <= key < len(node.value):
        item: Node = node.value[key]
        return item
    return None


def _line_of(root: Node, loc: Sequence[Any]) -> int:
    """Line (1-based) of the deepest node that ``loc`` reaches.

    Elements of ``loc`` that are not in the document (pydantic's union member tags, a
    missing field's name) are skipped, so the answer is the nearest existing parent.
    """
    node = root
    for part in loc:
        found = _child(node, part)
        if found is not None:
            node = found
    return int(node.start_mark.line) + 1


def _field_path(loc: Sequence[Any]) -> str:
    out = ""
    for part in loc:
        if part == "[key]":  # pydantic's marker for "the key of this dict entry"
            continue
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def yaml_mapping(text: str, source: str) -> dict[str, Any]:
    """Parse ``text`` as one YAML document that must be a mapping with string keys.

    For callers that validate the data themselves. Raises :class:`YamlDocumentError`
    (a :class:`raidt.errors.ValidationError`) on any problem.
    """
    _node, data = _mapping_doc(text, source)
    return data


def _mapping_doc(text: str, source: str) -> tuple[Node, dict[str, Any]]:
    node, data = _compose(text, source)
    if node is None:
        raise _fail(source, "the document is empty; expected a mapping of fields", 1)
    if not isinstance(data, dict):
        raise _fail(
            source,
            f"expected a mapping of fields at the top level, found {type(data).__name__}",
            node.start_mark.line + 1,
        )
    for key in data:
        if not isinstance(key, str):
            where = _child(node, key)
            line = (where or node).start_mark.line + 1
            raise _fail(source, f"field names must be text, found {key!r}", line)
    return node, data


def load_yaml_model(text: str, model: type[M], source: str) -> M:
    """Parse ``text`` and validate it as ``model``.

    Args:
        text: the YAML document.
        model: the pydantic model class to validate into.
        source: a name for the document in messages (usually the file path).

    Raises:
        YamlDocumentError: on YAML syntax errors or validation errors; the message names
            ``source:line: field 'a.b': what is wrong`` for the first problem and
            ``problems`` lists all of them.
    """
    node, data = _mapping_doc(text, source)
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        problems: list[dict[str, Any]] = []
        for err in exc.errors(include_url=False):
            loc = tuple(err.get("loc", ()))
            problems.append(
                {
                    "line": _line_of(node, loc),
                    "field": _field_path(loc) or None,
                    "message": str(err.get("msg", "invalid value")),
                }
            )
        first = problems[0]
        raise YamlDocumentError(
            str(first["message"]),
            line=first["line"],
            field=first["field"],
            source=source,
            problems=problems,
        ) from None
    except (ValueError, TypeError) as exc:  # a validator that raised outside pydantic
        raise _fail(source, str(exc), node.start_mark.line + 1) from None
