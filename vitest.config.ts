import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

// Fixed secrets for the Workers test pool only (never used outside tests).
const TEST_BINDINGS = {
  SIGNET_ADMIN_TOKEN: "test-admin-token-0123456789abcdef0123456789abcdef",
  SIGNET_KEK: "3q2-7wABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhs",
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
        },
      },
      {
        plugins: [
          cloudflareTest({
            main: "./src/workers/index.ts",
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: { bindings: TEST_BINDINGS },
          }),
        ],
        test: {
          name: "workers",
          include: ["test/integration/**/*.test.ts", "test/conformance/**/*.test.ts"],
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
