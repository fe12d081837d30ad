"""Validate manifests against CustomResourceDefinitions the way the Kubernetes API server does.

For a create request the API server (with ``kubectl apply --validate=strict``) checks that

* ``apiVersion``/``kind`` name a served version of a known CRD,
* ``metadata`` is valid ObjectMeta (name a DNS-1123 subdomain, labels, annotations, ...),
* the object satisfies that version's ``openAPIV3Schema`` with structural-schema semantics (types,
  formats Kubernetes enforces, enum, required, pattern, bounds, composition, int-or-string,
  preserve-unknown-fields, list types, nullable) and has no field the schema does not declare,
* every ``x-kubernetes-validations`` CEL rule holds.

:class:`CrdSet` does all of that offline, for Istio's CRDs and for the Kubernetes Gateway API's (whose
CEL rules read the ``kind``/``group`` the schema defaults, hence defaulting first). CEL rules run on
the ``cel`` package; the Kubernetes CEL library functions these CRDs call that it lacks
(``url``/``isURL``/``getScheme``..., ``isIP``, Go-syntax ``duration``, code-point ``size``, the string
extensions) are supplied as Python functions.

Where this differs from a real API server, it says so instead of passing silently: a rule (or
pattern, or format) it cannot evaluate yields a finding whose message starts with
:data:`COULD_NOT_EVALUATE`. Known, documented approximations:

* Transition rules (those using ``oldSelf``) are skipped: they only run on update.
* Durations reach CEL with microsecond precision, rounded down, so ``>=``/``<`` against
  whole-microsecond bounds (all Istio rules) are exact; ``>``/``<=`` may differ below 1us.
* Formats: ``byte``, ``date-time``, ``date``, ``ipv4``, ``ipv6``, ``cidr``, ``uuid*``, ``uri``,
  ``mac``, ``hexcolor``, ``bsonobjectid`` are checked; other formats Kubernetes
  enforces are reported as not evaluated; unknown formats (``int32``, ``double``...) are ignored,
  as Kubernetes does.
* Like the API server, CEL rules are not run where the object already has a type, enum, required,
  too-long or too-many error; unlike it, rules elsewhere in the object still run (more findings in
  one pass), and one finding notes the rules that were skipped.
* Schema defaults are applied before validating, and ``status`` is ignored (except for undeclared
  fields) when the CRD has a status subresource, as on create.
* A ``null`` in a non-nullable field is a type error, as in Istio's own CRD test validator and
  test vectors; the API server may prune such nulls while decoding, and then report a missing
  required field or nothing.
"""

from .crds import DEFAULT_CRDS_ENV, CrdSet, crds_from_env
from .messages import COULD_NOT_EVALUATE, RULES_NOT_CHECKED, is_unevaluated

__all__ = [
    "COULD_NOT_EVALUATE",
    "DEFAULT_CRDS_ENV",
    "RULES_NOT_CHECKED",
    "CrdSet",
    "crds_from_env",
    "is_unevaluated",
]
