"""The approval memo the checks use answers exactly what the policy answers.

:class:`Approvals` memoises per policy version; a wrong key (1 and True taken for one
value) would silently change verdicts, so every answer is compared with the policy's own,
asked first and again from the memo, and two policies' memos are kept apart.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from raidt.core.checks import Approvals
from raidt.core.policy import load_policy
from tests.core._runs import POLICY, POLICY_YAML

#: the same policy text with a tighter bound: same shape, different answers
STRICT = load_policy(POLICY_YAML.replace("max: 0.5", "max: 0.2"), "strict.yaml")
MEMOS = {id(POLICY): Approvals(POLICY), id(STRICT): Approvals(STRICT)}


def model_ok(policy: Any, provider: str, model: str, parameters: Any) -> bool:
    return MEMOS[id(policy)].model_ok(provider, model, parameters)


def template_ok(policy: Any, template_id: str, version: str) -> bool:
    return MEMOS[id(policy)].template_ok(template_id, version)


values = st.one_of(
    st.integers(-2, 2),
    st.floats(-1, 1, allow_nan=False),
    st.booleans(),
    st.text(max_size=3),
    st.none(),
    st.lists(st.integers(), max_size=2),  # unhashable: judged without the memo
)
params = st.dictionaries(st.sampled_from(["temperature", "top_p", "seed"]), values, max_size=3)


def _approved(policy: Any, provider: str, model: str, parameters: Any) -> bool:
    return policy.model_problem(provider, model, parameters) is None


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(
    provider=st.sampled_from(["openai", "anthropic"]),
    model=st.sampled_from(["gpt-4o", "gpt-4o-mini"]),
    parameters=params,
)
def test_model_ok_matches_the_policy(provider: str, model: str, parameters: dict[str, Any]) -> None:
    for policy in (POLICY, STRICT, POLICY):
        want = _approved(policy, provider, model, parameters)
        assert model_ok(policy, provider, model, parameters) is want
        assert model_ok(policy, provider, model, parameters) is want  # from the memo


def test_equal_values_of_different_types_are_told_apart() -> None:
    # True == 1 to Python; a bound of 0..0.5 accepts 0 but says nothing good about False
    for value in (0, 0.0, False, 1, 1.0, True, 0.4):
        p = {"temperature": value}
        assert model_ok(POLICY, "openai", "gpt-4o", p) is _approved(POLICY, "openai", "gpt-4o", p)


def test_parameters_that_are_not_a_mapping_are_judged_by_the_policy() -> None:
    assert model_ok(POLICY, "openai", "gpt-4o", []) is _approved(POLICY, "openai", "gpt-4o", [])


@given(
    template_id=st.sampled_from(["briefing", "other"]),
    version=st.sampled_from(["1", "2", "3"]),
)
def test_template_ok_matches_the_policy(template_id: str, version: str) -> None:
    for policy in (POLICY, STRICT):
        want = policy.template_approved(template_id, version)
        assert template_ok(policy, template_id, version) is want
        assert template_ok(policy, template_id, version) is want
