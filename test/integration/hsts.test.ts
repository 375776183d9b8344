/** Strict-Transport-Security only over https (issue 11): development answers on plain http. */
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";

describe("HSTS", () => {
  it("is sent on https answers and not on plain http ones", async () => {
    const secure = await exports.default.fetch(new Request("https://signet.test/healthz"));
    expect(secure.headers.get("Strict-Transport-Security")).toBe("max-age=15552000; includeSubDomains");
    const plain = await exports.default.fetch(new Request("http://127.0.0.1:8787/healthz"));
    expect(plain.headers.get("Strict-Transport-Security")).toBeNull();
    // The other secure headers stay on both.
    expect(plain.headers.get("X-Content-Type-Options")).toBe("nosniff");
    const problem = await exports.default.fetch(new Request("http://127.0.0.1:8787/no-such-route"));
    expect(problem.headers.get("Strict-Transport-Security")).toBeNull();
  });
});
