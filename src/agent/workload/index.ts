/** The SPIFFE Workload API of signet-agent: the server and its workload attestation. */
export { startWorkloadApi, SECURITY_HEADER, type WorkloadApiServer, type WorkloadApiServerOptions, type WorkloadAttestor } from "./server";
export { SocketPathError, socketPathFrom } from "./socket";
export { UnixAttestor, type AttestationFailure, type CallerProcess, type UnixAttestorOptions } from "./unix-attestor";
export { peerCredentials, type PeerCredentials } from "./peer-credentials";
