/**
 * The KBS protocol library (Trustee RCAR 0.4.0): import it through this door. Server and guest
 * share the binding rules; the guest-only calls are marked so in their own documentation.
 */
export { kbsFail, type KbsFailure, type KbsFailureReason } from "./errors";
export {
  checkNonce,
  checkProtocolVersion,
  challengeExtraParams,
  DEFAULT_HASH_ALGORITHM,
  digestWith,
  HASH_ALGORITHMS,
  isKbsTee,
  isWellFormedString,
  KBS_PROTOCOL_VERSION,
  KBS_TEES,
  negotiateHash,
  newNonce,
  newSessionId,
  parseSessionId,
  primaryRuntimeData,
  requestExtraParams,
  selectedHashAlgorithm,
  type HashAlgorithm,
  type InitDataInput,
  type KbsAttestation,
  type KbsChallenge,
  type KbsRequest,
  type KbsTee,
  type Nonce,
  type RandomBytes,
  type RuntimeDataInput,
  type SessionId,
} from "./protocol";
export {
  ECDH_ES_A256KW,
  parseTeePubKey,
  RSA1_5,
  RSA_OAEP_256,
  teePubKeyJwk,
  type EcTeePubKey,
  type RsaTeePubKey,
  type TeeCurve,
  type TeePubKey,
  type TeePubKeyJwk,
} from "./tee-pubkey";
export { expectedReportData, runtimeDataText } from "./runtime-data";
export { INIT_DATA_FORMAT, INIT_DATA_MAX_BYTES, initDataClaims, initDataDigest, parseInitData, type InitData } from "./init-data";
export {
  A256GCM,
  decryptResource,
  encryptResource,
  generateTeeKeyPair,
  type EncryptResourceRandom,
  type FlattenedJwe,
  type TeeKeyAlgorithm,
  type TeeKeyPair,
} from "./resource-jwe";
