import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KEY_TYPES, signatureAlgorithmIdentifier, type KeyType } from "../../../src/lib/x509/algorithms";
import {
  assembleCertificate,
  caSubjectName,
  createLeafEncoder,
  encodeCaTbs,
  signTbs,
  signetName,
  x509SignatureValue,
  type LeafTbsInput,
} from "../../../src/lib/x509/certificate";
import { readSingle, type DerReader } from "../../../src/lib/x509/der-reader";
import { encodeUnsignedInteger } from "../../../src/lib/x509/der-writer";
import { ALL_KEY_TYPES, hex, openssl, tempDir, testCa, testKey, TRUST_DOMAIN, x509, type TestCa } from "./x509-test-kit";

const OIDS = {
  basicConstraints: "2.5.29.19",
  keyUsage: "2.5.29.15",
  extKeyUsage: "2.5.29.37",
  subjectKeyId: "2.5.29.14",
  authorityKeyId: "2.5.29.35",
  subjectAltName: "2.5.29.17",
};
const SPIFFE_ID = "spiffe://example.org/ns/default/sa/web";
const DNS = ["a.example.org", "b.example.org"];
const secondOf = (ms: number) => Math.floor(ms / 1000) * 1000;

function expectedAlgorithm(keyType: KeyType): object {
  return KEY_TYPES[keyType].kind === "ec"
    ? { name: "ECDSA", hash: { name: KEY_TYPES[keyType].hash } }
    : { name: "RSASSA-PKCS1-v1_5", hash: { name: "SHA-256" } };
}

/** Serial as @peculiar/x509 shows it: the magnitude in hex, without the 0x00 sign octet. */
function serialHex(serial: Uint8Array): string {
  return hex(encodeUnsignedInteger(serial).subarray(2)).replace(/^00/, "");
}

/** The raw TBSCertificate elements, to check encodings peculiar normalises away. */
function tbsElements(der: Uint8Array): Uint8Array[] {
  const cert = readSingle(der, 0x30, "Certificate");
  if (!cert.ok) throw new Error(cert.error.reason);
  const outer = cert.value.reader.enter(cert.value.tlv);
  const tbs = outer.next();
  if (!tbs.ok) throw new Error(tbs.error.reason);
  const r: DerReader = outer.enter(tbs.value);
  const out: Uint8Array[] = [];
  while (!r.done) {
    const e = r.next();
    if (!e.ok) throw new Error(e.error.reason);
    out.push(r.raw(e.value));
  }
  return out;
}

async function issueLeaf(ca: TestCa, leafType: KeyType, overrides: Partial<LeafTbsInput> = {}): Promise<Uint8Array> {
  const leaf = await testKey(leafType, "leaf");
  const encode = createLeafEncoder({ issuerName: ca.name, issuerKeyType: ca.key.keyType, issuerKeyId: ca.key.keyId });
  const now = Date.now();
  const tbs = encode({
    serial: crypto.getRandomValues(new Uint8Array(16)),
    notBefore: now - 10_000,
    notAfter: now + 3600_000,
    spiffeId: SPIFFE_ID,
    dnsNames: DNS,
    spki: leaf.spki,
    keyKind: leaf.info.kind,
    subjectKeyId: leaf.keyId,
    ...overrides,
  });
  return signTbs(tbs, ca.key.pair.privateKey, ca.key.keyType);
}

describe.each(ALL_KEY_TYPES)("CA key %s", (caType) => {
  let ca: TestCa;
  let caCert: x509.X509Certificate;
  let dir: ReturnType<typeof tempDir>;

  beforeAll(async () => {
    ca = await testCa(caType);
    caCert = new x509.X509Certificate(ca.der);
    dir = tempDir();
    dir.pem("ca.pem", "CERTIFICATE", ca.der);
  });
  afterAll(() => dir.dispose());

  it("CA certificate: every field and extension, as @peculiar/x509 reads them", async () => {
    const cn = `${TRUST_DOMAIN} CA ${hex(ca.serial.subarray(0, 8))}`;
    expect(tbsElements(ca.der)[0]).toEqual(Uint8Array.of(0xa0, 0x03, 0x02, 0x01, 0x02)); // v3
    expect(caCert.serialNumber).toBe(serialHex(ca.serial));
    expect(caCert.subject).toBe(`C=US, O=Signet, CN=${cn}`);
    expect(caCert.issuer).toBe(caCert.subject);
    expect(caCert.notBefore.getTime()).toBe(secondOf(ca.notBefore));
    expect(caCert.notAfter.getTime()).toBe(secondOf(ca.notAfter));
    expect(caCert.signatureAlgorithm).toEqual(expectedAlgorithm(caType));
    expect(hex(caCert.publicKey.rawData)).toBe(hex(ca.key.spki));
    expect(caCert.extensions.map((e) => [e.type, e.critical])).toEqual([
      [OIDS.basicConstraints, true],
      [OIDS.keyUsage, true],
      [OIDS.subjectKeyId, false],
      [OIDS.authorityKeyId, false],
      [OIDS.subjectAltName, false],
    ]);
    const bc = caCert.getExtension(x509.BasicConstraintsExtension)!;
    expect([bc.ca, bc.pathLength]).toEqual([true, undefined]);
    expect(caCert.getExtension(x509.KeyUsagesExtension)!.usages).toBe(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign);
    expect(caCert.getExtension(x509.SubjectKeyIdentifierExtension)!.keyId).toBe(hex(ca.key.keyId));
    expect(caCert.getExtension(x509.AuthorityKeyIdentifierExtension)!.keyId).toBe(hex(ca.key.keyId));
    expect(caCert.getExtension(x509.SubjectAlternativeNameExtension)!.names.toJSON()).toEqual([{ type: "url", value: "spiffe://example.org" }]);
    expect(await caCert.isSelfSigned()).toBe(true);
    expect(hex(caSubjectName(TRUST_DOMAIN, ca.serial))).toBe(hex(tbsElements(ca.der)[5]!));
  });

  it("CA certificate: openssl -text and a strict self-verify", () => {
    const text = openssl(["x509", "-noout", "-text", "-in", "ca.pem"], dir.path);
    expect(text).toContain("Version: 3 (0x2)");
    expect(text).toMatch(/Basic Constraints: critical\s+CA:TRUE\n/);
    expect(text).toMatch(/Key Usage: critical\s+Certificate Sign, CRL Sign\n/);
    expect(text).toMatch(/Subject Alternative Name: \s*\n\s+URI:spiffe:\/\/example\.org\n/);
    expect(text).toContain(`Subject: C = US, O = Signet, CN = ${TRUST_DOMAIN} CA `);
    expect(openssl(["verify", "-x509_strict", "-CAfile", "ca.pem", "ca.pem"], dir.path).trim()).toBe("ca.pem: OK");
  });

  it.each(ALL_KEY_TYPES)("leaf key %s: every field and extension, then openssl verify -x509_strict for sslclient and sslserver", async (leafType) => {
    const leafKey = await testKey(leafType, "leaf");
    const der = await issueLeaf(ca, leafType);
    const cert = new x509.X509Certificate(der);
    const elements = tbsElements(der);
    expect(elements[0]).toEqual(Uint8Array.of(0xa0, 0x03, 0x02, 0x01, 0x02));
    expect(elements[1]![0]).toBe(0x02);
    expect(elements[1]![2]! & 0x80).toBe(0); // positive serial
    expect(cert.subject).toBe("C=US, O=Signet, CN=a.example.org");
    expect(cert.issuer).toBe(caCert.subject);
    expect(cert.signatureAlgorithm).toEqual(expectedAlgorithm(caType));
    expect(hex(cert.publicKey.rawData)).toBe(hex(leafKey.spki));
    expect(cert.extensions.map((e) => [e.type, e.critical])).toEqual([
      [OIDS.basicConstraints, true],
      [OIDS.keyUsage, true],
      [OIDS.extKeyUsage, false],
      [OIDS.authorityKeyId, false],
      [OIDS.subjectKeyId, false],
      [OIDS.subjectAltName, false],
    ]);
    const bc = cert.getExtension(x509.BasicConstraintsExtension)!;
    expect([bc.ca, bc.pathLength]).toEqual([false, undefined]);
    const ku = x509.KeyUsageFlags;
    expect(cert.getExtension(x509.KeyUsagesExtension)!.usages).toBe(
      leafType === "rsa-2048" ? ku.digitalSignature | ku.keyEncipherment : ku.digitalSignature | ku.keyAgreement,
    );
    expect(cert.getExtension(x509.ExtendedKeyUsageExtension)!.usages).toEqual([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]);
    expect(cert.getExtension(x509.SubjectKeyIdentifierExtension)!.keyId).toBe(hex(leafKey.keyId));
    expect(cert.getExtension(x509.AuthorityKeyIdentifierExtension)!.keyId).toBe(hex(ca.key.keyId));
    expect(cert.getExtension(x509.SubjectAlternativeNameExtension)!.names.toJSON()).toEqual([
      { type: "url", value: SPIFFE_ID },
      { type: "dns", value: "a.example.org" },
      { type: "dns", value: "b.example.org" },
    ]);
    expect(await cert.verify({ publicKey: caCert.publicKey, signatureOnly: true })).toBe(true);

    dir.pem(`leaf-${leafType}.pem`, "CERTIFICATE", der);
    const text = openssl(["x509", "-noout", "-text", "-in", `leaf-${leafType}.pem`], dir.path);
    expect(text).toMatch(/Basic Constraints: critical\s+CA:FALSE\n/);
    expect(text).toMatch(leafType === "rsa-2048" ? /Key Usage: critical\s+Digital Signature, Key Encipherment\n/ : /Key Usage: critical\s+Digital Signature, Key Agreement\n/);
    expect(text).toMatch(/Extended Key Usage: \s*\n\s+TLS Web Server Authentication, TLS Web Client Authentication\n/);
    expect(text).toContain(`URI:${SPIFFE_ID}, DNS:a.example.org, DNS:b.example.org`);
    for (const purpose of ["sslclient", "sslserver"]) {
      const out = openssl(["verify", "-x509_strict", "-purpose", purpose, "-CAfile", "ca.pem", `leaf-${leafType}.pem`], dir.path);
      expect(out.trim()).toBe(`leaf-${leafType}.pem: OK`);
    }
  });
});

describe("leaf encoder details", () => {
  let ca: TestCa;
  let dir: ReturnType<typeof tempDir>;
  beforeAll(async () => {
    ca = await testCa("ec-p256");
    dir = tempDir();
    dir.pem("ca.pem", "CERTIFICATE", ca.der);
  });
  afterAll(() => dir.dispose());

  it("openssl rejects a leaf under a different CA (the verify checks are live)", async () => {
    const other = await testCa("ec-p384");
    dir.pem("other.pem", "CERTIFICATE", await issueLeaf(other, "ec-p256"));
    expect(() => openssl(["verify", "-x509_strict", "-CAfile", "ca.pem", "other.pem"], dir.path)).toThrow();
  });

  it.each([
    ["2049-12-31T23:59:59Z", 0x17, "Dec 31 23:59:59 2049 GMT"],
    ["2050-01-01T00:00:00Z", 0x18, "Jan  1 00:00:00 2050 GMT"],
  ])("notAfter %s uses tag %i and still verifies", async (iso, tag, shown) => {
    const notAfter = Date.parse(iso);
    const der = await issueLeaf(ca, "ec-p256", { notAfter });
    const validity = tbsElements(der)[4]!;
    const nb = validity[2 + 1]! + 2;
    expect(validity[2 + nb]).toBe(tag);
    expect(new x509.X509Certificate(der).notAfter.getTime()).toBe(notAfter);
    dir.pem("time.pem", "CERTIFICATE", der);
    expect(openssl(["x509", "-noout", "-enddate", "-in", "time.pem"], dir.path).trim()).toBe(`notAfter=${shown}`);
    expect(openssl(["verify", "-x509_strict", "-CAfile", "ca.pem", "time.pem"], dir.path).trim()).toBe("time.pem: OK");
  });

  it("truncates validity to the second", async () => {
    const notBefore = Date.parse("2030-06-01T12:00:00.999Z");
    const cert = new x509.X509Certificate(await issueLeaf(ca, "ec-p256", { notBefore, notAfter: notBefore + 1500 }));
    expect(cert.notBefore.toISOString()).toBe("2030-06-01T12:00:00.000Z");
    expect(cert.notAfter.toISOString()).toBe("2030-06-01T12:00:02.000Z");
  });

  it.each([
    ["top bit set", "ff" + "11".repeat(15), "00ff" + "11".repeat(15)],
    ["leading zero bytes", "0000" + "7f".repeat(14), "7f".repeat(14)],
    ["leading zero then high bit", "00" + "80".repeat(15), "00" + "80".repeat(15)],
    ["20 octets", "7f".repeat(20), "7f".repeat(20)],
  ])("serial with %s is a positive minimal INTEGER", async (_, input, content) => {
    const der = await issueLeaf(ca, "ec-p256", { serial: Uint8Array.from(Buffer.from(input, "hex")) });
    expect(hex(tbsElements(der)[1]!)).toBe(`02${(content.length / 2).toString(16).padStart(2, "0")}${content}`);
    expect(new x509.X509Certificate(der).serialNumber).toBe(content.replace(/^00/, ""));
    dir.pem("serial.pem", "CERTIFICATE", der);
    const serial = openssl(["x509", "-noout", "-serial", "-in", "serial.pem"], dir.path).trim();
    expect(serial.replace(/^serial=/, "").toLowerCase().replace(/^0+/, "")).toBe(content.replace(/^0+/, ""));
  });

  it("refuses zero and over-long serials", async () => {
    await expect(issueLeaf(ca, "ec-p256", { serial: new Uint8Array(16) })).rejects.toThrow(TypeError);
    await expect(issueLeaf(ca, "ec-p256", { serial: new Uint8Array(21).fill(1) })).rejects.toThrow(TypeError);
    await expect(issueLeaf(ca, "ec-p256", { serial: new Uint8Array(20).fill(0x80) })).rejects.toThrow(TypeError);
  });

  it("subject: no DNS names → C=US, O=Signet and a URI-only SAN", async () => {
    const cert = new x509.X509Certificate(await issueLeaf(ca, "ec-p256", { dnsNames: [] }));
    expect(cert.subject).toBe("C=US, O=Signet");
    expect(cert.getExtension(x509.SubjectAlternativeNameExtension)!.names.toJSON()).toEqual([{ type: "url", value: SPIFFE_ID }]);
    const undef = new x509.X509Certificate(await issueLeaf(ca, "ec-p256", { dnsNames: undefined }));
    expect(undef.subject).toBe("C=US, O=Signet");
    expect(hex(tbsElements(await issueLeaf(ca, "ec-p256", { dnsNames: [] }))[5]!)).toBe(hex(signetName()));
  });

  it("subject: CN is the first DNS name only while it fits 64 characters", async () => {
    const d64 = `${"a".repeat(52)}.example.org`;
    const d65 = `${"a".repeat(53)}.example.org`;
    expect([d64.length, d65.length]).toEqual([64, 65]);
    expect(new x509.X509Certificate(await issueLeaf(ca, "ec-p256", { dnsNames: [d64, "x.example.org"] })).subject).toBe(`C=US, O=Signet, CN=${d64}`);
    const long = new x509.X509Certificate(await issueLeaf(ca, "ec-p256", { dnsNames: [d65, "x.example.org"] }));
    expect(long.subject).toBe("C=US, O=Signet");
    expect(long.getExtension(x509.SubjectAlternativeNameExtension)!.names.toJSON().map((n) => n.value)).toEqual([SPIFFE_ID, d65, "x.example.org"]);
  });

  it("many DNS names keep their order, also with multi-byte DER lengths everywhere", async () => {
    for (const count of [10, 3000]) {
      const names = Array.from({ length: count }, (_, i) => `host-${i}.svc.example.org`);
      const der = await issueLeaf(ca, "ec-p256", { dnsNames: names });
      if (count === 3000) expect(der.length).toBeGreaterThan(65536);
      const cert = new x509.X509Certificate(der);
      expect(cert.getExtension(x509.SubjectAlternativeNameExtension)!.names.toJSON().map((n) => n.value)).toEqual([SPIFFE_ID, ...names]);
      expect(cert.subject).toBe("C=US, O=Signet, CN=host-0.svc.example.org");
      expect(await cert.verify({ publicKey: new x509.X509Certificate(ca.der).publicKey, signatureOnly: true })).toBe(true);
    }
  });

  it("is deterministic and matches the CA's own subject byte for byte", async () => {
    const leaf = await testKey("ec-p256", "leaf");
    const encode = createLeafEncoder({ issuerName: ca.name, issuerKeyType: "ec-p256", issuerKeyId: ca.key.keyId });
    const input: LeafTbsInput = { serial: Uint8Array.of(1, 2, 3), notBefore: 0, notAfter: 1000, spiffeId: SPIFFE_ID, spki: leaf.spki, keyKind: "ec", subjectKeyId: leaf.keyId };
    expect(hex(encode(input))).toBe(hex(encode(input)));
    expect(hex(tbsElements(await signTbs(encode(input), ca.key.pair.privateKey, "ec-p256"))[3]!)).toBe(hex(tbsElements(ca.der)[5]!));
  });

  it.each<[string, Partial<LeafTbsInput>]>([
    ["inverted validity", { notAfter: 0, notBefore: 1000 }],
    ["a non-SPIFFE URI", { spiffeId: "https://example.org/x" }],
    ["a non-ASCII SPIFFE ID", { spiffeId: "spiffe://example.org/é" }],
    ["a non-ASCII DNS name", { dnsNames: ["é.example.org"] }],
    ["an empty DNS name", { dnsNames: ["a.example.org", ""] }],
    ["an empty key id", { subjectKeyId: new Uint8Array(0) }],
    ["a non-SPKI", { spki: Uint8Array.of(5, 0) }],
    ["a year past 9999", { notAfter: Date.parse("+010000-01-01T00:00:00Z") }],
  ])("throws TypeError on %s", async (_, overrides) => {
    await expect(issueLeaf(ca, "ec-p256", overrides)).rejects.toThrow(TypeError);
  });
});

describe("CA encoder details and assembly", () => {
  it("keeps the CA common name within 64 characters for long trust domains", async () => {
    const td = `${"x".repeat(240)}.example.org`;
    const ca = await testCa("ec-p256", Date.now(), td);
    const cert = new x509.X509Certificate(ca.der);
    const cn = cert.subjectName.getField("CN")[0]!;
    expect(cn.length).toBe(64);
    expect(cn.endsWith(` CA ${hex(ca.serial.subarray(0, 8))}`)).toBe(true);
    expect(cert.getExtension(x509.SubjectAlternativeNameExtension)!.names.toJSON()).toEqual([{ type: "url", value: `spiffe://${td}` }]);
  });

  it("encodes C as PrintableString and O, CN as UTF8String", () => {
    const name = hex(signetName("cn"));
    expect(name).toContain("0603550406" + "13025553");
    expect(name).toContain("060355040a" + "0c06" + hex(new TextEncoder().encode("Signet")));
    expect(name).toContain("0603550403" + "0c02636e");
  });

  it("x509SignatureValue converts ECDSA to DER and passes RSA through", () => {
    const p1363 = new Uint8Array(64).fill(1);
    expect(x509SignatureValue("ec-p256", p1363)[0]).toBe(0x30);
    expect(x509SignatureValue("rsa-2048", p1363)).toBe(p1363);
  });

  it("assembleCertificate wraps TBS, algorithm and BIT STRING", () => {
    const tbs = Uint8Array.of(0x30, 0x00);
    const out = assembleCertificate(tbs, signatureAlgorithmIdentifier("ec-p256"), Uint8Array.of(0xaa));
    expect(hex(out)).toBe("3012" + "3000" + "300a06082a8648ce3d040302" + "030200aa");
  });

  it("refuses a zero serial and inverted validity for CAs", async () => {
    const key = await testKey("ec-p256", "ca");
    const base = { trustDomain: TRUST_DOMAIN, serial: Uint8Array.of(1), notBefore: 0, notAfter: 1000, keyType: "ec-p256" as const, spki: key.spki, subjectKeyId: key.keyId };
    expect(() => encodeCaTbs(base)).not.toThrow();
    expect(() => encodeCaTbs({ ...base, serial: Uint8Array.of(0) })).toThrow(TypeError);
    expect(() => encodeCaTbs({ ...base, notAfter: 0 })).toThrow(TypeError);
  });
});
