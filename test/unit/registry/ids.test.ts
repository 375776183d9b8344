import { describe, expect, it } from "vitest";
import { isReservedPath, joinTokenAgentId, joinTokenHash, newEntryId, newJoinToken, parseEntryId, parseJoinToken, serverIdOf } from "../../../src/lib/registry/ids";
import type { TrustDomain } from "../../../src/lib/spiffe/id";

const TD = "example.org" as TrustDomain;

describe("registry ids", () => {
  it("entry ids and join tokens are random UUIDs, as SPIRE makes them", () => {
    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
    expect(newEntryId()).toMatch(uuid);
    expect(newJoinToken()).toMatch(uuid);
    expect(newEntryId()).not.toBe(newEntryId());
    expect(parseEntryId(newEntryId()).ok).toBe(true);
    expect(parseJoinToken(newJoinToken()).ok).toBe(true);
  });

  it.each(["", "a b", "a/b", "x".repeat(256), "é", "id\n"])("entry id %j is refused", (id) => {
    expect(parseEntryId(id)).toMatchObject({ ok: false, error: { reason: "invalid_entry_id" } });
  });

  it.each(["short", ".aaaaaaaaaaaaaaaaaa", "..", "a".repeat(129), "aaaaaaaaaaaaaaa/b", "aaaaaaaaaaaaaaaa b"])("join token %j is refused", (t) => {
    expect(parseJoinToken(t)).toMatchObject({ ok: false, error: { reason: "invalid_join_token" } });
  });

  it("the reserved IDs", () => {
    expect(serverIdOf(TD)).toBe("spiffe://example.org/signet/server");
    expect(joinTokenAgentId(TD, "0123456789abcdef")).toBe("spiffe://example.org/signet/agent/join_token/0123456789abcdef");
    expect(isReservedPath("/signet")).toBe(true);
    expect(isReservedPath("/signet/server")).toBe(true);
    expect(isReservedPath("/signets")).toBe(false);
    expect(isReservedPath("/x/signet")).toBe(false);
  });

  it("a join token is stored as the hex SHA-256 of its text", async () => {
    expect(await joinTokenHash("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });
});
