import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules/", "dist/", ".wrangler/", "worker-configuration.d.ts", "migrations/**/*.js"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/consistent-type-imports": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    },
  },
  {
    // src/lib is pure and runtime-agnostic (STYLE.md): no runtime, framework or storage imports.
    files: ["src/lib/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            { group: ["cloudflare:*"], message: "src/lib must stay runtime-agnostic." },
            { group: ["node:*"], message: "src/lib must stay runtime-agnostic." },
            { group: ["hono", "hono/*"], message: "HTTP belongs in src/workers." },
            { group: ["drizzle-orm", "drizzle-orm/*"], message: "State belongs in src/durable." },
          ],
        },
      ],
    },
  },
  {
    files: ["scripts/**/*.mjs", "bin/**/*.mjs"],
    languageOptions: { globals: { process: "readonly", console: "readonly", URL: "readonly", setTimeout: "readonly", clearTimeout: "readonly", fetch: "readonly" } },
  },
);
