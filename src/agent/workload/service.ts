/**
 * The `SpiffeWorkloadAPI` service: method paths without a proto package (the standard's
 * `/SpiffeWorkloadAPI/<Rpc>`), whether each streams its responses, and the decoder of its request
 * (messages.ts). Responses are already encoded (the handlers return bytes, so a stream can compare one
 * full state with the last it sent). No method streams requests.
 */
import { decodeEmptyRequest, decodeJwtSvidRequest, decodeValidateJwtSvidRequest } from "./messages";

export const SERVICE_NAME = "SpiffeWorkloadAPI";

export interface WorkloadApiMethodDefinition<Req> {
  readonly path: string;
  readonly requestStream: false;
  readonly responseStream: boolean;
  /** Throws ProtobufError on bytes that are not the request message. */
  readonly decode: (b: Buffer) => Req;
}

function method<Req>(name: string, responseStream: boolean, decode: (b: Buffer) => Req): WorkloadApiMethodDefinition<Req> {
  return { path: `/${SERVICE_NAME}/${name}`, requestStream: false, responseStream, decode };
}

export const WORKLOAD_API_SERVICE = {
  FetchX509SVID: method("FetchX509SVID", true, decodeEmptyRequest),
  FetchX509Bundles: method("FetchX509Bundles", true, decodeEmptyRequest),
  FetchJWTSVID: method("FetchJWTSVID", false, decodeJwtSvidRequest),
  FetchJWTBundles: method("FetchJWTBundles", true, decodeEmptyRequest),
  ValidateJWTSVID: method("ValidateJWTSVID", false, decodeValidateJwtSvidRequest),
  FetchWITSVID: method("FetchWITSVID", true, decodeEmptyRequest),
  FetchWITBundles: method("FetchWITBundles", true, decodeEmptyRequest),
} as const;

export type WorkloadApiMethod = keyof typeof WORKLOAD_API_SERVICE;
