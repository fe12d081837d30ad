"""The istio-egress policy pack, from a clone: `pulumi preview --policy-pack policy`. The pack itself
ships in the package (pulumi_istio_egress/pack, `pulumi-istio-egress pack-dir`); this only serves it."""

from pulumi_istio_egress.pack import serve

serve()
