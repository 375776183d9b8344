/**
 * Lowercase hex for the verifiers' claims: `Uint8Array.prototype.toHex` where the runtime has it
 * (workerd; Node 20 does not), else encoding.ts's `toHex`. The same text either way. Claims are
 * built from a dozen or more byte fields on every verification and serialized into the token right
 * after: the native strings are flat, where the JavaScript ones are ropes the serializer flattens.
 */
import { toHex } from "../encoding";

type NativeToHex = (this: Uint8Array) => string;
const nativeToHex = (Uint8Array.prototype as unknown as { toHex?: NativeToHex }).toHex;

export const claimHex: (bytes: Uint8Array) => string = nativeToHex ? (bytes) => nativeToHex.call(bytes) : toHex;
