"""Optional dependencies: the component needs only pulumi and pulumi-kubernetes; the policy pack,
``check`` and the CRD layer need the extra ``[policy]``. Importing one of their modules without it
fails with one line that names the extra, instead of a bare ``No module named 'cel'``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

POLICY_EXTRA = "policy"


class MissingExtraError(ModuleNotFoundError):
    """A module of ours needs an optional dependency that is not installed."""


def install_hint(extra: str) -> str:
    return f"pip install 'pulumi-istio-egress[{extra}]'"


@contextmanager
def requires_extra(feature: str, extra: str = POLICY_EXTRA) -> Iterator[None]:
    """Wrap the imports of optional dependencies: a missing one becomes a `MissingExtraError`."""
    try:
        yield
    except ModuleNotFoundError as error:
        if isinstance(error, MissingExtraError):
            raise
        missing = error.name or str(error)
        raise MissingExtraError(
            f"{feature} needs the extra [{extra}] (missing module {missing!r}): {install_hint(extra)}",
            name=missing,
        ) from None
