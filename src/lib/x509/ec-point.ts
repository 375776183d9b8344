/**
 * Public-key validation for the NIST curves without a WebCrypto import (which costs as much as a
 * signature in workerd): an uncompressed point (0x04 ‖ X ‖ Y) is valid when 0 ≤ X, Y < p and
 * Y² ≡ X³ − 3X + b (mod p). P-256 and P-384 have cofactor 1, so this is the full validation of
 * NIST SP 800-56A §5.6.2.3.4 (the point at infinity has no uncompressed encoding).
 * Curve constants: SEC 2 v2 §2.4.2 (secp256r1) and §2.5.1 (secp384r1).
 */
import type { NamedCurve } from "./algorithms";

interface CurveParams {
  readonly p: bigint;
  readonly b: bigint;
  readonly size: number;
}

const CURVES: Record<NamedCurve, CurveParams> = {
  "P-256": {
    p: 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn,
    b: 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn,
    size: 32,
  },
  "P-384": {
    p: 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffffn,
    b: 0xb3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aefn,
    size: 48,
  },
};

function toBigInt(bytes: Uint8Array, start: number, end: number): bigint {
  let hex = "0x";
  for (let i = start; i < end; i++) {
    const b = bytes[i]!;
    hex += (b < 16 ? "0" : "") + b.toString(16);
  }
  return BigInt(hex);
}

/** True when `point` is an uncompressed point on `curve`, with coordinates in range. */
export function isValidUncompressedPoint(curve: NamedCurve, point: Uint8Array): boolean {
  const { p, b, size } = CURVES[curve];
  if (point.length !== 1 + 2 * size || point[0] !== 0x04) return false;
  const x = toBigInt(point, 1, 1 + size);
  const y = toBigInt(point, 1 + size, 1 + 2 * size);
  if (x >= p || y >= p) return false;
  const lhs = (y * y) % p;
  const rhs = (((((x * x) % p) * x) % p) - 3n * x + b) % p;
  return lhs === (rhs < 0n ? rhs + p : rhs);
}
