"""Loading CRDs: :class:`CrdSet`, their served versions, and :func:`crds_from_env`."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..findings import Finding, Manifest
from ..names import ISTIO_CRDS_ENV
from .messages import RULES_NOT_CHECKED, Run
from .metadata import check_metadata
from .schema import Schema, member_schema, with_defaults
from .validation import check, check_unknown_only
from .values import json_type, show, str_keys

DEFAULT_CRDS_ENV = ISTIO_CRDS_ENV
"""Environment variable holding the path of the CRD YAML (e.g. Istio's ``crd-all.gen.yaml``)."""


@dataclass(frozen=True, slots=True)
class _Version:
    api_version: str
    kind: str
    schema: Schema
    namespaced: bool
    status_subresource: bool  # then a create ignores status, except for undeclared fields


def _root_schema(raw: Mapping[str, Any]) -> Schema:
    schema = Schema(raw)
    # apiVersion, kind and metadata are always allowed at the root (and validated separately).
    schema.implicit = frozenset({"apiVersion", "kind", "metadata"})
    return schema


def _iter_crds(doc: Any) -> Iterable[Mapping[str, Any]]:
    if not isinstance(doc, Mapping):
        return
    if doc.get("kind") == "CustomResourceDefinition":
        yield doc
    elif str(doc.get("kind", "")).endswith("List") and isinstance(doc.get("items"), list):
        for item in doc["items"]:
            yield from _iter_crds(item)


class CrdSet:
    """The served versions of a set of CRDs, compiled for validating manifests against them."""

    def __init__(self, versions: Mapping[tuple[str, str], _Version]) -> None:
        self._versions = dict(versions)
        self._served_by_kind: dict[tuple[str, str], list[str]] = {}
        for api_version, kind in sorted(self._versions):
            group = api_version.rpartition("/")[0]
            self._served_by_kind.setdefault((group, kind), []).append(api_version)

    @classmethod
    def load(cls, *paths: str | os.PathLike[str]) -> CrdSet:
        """Load CRDs from multi-document YAML files (also ``kubectl get crd -o yaml`` Lists)."""
        if not paths:
            raise ValueError("CrdSet.load needs at least one path")
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        docs: list[Mapping[str, Any]] = []
        for path in paths:
            with open(path, encoding="utf-8") as stream:
                found = [crd for doc in yaml.load_all(stream, Loader=loader) for crd in _iter_crds(doc)]
            if not found:
                raise ValueError(f"{os.fspath(path)}: no CustomResourceDefinition found")
            docs.extend(found)
        return cls.from_documents(docs)

    @classmethod
    def from_documents(cls, docs: Iterable[Mapping[str, Any]]) -> CrdSet:
        """Compile CRD documents (``List`` documents are unpacked; other kinds are ignored)."""
        versions: dict[tuple[str, str], _Version] = {}
        for doc in docs:
            for crd in _iter_crds(doc):
                spec = crd.get("spec") or {}
                group = str(spec.get("group", ""))
                kind = str((spec.get("names") or {}).get("kind", ""))
                namespaced = spec.get("scope", "Namespaced") == "Namespaced"
                shared = (spec.get("validation") or {}).get("openAPIV3Schema")  # apiextensions v1beta1
                for version in spec.get("versions") or []:
                    if not version.get("served", True) or not version.get("name"):
                        continue
                    raw = (version.get("schema") or {}).get("openAPIV3Schema") or shared or {}
                    api_version = f"{group}/{version['name']}"
                    status = "status" in (version.get("subresources") or spec.get("subresources") or {})
                    versions[(api_version, kind)] = _Version(api_version, kind, _root_schema(raw), namespaced, status)
        return cls(versions)

    def kinds(self) -> frozenset[tuple[str, str]]:
        """The served ``(apiVersion, kind)`` pairs."""
        return frozenset(self._versions)

    def validate(self, manifest: Manifest) -> list[Finding]:
        """Everything the API server would reject in ``manifest`` on create; ``[]`` when valid."""
        run = Run()
        if not isinstance(manifest, Mapping):
            run.add(
                "<root>",
                manifest,
                f"Invalid value: {show(manifest)}: must be of type object",
                "Pass the manifest as a mapping with apiVersion, kind, metadata and spec",
            )
            return run.findings
        obj = str_keys(manifest)
        api_version, kind = obj.get("apiVersion"), obj.get("kind")
        for field, item in (("apiVersion", api_version), ("kind", kind)):
            if not item:
                run.add(field, None, "Required value", f"Set {field}")
            elif not isinstance(item, str):
                run.add(
                    field,
                    item,
                    f'Invalid value: {show(item)}: {field} in body must be of type string: "{json_type(item)}"',
                    "Change it to a string",
                )
        if run.findings:
            return run.findings
        version = self._versions.get((str(api_version), str(kind)))
        if version is None:
            group = str(api_version).rpartition("/")[0]
            served = self._served_by_kind.get((group, str(kind)))
            fix = (
                f"Use apiVersion {' or '.join(served)}"
                if served
                else f"Use a kind the loaded CRDs define, or load the CRD that defines {kind}"
            )
            run.add("apiVersion", api_version, f'no matches for kind "{kind}" in version "{api_version}"', fix)
            return run.findings
        check_metadata(obj.get("metadata"), version.namespaced, run)
        root = version.schema
        if version.status_subresource and "status" in obj:
            # "create cannot set status": the API server drops it before validating, but strict
            # field validation has already reported undeclared fields in it while decoding.
            status = member_schema(root, "status")
            if isinstance(status, Schema):
                check_unknown_only(status, obj["status"], "status", run)
            obj = {k: v for k, v in obj.items() if k != "status"}
        if root.has_defaults:
            obj = with_defaults(root, obj)
        check(root, obj, "", run)
        findings = run.findings + run.cel_findings
        if run.unchecked is not None:
            findings.append(
                Finding(run.unchecked, None, RULES_NOT_CHECKED, "Fix the errors above, then validate again")
            )
        return findings


_ENV_CACHE: dict[tuple[tuple[str, int, int], ...], CrdSet] = {}


def crds_from_env(default: str | None = None) -> CrdSet:
    """The CRDs at ``$ISTIO_CRDS`` (else ``default``), loaded once per file version.

    Like the policy pack's setting, the variable may list several files (``os.pathsep``-separated).
    """
    configured = os.environ.get(DEFAULT_CRDS_ENV)
    spec = configured or default
    if not spec:
        raise FileNotFoundError(
            errno.ENOENT,
            f"no CRD file: set ${DEFAULT_CRDS_ENV} to the path of Istio's CRDs (e.g. crd-all.gen.yaml)",
        )
    key = []
    paths = [Path(p).expanduser() for p in spec.split(os.pathsep) if p]
    for path in paths:
        try:
            stat = path.stat()
        except FileNotFoundError:
            source = f"${DEFAULT_CRDS_ENV}" if configured else f"the default (${DEFAULT_CRDS_ENV} is not set)"
            raise FileNotFoundError(
                errno.ENOENT,
                f"CRD file {path} (from {source}) does not exist; set ${DEFAULT_CRDS_ENV} to the path of "
                "Istio's CRDs (e.g. crd-all.gen.yaml)",
                str(path),
            ) from None
        key.append((str(path.resolve()), stat.st_mtime_ns, stat.st_size))
    cached = _ENV_CACHE.get(tuple(key))
    if cached is None:
        cached = _ENV_CACHE[tuple(key)] = CrdSet.load(*paths)
    return cached
