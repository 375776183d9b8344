/** Worker entry: the HTTP app, and the Durable Object classes wrangler binds. */
import { createApp } from "./app";

export { CertificateAuthority } from "../durable/ca";
export { CollateralStore } from "../durable/collateral";

const app = createApp();

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<Env>;
