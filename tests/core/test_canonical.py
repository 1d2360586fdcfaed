"""The fast canonical-JSON path is byte-identical to the reference RFC 8785 encoder."""

from __future__ import annotations

import math
from typing import Any

import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from raidt.core.canonical import canonical_json, es_number

_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=400)
@given(_json)
def test_matches_rfc8785(value: Any) -> None:
    assert canonical_json(value) == rfc8785.dumps(value)


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_es_number_round_trips(x: float) -> None:
    assert float(es_number(x)) == x or (x == 0 and es_number(x) == "0")


def test_known_es_forms() -> None:
    assert es_number(1e21) == "1e+21"
    assert es_number(1e-7) == "1e-7"
    assert es_number(100.0) == "100"
    assert es_number(0.000001) == "0.000001"
    assert not math.isnan(float(es_number(5e-324)))


def test_big_integers_take_reference_path_or_fail_cleanly() -> None:
    try:
        out = canonical_json({"n": 2**60})
    except ValueError as exc:
        assert "canonical" in str(exc)
    else:
        assert out == rfc8785.dumps({"n": 2**60})


@settings(max_examples=600)
@given(
    st.floats(min_value=1e-5, max_value=1e17)
    | st.floats(min_value=-1e17, max_value=-1e-5)
    | st.sampled_from([1e-4, 9.999999999999999e-05, 1e16, 9999999999999998.0, 0.2, 1.0, -3.5])
)
def test_fixed_notation_floats_match_rfc8785(x: float) -> None:
    """The repr fast path of es_number, across and just outside its range."""
    assert es_number(x).encode() == rfc8785.dumps(x)
