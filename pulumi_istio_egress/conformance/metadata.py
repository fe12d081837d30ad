"""ObjectMeta as the API server validates it: names, namespace, labels and annotations."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import Any

from .messages import Run
from .values import json_type, key_str, show, str_keys

_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", re.ASCII)
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*", re.ASCII)
_QUALIFIED_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]", re.ASCII)
_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
    "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
    "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
    "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
_SUBDOMAIN_FIX = "Use lowercase letters, digits, '-' and '.', starting and ending with a letter or digit"
_OBJECT_META_FIELDS = frozenset(
    {
        "name",
        "generateName",
        "namespace",
        "selfLink",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "labels",
        "annotations",
        "ownerReferences",
        "finalizers",
        "managedFields",
    }
)
_TOTAL_ANNOTATION_SIZE = 256 * 1024


def _qualified_name_problem(key: str) -> str | None:
    prefix, slash, name = key.rpartition("/")
    if slash:
        if not prefix:
            return "prefix part must be non-empty"
        if len(prefix) > 253 or not _DNS1123_SUBDOMAIN.fullmatch(prefix):
            return f"prefix part {_SUBDOMAIN_MSG}"
    if not name:
        return "name part must be non-empty"
    if len(name) > 63:
        return "name part must be no more than 63 characters"
    if not _QUALIFIED_NAME.fullmatch(name):
        return (
            "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
            "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
            "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
        )
    return None


def _check_string_map(meta: Mapping[str, Any], field: str, run: Run) -> None:
    entries = meta.get(field)
    path = f"metadata.{field}"
    if entries is None:
        return
    if not isinstance(entries, Mapping):
        run.add(
            path,
            entries,
            f'Invalid value: {show(entries)}: {path} in body must be of type object: "{json_type(entries)}"',
            "Change it to a mapping of string keys to string values",
        )
        return
    total = 0
    for raw_key, item in entries.items():
        key = key_str(raw_key)
        item_path = f"{path}[{key}]"
        if not isinstance(item, str):
            run.add(
                item_path,
                item,
                f'Invalid value: {show(item)}: {item_path} in body must be of type string: "{json_type(item)}"',
                "Quote the value so it is a string",
            )
            continue
        problem = _qualified_name_problem(key.lower() if field == "annotations" else key)
        if problem:
            run.add(
                item_path,
                key,
                f"Invalid value: {show(key)}: {problem}",
                "Use [prefix/]name: a DNS subdomain prefix and a name of letters, digits, '-', '_', '.'",
            )
        if field == "labels":
            if len(item) > 63:
                run.add(
                    item_path,
                    item,
                    f"Invalid value: {show(item)}: must be no more than 63 characters",
                    "Use at most 63 characters",
                )
            elif item and not _QUALIFIED_NAME.fullmatch(item):
                run.add(
                    item_path,
                    item,
                    f"Invalid value: {show(item)}: a valid label must be an empty string or consist of "
                    "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
                    "character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is "
                    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
                    "Use letters, digits, '-', '_' and '.', starting and ending with a letter or digit",
                )
        total += len(key) + len(item)
    if field == "annotations" and total > _TOTAL_ANNOTATION_SIZE:
        run.add(
            path,
            None,
            f"Too long: may not be more than {_TOTAL_ANNOTATION_SIZE} bytes",
            "Shrink the annotations to at most 256 KiB in total",
        )


def check_metadata(meta: Any, namespaced: bool, run: Run) -> None:
    if meta is None:
        run.add("metadata.name", None, "Required value: name or generateName is required", "Set metadata.name")
        return
    if not isinstance(meta, Mapping):
        run.add(
            "metadata",
            meta,
            f'Invalid value: {show(meta)}: metadata in body must be of type object: "{json_type(meta)}"',
            "Change it to a mapping with at least `name`",
        )
        return
    meta = str_keys(meta)
    for key, item in meta.items():
        if key not in _OBJECT_META_FIELDS:
            close = difflib.get_close_matches(key, sorted(_OBJECT_META_FIELDS), n=1)
            run.add(
                f"metadata.{key}",
                item,
                "field not declared in schema",
                f"Did you mean `{close[0]}`? Otherwise remove `{key}`" if close else f"Remove `{key}`",
            )
    for key in ("name", "generateName", "namespace"):
        item = meta.get(key)
        if item is not None and not isinstance(item, str):
            run.add(
                f"metadata.{key}",
                item,
                f'Invalid value: {show(item)}: metadata.{key} in body must be of type string: "{json_type(item)}"',
                "Change it to a string",
            )
    name, generate = meta.get("name"), meta.get("generateName")
    if not name and not generate:
        run.add("metadata.name", None, "Required value: name or generateName is required", "Set metadata.name")
    for key, text, prefix in (("name", name, False), ("generateName", generate, True)):
        if not isinstance(text, str) or not text:
            continue
        checked = text[:-1] if prefix and text.endswith("-") else text
        if len(text) > 253:
            run.add(
                f"metadata.{key}",
                text,
                f"Invalid value: {show(text)}: must be no more than 253 characters",
                "Use at most 253 characters",
            )
        elif not (_DNS1123_SUBDOMAIN.fullmatch(checked) or (prefix and not checked)):
            run.add(f"metadata.{key}", text, f"Invalid value: {show(text)}: {_SUBDOMAIN_MSG}", _SUBDOMAIN_FIX)
    namespace = meta.get("namespace")
    if isinstance(namespace, str) and namespace:
        if not namespaced:
            run.add(
                "metadata.namespace",
                namespace,
                "Forbidden: not allowed on this type",
                "Remove metadata.namespace: this kind is cluster-scoped",
            )
        elif len(namespace) > 63:
            run.add(
                "metadata.namespace",
                namespace,
                f"Invalid value: {show(namespace)}: must be no more than 63 characters",
                "Use at most 63 characters",
            )
        elif not _DNS1123_LABEL.fullmatch(namespace):
            run.add(
                "metadata.namespace",
                namespace,
                f"Invalid value: {show(namespace)}: {_LABEL_MSG}",
                "Use lowercase letters, digits and '-', starting and ending with a letter or digit",
            )
    _check_string_map(meta, "labels", run)
    _check_string_map(meta, "annotations", run)
