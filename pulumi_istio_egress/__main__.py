"""``python -m pulumi_istio_egress``: the same as the ``pulumi-istio-egress`` command."""

from .cli import main

raise SystemExit(main())
