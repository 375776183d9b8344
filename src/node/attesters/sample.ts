/**
 * The sample attester (development without hardware): exactly what guest-components' sample attester
 * sends, `{"svn":"1","report_data":"<std base64 of the digest>"}`, the digest not padded to 64 bytes
 * (specs/kbs-protocol.md §3.2). Anyone can make this evidence: a key broker accepts it only in its
 * permissive profile.
 */
import { toBase64 } from "../../lib/encoding";
import type { Attester } from "../../lib/kbs/guest";
import { ok } from "../../lib/result";

export const sampleAttester: Attester = {
  tee: "sample",
  evidence: async (reportData) => ok({ svn: "1", report_data: toBase64(reportData) }),
};
