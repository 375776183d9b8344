/** Reading an HTTP body from a peer we do not control, never past a bound. */

/**
 * The body's bytes, or undefined when it is (or says it is) larger than `maxBytes`: counted as it
 * streams, so a missing or false Content-Length cannot bypass the bound; the rest is cancelled.
 * No body reads as empty. A stream that breaks off rejects, as the body's reader does.
 */
export async function readBodyLimited(response: Response, maxBytes: number): Promise<Uint8Array | undefined> {
  const declared = Number(response.headers.get("Content-Length") ?? "0");
  if (!response.body) return new Uint8Array(0);
  if (declared > maxBytes) {
    await response.body.cancel();
    return undefined;
  }
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      return undefined;
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}
