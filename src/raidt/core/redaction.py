"""Apply a policy's content capture mode to prompt and output text.

The policy decides how much of what people typed and what the model said is kept as
evidence: all of it, a redacted copy, or only a digest. Recorders call
:func:`capture_fields` before they build an event payload, so the text that the policy
says must not be stored never reaches the store.
"""

from __future__ import annotations

from raidt.core.hashing import sha256_hex
from raidt.core.policy import Policy

__all__ = ["capture_fields", "redact"]


def redact(text: str, policy: Policy) -> str:
    """Replace every match of the policy's redaction patterns with ``[REDACTED:label]``.

    Patterns apply whatever the capture mode, so a caller can redact a free-text field
    (a reason, a comment) under a ``full`` policy too; with no patterns the text is
    returned unchanged. Labels are the builtin pattern names or ``pattern-N``.
    """
    for label, pattern in policy.capture.compiled():
        text = pattern.sub(f"[REDACTED:{label}]", text)
    return text


def capture_fields(name: str, text: str, policy: Policy) -> dict[str, str]:
    """The payload fields that record ``text`` under the policy's capture mode.

    ``full`` gives ``{name: text}``; ``redacted`` gives ``{name: redact(text)}``;
    ``digest`` gives ``{name + "_sha256": sha256(text)}`` and no text at all (the
    DESIGN 6.1 ``prompt_sha256`` / ``output_sha256`` fields).
    """
    mode = policy.capture.mode
    if mode == "digest":
        return {f"{name}_sha256": sha256_hex(text.encode("utf-8"))}
    if mode == "redacted":
        return {name: redact(text, policy)}
    return {name: text}
