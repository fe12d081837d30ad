"""The offline command line (``pulumi-istio-egress``): ``main`` parses arguments and runs commands,
``render`` runs Pulumi programs under a mock engine, ``pack_client`` drives a policy pack over the
Analyzer protocol, ``report`` prints what it found. Nothing here is imported by the component."""
