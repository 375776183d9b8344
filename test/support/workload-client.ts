/**
 * A grpc-js Workload API client built from the .proto by @grpc/proto-loader (protobufjs), for tests and
 * the benchmark. It stays apart from src/agent/workload-client.ts on purpose: it decodes with an
 * independent protobuf library, so tests of the server's codec do not check it against itself (and
 * proto-loader is a devDependency the agent cannot load in production). The header name and the socket
 * address form are the real client's.
 */
import * as grpc from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { fileURLToPath } from "node:url";
import { SECURITY_HEADER } from "../../src/agent/workload";
import { unixTarget } from "../../src/agent/workload-client";

const PROTO = fileURLToPath(new URL("../../src/agent/workload/proto/workload.proto", import.meta.url));

export type WorkloadClient = grpc.Client & Record<string, (...args: unknown[]) => unknown>;

export function workloadClient(socketPath: string, options: grpc.ChannelOptions = {}): WorkloadClient {
  const definition = loadSync(PROTO, { keepCase: true, longs: Number, bytes: Buffer, defaults: true, arrays: true, objects: true });
  const Ctor = grpc.loadPackageDefinition(definition).SpiffeWorkloadAPI as unknown as new (address: string, creds: grpc.ChannelCredentials, options: grpc.ChannelOptions) => WorkloadClient;
  return new Ctor(unixTarget(socketPath), grpc.credentials.createInsecure(), options);
}

export function securityHeader(value: string | undefined = "true"): grpc.Metadata {
  const md = new grpc.Metadata();
  if (value !== undefined) md.set(SECURITY_HEADER, value);
  return md;
}

/** The first message of a server stream, or its error. */
export function firstMessage<T>(client: WorkloadClient, method: string, md = securityHeader()): Promise<T> {
  return new Promise((resolve, reject) => {
    const call = client[method]!({}, md) as grpc.ClientReadableStream<T>;
    call.once("data", (m: T) => {
      resolve(m);
      call.cancel();
    });
    call.once("error", (e: grpc.ServiceError) => {
      if (e.code !== grpc.status.CANCELLED) reject(e);
    });
  });
}

export function unaryCall<T>(client: WorkloadClient, method: string, request: unknown, md = securityHeader()): Promise<T> {
  return new Promise((resolve, reject) => {
    client[method]!(request, md, (e: grpc.ServiceError | null, r: T) => (e ? reject(e) : resolve(r)));
  });
}
