"""The istio-egress policy pack. `pulumi preview --policy-pack policy`. Only assembles: rules live in
pulumi_istio_egress.policies. The constructor serves the pack and never returns."""

from pulumi_policy import PolicyPack

from pulumi_istio_egress.policies.pack import PACK_NAME, policies
from pulumi_istio_egress.policies.sdk import tune_gc

tune_gc()
PolicyPack(name=PACK_NAME, policies=policies())
