/** `signet federation create`: a federation relationship, with spire-server's flags. */
import { err } from "../../lib/result";
import { defineCommand } from "../command";
import { oneLine, usageError } from "../failure";
import { FEDERATION_PATH, outputFlag, reportRefresh, trustDomainFlag } from "./federation-common";

const NAME = "federation create";

const USAGE = `Usage: signet federation create --trust-domain TD --bundle-endpoint-url URL [--bundle-endpoint-profile https_web] [--output text|json]

Federate with another trust domain: the server fetches the peer's SPIFFE bundle from its bundle
endpoint now and then as the peer's refresh hint says, and hands it to the workloads whose entries
federate with TD. The relationship is created even if the first fetch fails (a warning says why).

Options:
  --trust-domain TD              the peer's trust domain, e.g. other.example (required; never inferred from the URL)
  --bundle-endpoint-url URL      where the peer serves its bundle, e.g. https://signet.other.example/bundle (required)
  --bundle-endpoint-profile P    https_web (the default, and the only profile Signet supports: the endpoint's
                                 certificate from a public CA; https_spiffe is refused)
  --output text|json             text, or the server's JSON (default text)
  --server URL                   the Signet server (env SIGNET_SERVER; default http://127.0.0.1:8787)
  -h, --help                     show this help

The admin token is read from SIGNET_ADMIN_TOKEN, else from .dev.vars in the current directory.
Exit codes: 0 created, 1 the server refused (it exists, a bad URL, our own trust domain), 2 usage error, 3 network or bad answer.
`;

export const federationCreateCommand = defineCommand({
  name: NAME,
  summary: "federate with another trust domain (fetch its bundle)",
  usage: USAGE,
  flags: { "trust-domain": { kind: "string" }, "bundle-endpoint-url": { kind: "string" }, "bundle-endpoint-profile": { kind: "string" }, output: { kind: "string" } },
  async run(flags, ctx) {
    const output = outputFlag(flags.output, NAME);
    if (!output.ok) return output;
    const td = trustDomainFlag(flags["trust-domain"], NAME);
    if (!td.ok) return td;
    const url = flags["bundle-endpoint-url"];
    if (url === undefined) return err(usageError("missing required flag --bundle-endpoint-url", NAME));
    const profile = flags["bundle-endpoint-profile"] ?? "https_web";
    if (profile === "https_spiffe") {
      return err(usageError("--bundle-endpoint-profile https_spiffe is not supported: Signet federates over https_web only (the bundle endpoint's certificate from a public CA, no bootstrap bundle)", NAME));
    }
    if (profile !== "https_web") return err(usageError(`--bundle-endpoint-profile must be https_web, not '${oneLine(profile, 60)}'`, NAME));
    const token = await ctx.adminToken();
    if (!token.ok) return token;
    const body = { trust_domain: td.value, bundle_endpoint_url: url, bundle_endpoint_profile: profile };
    const answer = await ctx.client.requestJson({ method: "POST", path: FEDERATION_PATH, token: token.value, body });
    if (!answer.ok) return answer;
    return reportRefresh(ctx, answer.value, FEDERATION_PATH, output.value, false);
  },
});
