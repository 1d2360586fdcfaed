"""Untrusted text made safe for the terminal: store and pack content is data, never markup.

Anything the CLI shows that came from the store, a pack, a file or an error message can
hold Rich markup (``[/]`` crashes the renderer, ``[link=…]`` makes a live link) and terminal
control sequences (``ESC[2J`` clears the screen, ``ESC]0;…`` retitles the window, a lone
``\\r`` overwrites what came before, U+202E reverses what follows). Every such string goes
through one of the functions here before it reaches a console:

* :func:`plain` makes control characters visible (``\\x1b``, ``\\u202e``) and keeps newline
  and tab; use it for text written without markup (Rich ``Text``, ``markup=False``).
* :func:`safe` is :func:`plain` plus Rich markup escaping, for interpolating into a
  markup string such as ``f"[bold]{safe(run_id)}[/]"``.
* :func:`cell` is a Rich ``Text`` of :func:`plain` text, for table cells.
"""

from __future__ import annotations

import re

from rich.markup import escape
from rich.text import Text

__all__ = ["cell", "json_text", "plain", "safe", "undecodable"]

#: C0 controls but tab and newline, DEL, C1 controls, the Unicode format characters that
#: reorder text (bidi embeddings, overrides and isolates) or break lines (U+2028/9), and
#: lone surrogates (undecodable bytes of a command line), which no terminal can print.
_CONTROL = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)


def _visible(m: re.Match[str]) -> str:
    code = ord(m.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def plain(value: object) -> str:
    """``value`` as text with every terminal control character shown as an escape."""
    text = value if isinstance(value, str) else str(value)
    return _CONTROL.sub(_visible, text)


def safe(value: object) -> str:
    """``value`` ready to interpolate into Rich markup: escaped and free of controls."""
    return escape(plain(value))


def cell(value: object) -> Text:
    """A table cell holding ``value`` as data (no markup, no controls, no emoji codes)."""
    return Text(plain("" if value is None else value))


#: Characters a JSON string may hold raw but a terminal would act on; JSON output shows
#: them as ``\uXXXX`` escapes, which decode to the same data.
_JSON_RAW = re.compile("[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def json_text(text: str) -> str:
    """JSON text (as orjson writes it) with terminal-active characters escaped."""
    return _JSON_RAW.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def undecodable(args: list[str]) -> str | None:
    """The first command-line argument that is not valid UTF-8 text, shown safely."""
    for arg in args:
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            return plain(arg if len(arg) <= 60 else arg[:57] + "...")
    return None
