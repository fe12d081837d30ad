"""The `istio-egress` plugin: serves EgressRoute and EgressLockdown to every Pulumi language.

The CLI runs `python <this directory> <engine address> [flags]` and reads the gRPC port from the
first line of stdout. This is what `component_provider_host([EgressRoute, EgressLockdown], "istio-egress",
version=...)` does, with our ComponentProvider subclass (clear per-field input errors) in its place.
"""

import sys

from pulumi.provider import main

from pulumi_istio_egress.provider import component_provider

if __name__ == "__main__":
    main(component_provider(), sys.argv[1:])
