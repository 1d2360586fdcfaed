"""PROV-JSON from a run's events: loads in the ``prov`` package and says what happened."""

from __future__ import annotations

import json

from prov.model import (
    ProvActivity,
    ProvAgent,
    ProvAssociation,
    ProvDelegation,
    ProvDerivation,
    ProvDocument,
    ProvEntity,
    ProvGeneration,
    ProvUsage,
)

from raidt.core.prov import build_prov, dangling_references
from tests.core._chain import make_chain


def _load(doc: dict[str, object]) -> ProvDocument:
    return ProvDocument.deserialize(content=json.dumps(doc), format="json")


def test_prov_package_loads_every_record() -> None:
    doc = build_prov(make_chain(), builder="raidt 0.1.0")
    loaded = _load(doc)
    counts: dict[type, int] = {}
    for rec in loaded.get_records():
        counts[type(rec)] = counts.get(type(rec), 0) + 1
    for kind in (
        ProvEntity,
        ProvActivity,
        ProvAgent,
        ProvGeneration,
        ProvUsage,
        ProvAssociation,
        ProvDerivation,
        ProvDelegation,
    ):
        assert counts.get(kind), f"no {kind.__name__} records"
    # and it survives the package's own serialise -> deserialise round trip
    again = ProvDocument.deserialize(content=loaded.serialize(format="json"), format="json")
    assert again == loaded
    assert dangling_references(doc) == []


def test_people_have_roles_and_the_edit_is_a_revision() -> None:
    doc = build_prov(make_chain())
    agents = doc["agent"]
    assert agents["actor:u-2"]["prov:type"]["$"] == "prov:Person"
    assert agents["actor:u-2"]["prov:role"] == "reviewer"
    assert agents["actor:sdk"]["prov:type"]["$"] == "prov:SoftwareAgent"
    assert agents["model:openai/gpt-4o"]["prov:type"]["$"] == "prov:SoftwareAgent"
    revisions = [
        r
        for r in doc["wasDerivedFrom"].values()
        if r.get("prov:type", {}).get("$") == "prov:Revision"
    ]
    assert len(revisions) == 1
    assert revisions[0]["prov:generatedEntity"] == "run:output-r-1-e5"
    assert revisions[0]["prov:usedEntity"] == "run:output-r-1-e3"
    plans = {r.get("prov:plan") for r in doc["wasAssociatedWith"].values()}
    assert "tpl:ds@3" in plans
    delegations = {
        (r["prov:delegate"], r["prov:responsible"]) for r in doc["actedOnBehalfOf"].values()
    }
    assert ("actor:sdk", "actor:u-1") in delegations
    assert ("actor:u-2", "team:ward-7") in delegations


def test_generation_uses_prompt_config_template_and_data() -> None:
    doc = build_prov(make_chain())
    gen = "run:generation-r-1-e2"
    assert doc["activity"][gen]["prov:startTime"] == "2026-03-01T09:06:00Z"
    assert doc["activity"][gen]["prov:endTime"] == "2026-03-01T09:09:00Z"
    used = {r["prov:entity"] for r in doc["used"].values() if r["prov:activity"] == gen}
    assert used == {
        "run:model-config-r-1-e2",
        "run:prompt-r-1-e1",
        "tpl:ds@3",
        "data:ehr%3Apatient%2F42",
    }


def test_deterministic_and_sensitive_to_the_events() -> None:
    chain = make_chain()
    assert build_prov(chain) == build_prov(make_chain())
    assert build_prov(chain[:-1]) != build_prov(chain)


def test_dangling_reference_is_reported() -> None:
    doc = build_prov(make_chain())
    first = next(iter(doc["used"]))
    doc["used"][first]["prov:entity"] = "run:nothing"
    assert dangling_references(doc) == [f"used {first}: prov:entity names undeclared run:nothing"]
