"""``python -m pulumi_istio_egress``: the same as the ``pulumi-istio-egress`` command."""

from .cli.main import main

raise SystemExit(main())
