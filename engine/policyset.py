"""A loaded, compiled set of policies: what `evaluate` runs.

Compiling is the expensive part (regopy bundle, or pushing modules to OPA); a PolicySet is
built once and reused for every target. Selecting a subset or applying configured
parameters makes a new set that shares the compiled backend.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from .errors import ConfigError
from .model import Language, Policy
from .python_runner import PythonCall, Runner, compile_runner
from .rego.results import RegoBackend, RegoModule
from .rules import RuleSpec

BackendFactory = Callable[[list[RegoModule], dict[str, Any] | None], RegoBackend]


@dataclass(frozen=True, slots=True)
class CompiledPolicy:
    policy: Policy
    rego: RegoModule | None = None
    python: RuleSpec | None = None


@dataclass(frozen=True, slots=True)
class RegoGroup:
    """Rego policies with equal parameters: one converted input serves them all."""

    parameters: dict[str, Any]
    modules: tuple[RegoModule, ...]
    policies: tuple[Policy, ...]


@dataclass(frozen=True, slots=True)
class Batch:
    """One view's policies, sorted once per plan so the per-target loop only runs them."""

    skipped: tuple[tuple[Policy, str], ...]
    python: tuple[tuple[dict[str, Any], Runner], ...]
    """(parameters, runner) groups: one input document per group and target."""
    rego: tuple[RegoGroup, ...]

    @classmethod
    def of(cls, compiled: Iterable[CompiledPolicy]) -> Batch:
        skipped = []
        groups: dict[str, list[CompiledPolicy]] = {}
        python_groups: dict[str, list[CompiledPolicy]] = {}
        for c in compiled:
            missing = [n for n in c.policy.required_parameters if not c.policy.parameters.get(n)]
            key = json.dumps(c.policy.parameters, sort_keys=True)
            if missing:
                skipped.append((c.policy, f"parameter(s) {missing} not configured"))
            elif c.python is not None:
                python_groups.setdefault(key, []).append(c)
            elif c.rego is not None:
                groups.setdefault(key, []).append(c)
        rego = tuple(
            RegoGroup(g[0].policy.parameters, tuple(c.rego for c in g if c.rego),
                      tuple(c.policy for c in g))
            for g in groups.values()
        )
        python = tuple((g[0].policy.parameters, compile_runner([_python_call(c) for c in g]))
                       for g in python_groups.values())
        return cls(tuple(skipped), python, rego)


def _python_call(c: CompiledPolicy) -> PythonCall:
    spec, policy = c.python, c.policy
    assert spec is not None
    return PythonCall(spec.function, spec.wants_data, policy.id, policy.severity,
                      policy.enforcement, policy)


@dataclass(frozen=True)
class Plan:
    """Which policies judge a target of one kind: on itself, and on its pod template."""

    direct: tuple[CompiledPolicy, ...]
    pod: tuple[CompiledPolicy, ...]

    @cached_property
    def direct_batch(self) -> Batch:
        return Batch.of(self.direct)

    @cached_property
    def pod_batch(self) -> Batch:
        return Batch.of(self.pod)


class PolicySet:
    def __init__(
        self,
        policies: Iterable[CompiledPolicy],
        rego_modules: list[RegoModule],
        backend_factory: BackendFactory,
        backend: RegoBackend | None = None,
        data: dict[str, Any] | None = None,
    ):
        self.compiled = tuple(policies)
        self.rego_modules = rego_modules
        self._factory = backend_factory
        self._data = data
        self.backend = backend or backend_factory(rego_modules, data)
        self._plans: dict[tuple[str, str | None], Plan] = {}
        self._subsets: dict[frozenset[str], PolicySet] = {}

    @property
    def policies(self) -> tuple[Policy, ...]:
        return tuple(c.policy for c in self.compiled)

    def __len__(self) -> int:
        return len(self.compiled)

    def get(self, policy_id: str) -> Policy | None:
        return self._by_id.get(policy_id)

    @cached_property
    def _by_id(self) -> dict[str, Policy]:
        return {c.policy.id: c.policy for c in self.compiled}

    @property
    def needs_inventory(self) -> bool:
        return any(c.policy.inventory for c in self.compiled)

    def select(self, patterns: Iterable[str]) -> PolicySet:
        """Keep policies whose id or a tag matches a pattern (globs allowed: `pss:*`)."""
        patterns = list(patterns)
        if not patterns:
            return self
        kept = [c for c in self.compiled if matches(c.policy, patterns)]
        return self._derive(kept)

    def only(self, ids: frozenset[str]) -> PolicySet:
        """The subset with these ids, cached: admission asks for the same few subsets
        (per namespace / operation / labels) over and over, and each keeps its plans."""
        if len(ids) == len(self.compiled):
            return self
        subset = self._subsets.get(ids)
        if subset is None:
            if len(self._subsets) >= 256:
                self._subsets.clear()
            subset = self._subsets[ids] = self._derive(
                [c for c in self.compiled if c.policy.id in ids])
        return subset

    def with_parameters(self, overrides: Mapping[str, Mapping[str, Any]]) -> PolicySet:
        unknown = sorted(set(overrides) - set(self._by_id))
        if unknown:
            raise ConfigError(f"parameters given for unknown policies: {unknown}")
        kept = [
            dataclasses.replace(
                c, policy=dataclasses.replace(
                    c.policy, parameters={**c.policy.parameters, **overrides[c.policy.id]}
                )
            ) if c.policy.id in overrides else c
            for c in self.compiled
        ]
        return self._derive(kept)

    def with_inventory(self, inventory: dict[str, Any]) -> PolicySet:
        """Referential Rego policies read data.inventory, which is compiled into the bundle."""
        data = {"inventory": inventory}
        has_rego = any(c.rego and c.policy.inventory for c in self.compiled)
        backend = self._factory(self.rego_modules, data) if has_rego else self.backend
        return PolicySet(self.compiled, self.rego_modules, self._factory, backend, data)

    @property
    def data(self) -> dict[str, Any]:
        return self._data or {"inventory": {"cluster": {}, "namespace": {}}}

    def plan(self, target_kind: str, object_kind: str | None) -> Plan:
        key = (target_kind, object_kind)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = self._make_plan(target_kind, object_kind)
        return plan

    def _make_plan(self, target_kind: str, object_kind: str | None) -> Plan:
        from .k8s import TEMPLATE_PATHS

        direct, pod = [], []
        for c in self.compiled:
            p = c.policy
            if target_kind not in p.targets:
                continue
            if not p.kinds or "*" in p.kinds or object_kind in p.kinds:
                direct.append(c)
            elif target_kind == "k8s" and p.applies_to_pods() and object_kind in TEMPLATE_PATHS:
                pod.append(c)
        return Plan(tuple(direct), tuple(pod))

    def _derive(self, compiled: list[CompiledPolicy]) -> PolicySet:
        return PolicySet(compiled, self.rego_modules, self._factory, self.backend, self._data)


def matches(policy: Policy, patterns: Iterable[str]) -> bool:
    names = (policy.id, *policy.tags)
    return any(fnmatch.fnmatchcase(n, p) for p in patterns for n in names)


def language_counts(policy_set: PolicySet) -> dict[Language, int]:
    counts = dict.fromkeys(Language, 0)
    for p in policy_set.policies:
        counts[p.language] += 1
    return counts
