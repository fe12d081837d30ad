// The SDK that `pulumi package add ../../provider` generates into sdks/istio-egress (see README.md).
import * as istioEgress from "@pulumi/istio-egress";

// SIMPLE origination: apps call http://api.github.com; the sidecar sends it over mTLS to the egress
// gateway, which originates TLS to GitHub and checks its certificate. Only the ci namespace may use it.
const github = new istioEgress.EgressRoute("github", {
    host: "api.github.com",
    tlsMode: "SIMPLE", // TlsMode values are plain strings: "PASSTHROUGH", "SIMPLE" or "MUTUAL"
    clientNamespaces: ["ci"],
    subjectAltNames: ["api.github.com"],
    authorizationPolicy: true,
});

// SIMPLE termination: apps keep calling https://hooks.slack.com; the gateway terminates their TLS with
// the certificate in the Secret istio-system/egress-inspection-cert and opens its own TLS to Slack.
const slack = new istioEgress.EgressRoute("slack", {
    host: "hooks.slack.com",
    tlsMode: "SIMPLE",
    clientNamespaces: ["alerts"],
    terminateCredentialName: "egress-inspection-cert",
});

export const githubObjects = github.objects;
export const slackObjects = slack.objects;
