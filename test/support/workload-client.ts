/** A grpc-js Workload API client built from the .proto by @grpc/proto-loader (protobufjs), for tests and the benchmark. */
import * as grpc from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { fileURLToPath } from "node:url";

const PROTO = fileURLToPath(new URL("../../src/agent/workload/proto/workload.proto", import.meta.url));

export type WorkloadClient = grpc.Client & Record<string, (...args: unknown[]) => unknown>;

export function workloadClient(socketPath: string, options: grpc.ChannelOptions = {}): WorkloadClient {
  const definition = loadSync(PROTO, { keepCase: true, longs: Number, bytes: Buffer, defaults: true, arrays: true, objects: true });
  const Ctor = grpc.loadPackageDefinition(definition).SpiffeWorkloadAPI as unknown as new (address: string, creds: grpc.ChannelCredentials, options: grpc.ChannelOptions) => WorkloadClient;
  return new Ctor(`unix://${socketPath}`, grpc.credentials.createInsecure(), options);
}

export function securityHeader(value: string | undefined = "true"): grpc.Metadata {
  const md = new grpc.Metadata();
  if (value !== undefined) md.set("workload.spiffe.io", value);
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
