import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { readFileSync } from "node:fs";
import { defineConfig } from "vitest/config";

/**
 * Fixture files the Workers-pool tests need (workerd has no file system): base64 by relative path,
 * handed to the tests as the TEST_FIXTURES binding.
 */
const WORKERS_FIXTURES = [
  "snp/gsg-milan-v2/vcek.der",
  "snp/gsg-milan-v2/report.bin",
  "snp/crl/amd-milan-crl.der",
  "snp/crl/amd-genoa-crl.der",
  "tdx/automata-v5-td15-90c06f-alibaba/quote.bin",
  "tdx/automata-v5-td15-90c06f-alibaba/tcb_info.json",
  "tdx/automata-v5-td15-90c06f-alibaba/tcb_info_issuer_chain.pem",
  "tdx/automata-v5-td15-90c06f-alibaba/qe_identity.json",
  "tdx/automata-v5-td15-90c06f-alibaba/qe_identity_issuer_chain.pem",
  "tdx/automata-v5-td15-90c06f-alibaba/pck_crl.der",
  "tdx/automata-v5-td15-90c06f-alibaba/pck_crl_issuer_chain.pem",
  "tdx/automata-v5-td15-90c06f-alibaba/root_ca_crl.der",
  "tdx/negative/automata-v5-td15-90c06f-alibaba--wrong-fmspc-tcbinfo/tcb_info.json",
  "x509pop/agent.pem",
  "x509pop/agent.key",
];
const TEST_FIXTURES = Object.fromEntries(WORKERS_FIXTURES.map((f) => [f, readFileSync(`test/fixtures/${f}`).toString("base64")]));

// Fixed secrets for the Workers test pool only (never used outside tests).
const TEST_BINDINGS = {
  SIGNET_ADMIN_TOKEN: "test-admin-token-0123456789abcdef0123456789abcdef",
  SIGNET_KEK: "3q2-7wABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhs",
  // The x509pop trust anchor (test/fixtures/x509pop/README.md).
  X509POP_CA_BUNDLE: readFileSync("test/fixtures/x509pop/ca.pem", "utf8"),
};

export default defineConfig({
  test: {
    maxWorkers: 2,
    projects: [
      {
        test: {
          name: "unit",
          environment: "node",
          include: ["test/unit/**/*.test.ts"],
          // Byte sweeps and 100,000-mutation fuzzing take seconds; the 2 shared cores may be busy.
          testTimeout: 30_000,
        },
      },
      {
        plugins: [
          cloudflareTest({
            main: "./src/workers/index.ts",
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: { bindings: { ...TEST_BINDINGS, TEST_FIXTURES } },
          }),
        ],
        test: {
          name: "workers",
          include: ["test/integration/**/*.test.ts", "test/conformance/**/*.test.ts"],
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: "e2e",
          environment: "node",
          include: ["test/e2e/**/*.test.ts"],
          globalSetup: ["test/e2e/global-setup.ts"],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          fileParallelism: false,
          // After the other projects: it starts its own wrangler dev, and the machine has 2 cores.
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
