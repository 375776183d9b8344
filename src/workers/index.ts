/** Worker entry: the HTTP app, and the Durable Object classes wrangler binds. */
import { createApp } from "./app";

export { CertificateAuthority } from "../durable/ca";
export { CollateralStore } from "../durable/collateral";
export { AuditLog } from "../durable/audit";
export { AttestationSession } from "../durable/session";
export { Registry } from "../durable/registry";

const app = createApp();

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<Env>;
