/**
 * The pinned trust anchor for Intel SGX/TDX attestation: the Intel SGX Root CA (self-signed, P-256,
 * valid 2018-05-21 to 2049-12-31), SHA-256 fingerprint
 * 44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3 — the same certificate that
 * go-tdx-guest (`verify/trusted_root.pem`) and dcap-qvl (`src/TrustedRootCA.der`) embed. Every PCK,
 * TCB-signing and CRL chain must end in it.
 */
import { fromBase64 } from "../../encoding";

export const INTEL_SGX_ROOT_CA_SHA256 = "44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3";

const INTEL_SGX_ROOT_CA_BASE64 =
  "MIICjzCCAjSgAwIBAgIUImUM1lqdNInzg7SVUr9QGzknBqwwCgYIKoZIzj0EAwIwaDEaMBgGA1UEAwwRSW50ZWwgU0dYIFJv" +
  "b3QgQ0ExGjAYBgNVBAoMEUludGVsIENvcnBvcmF0aW9uMRQwEgYDVQQHDAtTYW50YSBDbGFyYTELMAkGA1UECAwCQ0ExCzAJ" +
  "BgNVBAYTAlVTMB4XDTE4MDUyMTEwNDUxMFoXDTQ5MTIzMTIzNTk1OVowaDEaMBgGA1UEAwwRSW50ZWwgU0dYIFJvb3QgQ0Ex" +
  "GjAYBgNVBAoMEUludGVsIENvcnBvcmF0aW9uMRQwEgYDVQQHDAtTYW50YSBDbGFyYTELMAkGA1UECAwCQ0ExCzAJBgNVBAYT" +
  "AlVTMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEC6nEwMDIYZOj/iPWsCzaEKi71OiOSLRFhWGjbnBVJfVnkY4u3IjkDYYL" +
  "0MxO4mqsyYjlBalTVYxFP2sJBK5zlKOBuzCBuDAfBgNVHSMEGDAWgBQiZQzWWp00ifODtJVSv1AbOScGrDBSBgNVHR8ESzBJ" +
  "MEegRaBDhkFodHRwczovL2NlcnRpZmljYXRlcy50cnVzdGVkc2VydmljZXMuaW50ZWwuY29tL0ludGVsU0dYUm9vdENBLmRl" +
  "cjAdBgNVHQ4EFgQUImUM1lqdNInzg7SVUr9QGzknBqwwDgYDVR0PAQH/BAQDAgEGMBIGA1UdEwEB/wQIMAYBAf8CAQEwCgYI" +
  "KoZIzj0EAwIDSQAwRgIhAOW/5QkR+S9CiSDcNoowLuPRLsWGf/Yi7GSX94BgwTwgAiEA4J0lrHoMs+Xo5o/sX6O9QWxHRAvZ" +
  "UGOdRQ7cvqRXaqI=";

/** DER of the Intel SGX Root CA. Treat as read-only. */
export const INTEL_SGX_ROOT_CA_DER: Uint8Array = fromBase64(INTEL_SGX_ROOT_CA_BASE64)!;
