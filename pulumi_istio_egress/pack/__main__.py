"""Entry point Pulumi's policy runtime runs (``python -m pulumi.policy <engine> <this directory>``)."""

from pulumi_istio_egress.pack import serve

serve()
