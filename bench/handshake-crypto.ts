/**
 * The ceiling of the sample handshake for scripts/bench.mjs (run in workerd): the raw WebCrypto work
 * the key broker does for one `auth` + `attest` + `resource`, and nothing else. Per handshake:
 *
 *   /attest    SHA-256 of the evidence (the audit digest), SHA-384 of the JCS runtime data (the
 *              binding), one ECDSA P-256 sign (the EAR token, in the CA object)
 *   /resource  one ECDSA P-256 verify (the token), the resource opened under the KEK (AES-256-GCM
 *              decrypt, in the Registry), and the JWE: import the TEE's P-256 point, a fresh
 *              ephemeral P-256 key and its JWK, ECDH, the Concat KDF (SHA-256), AES-KW of a fresh
 *              CEK, AES-256-GCM of the resource
 *
 * Each entry runs `n` of them and returns n. The inputs are made once; the resource is the bench's
 * 32-byte secret. The guest's half (its key pair, hash and decrypt) runs in Node, not here.
 */
import { utf8 } from "../src/lib/encoding";

const ES256 = { name: "ECDSA", hash: "SHA-256" } as const;
const ECDH_P256 = { name: "ECDH", namedCurve: "P-256" } as const;

interface Inputs {
  readonly signing: CryptoKeyPair;
  readonly teePoint: Uint8Array<ArrayBuffer>;
  readonly kek: CryptoKey;
  readonly sealed: Uint8Array<ArrayBuffer>;
  readonly sealIv: Uint8Array<ArrayBuffer>;
  readonly evidence: Uint8Array<ArrayBuffer>;
  readonly runtimeData: Uint8Array<ArrayBuffer>;
  readonly token: Uint8Array<ArrayBuffer>;
}

const text = (s: string): Uint8Array<ArrayBuffer> => utf8(s);

let inputs: Promise<Inputs> | undefined;
function setup(): Promise<Inputs> {
  inputs ??= (async (): Promise<Inputs> => {
    const signing = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"])) as CryptoKeyPair;
    const tee = (await crypto.subtle.generateKey(ECDH_P256, true, ["deriveBits"])) as CryptoKeyPair;
    const teePoint = new Uint8Array((await crypto.subtle.exportKey("raw", tee.publicKey)) as ArrayBuffer);
    const kek = await crypto.subtle.importKey("raw", crypto.getRandomValues(new Uint8Array(32)), { name: "AES-GCM" }, false, ["encrypt", "decrypt"]);
    const sealIv = crypto.getRandomValues(new Uint8Array(12));
    const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv: sealIv, additionalData: text("resource:bench/key/1") }, kek, crypto.getRandomValues(new Uint8Array(32))));
    const evidence = text(JSON.stringify({ svn: "1", report_data: "A".repeat(64) }));
    const runtimeData = text(JSON.stringify({ nonce: "A".repeat(44), "tee-pubkey": { alg: "ECDH-ES+A256KW", crv: "P-256", kty: "EC", x: "A".repeat(43), y: "A".repeat(43) } }));
    // An EAR token's signing input is ~1.5 KB for the sample TEE.
    const token = text("e".repeat(1500));
    return { signing, teePoint, kek, sealed, sealIv, evidence, runtimeData, token };
  })();
  return inputs;
}

async function oneHandshake(s: Inputs): Promise<void> {
  // /attest
  await crypto.subtle.digest("SHA-256", s.evidence);
  await crypto.subtle.digest("SHA-384", s.runtimeData);
  const signature = await crypto.subtle.sign(ES256, s.signing.privateKey, s.token);
  // /resource: the token, the stored resource, the JWE.
  if (!(await crypto.subtle.verify(ES256, s.signing.publicKey, signature, s.token))) throw new Error("token signature does not verify");
  const resource = new Uint8Array(await crypto.subtle.decrypt({ name: "AES-GCM", iv: s.sealIv, additionalData: text("resource:bench/key/1") }, s.kek, s.sealed));
  const recipient = await crypto.subtle.importKey("raw", s.teePoint, ECDH_P256, false, []);
  const ephemeral = (await crypto.subtle.generateKey(ECDH_P256, false, ["deriveBits"])) as CryptoKeyPair;
  await crypto.subtle.exportKey("jwk", ephemeral.publicKey);
  // WebCrypto names the peer key `public`; workerd's generated types spell it `$public` (as lib/kbs/key-wrap.ts).
  const ecdh = { name: "ECDH", public: recipient } as unknown as Parameters<SubtleCrypto["deriveBits"]>[0];
  const z = new Uint8Array(await crypto.subtle.deriveBits(ecdh, ephemeral.privateKey, 256));
  const otherInfo = new Uint8Array(4 + z.length + 40);
  otherInfo.set(z, 4);
  const kek = await crypto.subtle.importKey("raw", await crypto.subtle.digest("SHA-256", otherInfo), { name: "AES-KW" }, false, ["wrapKey"]);
  const cek = await crypto.subtle.importKey("raw", crypto.getRandomValues(new Uint8Array(32)), { name: "AES-GCM" }, true, ["encrypt"]);
  await crypto.subtle.wrapKey("raw", cek, kek, { name: "AES-KW" });
  await crypto.subtle.encrypt({ name: "AES-GCM", iv: crypto.getRandomValues(new Uint8Array(12)), additionalData: text("x".repeat(180)) }, cek, resource);
}

export const handshakeCryptoBench: Record<string, (n: number) => Promise<number>> = {
  async crypto(n) {
    const s = await setup();
    for (let i = 0; i < n; i++) await oneHandshake(s);
    return n;
  },
};
