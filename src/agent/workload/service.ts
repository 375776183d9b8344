/**
 * The `SpiffeWorkloadAPI` service for grpc-js: method paths without a proto package (the standard's
 * `/SpiffeWorkloadAPI/<Rpc>`), requests decoded by messages.ts, responses already encoded (the
 * handlers return bytes, so a stream can compare one full state with the last it sent).
 */
import type { ServiceDefinition } from "@grpc/grpc-js";
import { decodeEmptyRequest, decodeJwtSvidRequest, decodeValidateJwtSvidRequest } from "./messages";

export const SERVICE_NAME = "SpiffeWorkloadAPI";

const identity = (b: Buffer): Buffer => b;

function method<Req>(name: string, responseStream: boolean, decode: (b: Buffer) => Req) {
  return {
    path: `/${SERVICE_NAME}/${name}`,
    requestStream: false,
    responseStream,
    requestSerialize: (): Buffer => {
      throw new TypeError("the Workload API server does not send requests");
    },
    requestDeserialize: decode,
    responseSerialize: identity,
    responseDeserialize: identity,
  } as const;
}

export const WORKLOAD_API_SERVICE = {
  FetchX509SVID: method("FetchX509SVID", true, decodeEmptyRequest),
  FetchX509Bundles: method("FetchX509Bundles", true, decodeEmptyRequest),
  FetchJWTSVID: method("FetchJWTSVID", false, decodeJwtSvidRequest),
  FetchJWTBundles: method("FetchJWTBundles", true, decodeEmptyRequest),
  ValidateJWTSVID: method("ValidateJWTSVID", false, decodeValidateJwtSvidRequest),
  FetchWITSVID: method("FetchWITSVID", true, decodeEmptyRequest),
  FetchWITBundles: method("FetchWITBundles", true, decodeEmptyRequest),
} satisfies ServiceDefinition;

export type WorkloadApiMethod = keyof typeof WORKLOAD_API_SERVICE;
