"""The policy registry as a service: policies, prompt templates and the actor directory.

Adapters (CLI, API, web, SDK) call this, never the store. Validation happens before
anything is written, so a refused document changes nothing; every stored document keeps
its YAML verbatim so an evidence pack can carry exactly what was in force.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from importlib import resources
from typing import TYPE_CHECKING

from raidt.core.actors import Actor, ActorDirectory, ActorsFile
from raidt.core.policy import Policy, PromptTemplate, load_policy, load_template
from raidt.core.yamldoc import load_yaml_model
from raidt.errors import NotFoundError, ValidationError
from raidt.store import schema
from raidt.store.registry import ActorRegistry, StoredDocument, VersionedDocuments

if TYPE_CHECKING:
    from raidt.services.app import App

__all__ = ["PolicyService", "PolicyVersion", "install_presets"]


@dataclass(frozen=True, slots=True)
class PolicyVersion:
    """One stored version of a policy (for ``history`` and ``list_policies``)."""

    id: str
    version: str
    title: str
    sector: str
    content_hash: str
    added_at: datetime
    effective_from: date | None


class PolicyService:
    """Add, validate and look up policies, templates and actors of one store."""

    def __init__(self, app: App) -> None:
        self.app = app
        self._policies = VersionedDocuments(app.db, schema.policies, "policy")
        self._templates = VersionedDocuments(app.db, schema.templates, "template")
        self._actors = ActorRegistry(app.db)

    # ----- policies -------------------------------------------------------------------

    def validate_policy(self, text: str, source: str) -> Policy:
        """Parse and validate policy YAML without storing it.

        Also checks that every approved template pinned by hash, if it is stored here,
        has that hash, so a typo in a ``sha256`` is caught before runs are refused.
        """
        policy = load_policy(text, source)
        for ref in policy.approved_templates:
            stored = self._templates.get(ref.id, ref.version)
            if stored is not None and ref.sha256 is not None and ref.sha256 != stored.content_hash:
                raise ValidationError(
                    f"{source}: field 'approved_templates': template {ref.id}@{ref.version} "
                    f"is stored with hash {stored.content_hash}, the policy pins {ref.sha256}"
                )
        return policy

    def add_policy(self, text: str, source: str, *, at: datetime | None = None) -> Policy:
        """Validate and store a policy version (a no-op when identical to the stored one).

        Raises:
            ValidationError: the YAML is invalid, or this ``(id, version)`` is stored with
                different content (a changed policy needs a new version).
        """
        return self.store_policy(text, source, at)[0]

    def store_policy(
        self, text: str, source: str, at: datetime | None = None
    ) -> tuple[Policy, bool]:
        """Like :meth:`add_policy`, also saying whether the version was new."""
        policy = self.validate_policy(text, source)
        added = self._policies.add(policy.id, policy.version, policy.content_hash, text, at=at)
        return policy, added

    def list_policies(self) -> list[PolicyVersion]:
        """The latest version of every policy, by id."""
        latest: dict[str, StoredDocument] = {}
        for doc in self._policies.all():
            latest[doc.id] = doc  # all() is ordered by addition within an id
        return [self._summary(latest[k]) for k in sorted(latest)]

    def history(self, policy_id: str) -> list[PolicyVersion]:
        """Every version of a policy, oldest addition first."""
        docs = self._policies.versions(policy_id)
        if not docs:
            raise self._unknown_policy(policy_id)
        return [self._summary(d) for d in docs]

    def get(self, policy_id: str, version: str | None = None) -> Policy:
        """A policy version, or the latest added when ``version`` is None."""
        return self._parse(self._doc(policy_id, version))

    def policy_text(self, policy_id: str, version: str) -> str:
        """The verbatim YAML of one version (for evidence packs)."""
        return self._doc(policy_id, version).body

    def policy_in_force(self, policy_id: str, at: datetime) -> Policy:
        """The version in force at ``at``.

        That is the version added latest at or before ``at`` whose ``effective_from`` (if
        any) is not after ``at``'s date; when none qualifies (a run older than the
        registry), the earliest version added.
        """
        docs = self._policies.versions(policy_id)
        if not docs:
            raise self._unknown_policy(policy_id)
        chosen = None
        for doc in docs:
            if doc.added_at > at:
                continue
            policy = self._parse(doc)
            if policy.effective_from is None or policy.effective_from <= at.date():
                chosen = policy
        return chosen if chosen is not None else self._parse(docs[0])

    def _doc(self, policy_id: str, version: str | None) -> StoredDocument:
        if version is None:
            docs = self._policies.versions(policy_id)
            if not docs:
                raise self._unknown_policy(policy_id)
            return docs[-1]
        doc = self._policies.get(policy_id, str(version))
        if doc is None:
            known = [d.version for d in self._policies.versions(policy_id)]
            if not known:
                raise self._unknown_policy(policy_id)
            raise NotFoundError(
                f"policy {policy_id} has no version {version}; known versions: {', '.join(known)}"
            )
        return doc

    def _unknown_policy(self, policy_id: str) -> NotFoundError:
        known = ", ".join(self._policies.ids()) or "none (run 'raidt init')"
        return NotFoundError(f"unknown policy '{policy_id}'; known policies: {known}")

    @staticmethod
    def _parse(doc: StoredDocument) -> Policy:
        return load_policy(doc.body, f"policy {doc.id}@{doc.version}")

    def _summary(self, doc: StoredDocument) -> PolicyVersion:
        p = self._parse(doc)
        return PolicyVersion(
            id=doc.id,
            version=doc.version,
            title=p.title,
            sector=p.sector,
            content_hash=doc.content_hash,
            added_at=doc.added_at,
            effective_from=p.effective_from,
        )

    # ----- templates ------------------------------------------------------------------

    def validate_template(self, text: str, source: str) -> PromptTemplate:
        return load_template(text, source)

    def add_template(self, text: str, source: str, *, at: datetime | None = None) -> PromptTemplate:
        """Validate and store a template version (no-op when identical; refused if changed)."""
        return self.store_template(text, source, at)[0]

    def store_template(
        self, text: str, source: str, at: datetime | None = None
    ) -> tuple[PromptTemplate, bool]:
        """Like :meth:`add_template`, also saying whether the version was new."""
        t = load_template(text, source)
        added = self._templates.add(t.id, t.version, t.content_hash, text, at=at)
        return t, added

    def get_template(self, template_id: str, version: str | None = None) -> PromptTemplate:
        """A template version, or the latest added when ``version`` is None."""
        docs = self._templates.versions(template_id)
        if not docs:
            known = ", ".join(self._templates.ids()) or "none"
            raise NotFoundError(f"unknown template '{template_id}'; known templates: {known}")
        if version is None:
            doc = docs[-1]
        else:
            found = [d for d in docs if d.version == str(version)]
            if not found:
                raise NotFoundError(
                    f"template {template_id} has no version {version}; known versions: "
                    + ", ".join(d.version for d in docs)
                )
            doc = found[0]
        return load_template(doc.body, f"template {doc.id}@{doc.version}")

    def template_text(self, template_id: str, version: str) -> str:
        """The verbatim YAML of one template version."""
        doc = self._templates.get(template_id, str(version))
        if doc is None:
            raise NotFoundError(f"unknown template {template_id}@{version}")
        return doc.body

    def list_templates(self) -> list[StoredDocument]:
        """Every stored template version, by id then addition."""
        return self._templates.all()

    # ----- actors ---------------------------------------------------------------------

    def validate_actors(self, text: str, source: str) -> list[Actor]:
        return list(load_yaml_model(text, ActorsFile, source).actors)

    def import_actors(self, text: str, source: str, *, at: datetime | None = None) -> int:
        """Validate an actor directory YAML and append it; returns the number of actors."""
        actors = self.validate_actors(text, source)
        return self._actors.add(actors, at=at)

    def actor_directory(self) -> ActorDirectory:
        """The current directory (latest entry per actor)."""
        return ActorDirectory.of(self._actors.current())

    def find_actor(self, actor_id: str) -> Actor | None:
        """One actor's current entry (latest import), or None when the store has none.

        Reads only that actor's latest row: the workflow asks about one person per action
        and should not load the whole directory to do it.
        """
        return self._actors.latest(actor_id)

    def get_actor(self, actor_id: str) -> Actor:
        """Like :meth:`find_actor`, but an unknown actor is an error saying how to add one."""
        actor = self.find_actor(actor_id)
        if actor is None:
            raise NotFoundError(
                f"unknown actor '{actor_id}'; import an actor directory with "
                "'raidt actors import FILE'"
            )
        return actor


def _package_yaml(folder: str) -> list[tuple[str, str]]:
    base = resources.files("raidt") / "policies" / folder
    return sorted(
        (f"{folder}/{f.name}", f.read_text(encoding="utf-8"))
        for f in base.iterdir()
        if f.name.endswith(".yaml")
    )


def install_presets(app: App) -> int:
    """Install the bundled prompt templates and sector policies; returns how many policies
    were new (0 when they were all there already).

    Idempotent: presets already stored are left as they are. Templates go first so the
    policies' pinned hashes are checked against them.
    """
    service = PolicyService(app)
    added = 0
    for source, text in _package_yaml("templates"):
        service.store_template(text, source)
    for source, text in _package_yaml("presets"):
        added += service.store_policy(text, source)[1]
    return added
