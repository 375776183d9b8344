/** src/agent/memory.ts: returning freed heap pages to the kernel after a signing burst. */
import { describe, expect, it } from "vitest";
import { releaseFreedMemory } from "../../../src/agent/memory";

describe("releaseFreedMemory", () => {
  it("asks glibc's malloc_trim on Linux and never throws", () => {
    expect(releaseFreedMemory()).toBe(process.platform === "linux");
    expect(releaseFreedMemory()).toBe(process.platform === "linux");
  });
});
