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
  // The two Node programs share src/lib and src/node (Node-only helpers: attesters, files), never each other.
  ...[
    { files: ["src/agent/**/*.ts"], not: ["cli"] },
    { files: ["src/cli/**/*.ts"], not: ["agent"] },
    { files: ["src/node/**/*.ts"], not: ["cli", "agent"] },
  ].map(({ files, not }) => ({
    files,
    rules: { "no-restricted-imports": ["error", { patterns: not.map((dir) => ({ group: [`**/${dir}/*`, `**/${dir}`], message: "Shared Node code lives in src/node." })) }] },
  })),
  {
    // njs modules (nginx's JavaScript): njs globals, and ES5-style catch clauses njs accepts.
    files: ["examples/nginx/**/*.js"],
    languageOptions: { sourceType: "module", globals: { Buffer: "readonly", njs: "readonly", ngx: "readonly" } },
    rules: { "@typescript-eslint/no-unused-vars": ["error", { caughtErrors: "none" }] },
  },
  {
    files: ["scripts/**/*.mjs", "bin/**/*.mjs"],
    languageOptions: { globals: { process: "readonly", console: "readonly", URL: "readonly", setTimeout: "readonly", clearTimeout: "readonly", fetch: "readonly" } },
  },
);
