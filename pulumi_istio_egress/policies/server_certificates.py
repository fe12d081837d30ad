"""verify-server-certificate: TLS without verification is open to interception."""

from __future__ import annotations

from collections.abc import Iterator

from ..findings import Finding, Manifest
from .objects import destination_rule_tls, kind_of
from .rule import Config, ResourceRule


def check(manifest: Manifest, config: Config) -> Iterator[Finding]:
    if kind_of(manifest) != "DestinationRule":
        return
    for path, tls in destination_rule_tls(manifest):
        if tls.get("insecureSkipVerify") is True:
            yield Finding(f"{path}.insecureSkipVerify", True, "the server certificate is not verified",
                          "remove insecureSkipVerify; give a CA with credentialName if the host's CA is private")


RULE = ResourceRule(
    name="verify-server-certificate",
    description="No DestinationRule sets insecureSkipVerify: true.",
    severity="high",
    enforcement="mandatory",
    check=check,
)
