/**
 * How a digest lands in a fixed-size evidence field (REPORT_DATA, HOST_DATA, MRCONFIGID): Trustee's
 * `regularize_data` zero-pads a shorter digest and truncates a longer one to the field's size, and
 * the verifier compares the field with that byte for byte. One rule for runtime data and init-data.
 */

/** `data` zero-padded or truncated to `size` bytes. */
export function regularize(data: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(size);
  out.set(data.subarray(0, size));
  return out;
}

/**
 * True when `field` equals `digest` regularized to the field's size (e.g. sha384 ‖ 16 zeros in 64
 * bytes). An empty field or digest binds nothing.
 */
export function fieldBindsDigest(field: Uint8Array, digest: Uint8Array): boolean {
  if (field.length === 0 || digest.length === 0) return false;
  const want = regularize(digest, field.length);
  let diff = 0;
  for (let i = 0; i < field.length; i++) diff |= field[i]! ^ want[i]!;
  return diff === 0;
}
