"""An independent SPIFFE Workload API client for the tests: Debian's python3-grpcio with stubs that
grpc_tools.protoc generated from src/agent/workload/proto/workload.proto at test time (PYTHONPATH).

Usage: workload_api_client.py SOCKET_PATH OPS_JSON
Each op is run in order and one JSON line is printed per result (streams: one line per message).
Ops: {"op": "x509"|"x509_bundles"|"jwt_bundles"|"wit_svid"|"wit_bundles", "header": bool|str, "messages": N}
     {"op": "jwt_svid", "audience": [...], "spiffe_id": "..."}  {"op": "validate", "audience": "...", "svid": "..."}
"""
import base64
import json
import sys

import grpc
from google.protobuf.json_format import MessageToDict

import workload_pb2
import workload_pb2_grpc


def b64(b):
    return base64.b64encode(b).decode()


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def metadata(op):
    header = op.get("header", True)
    if header is True:
        return [("workload.spiffe.io", "true")]
    if header is False:
        return []
    return [("workload.spiffe.io", header)]


def x509_message(m):
    return {
        "svids": [{"spiffe_id": s.spiffe_id, "x509_svid": b64(s.x509_svid), "x509_svid_key": b64(s.x509_svid_key), "bundle": b64(s.bundle), "hint": s.hint} for s in m.svids],
        "federated_bundles": {k: b64(v) for k, v in m.federated_bundles.items()},
        "crl": len(m.crl),
    }


def run(stub, op):
    kind = op["op"]
    md = metadata(op)
    timeout = op.get("timeout", 10)
    try:
        if kind == "jwt_svid":
            r = stub.FetchJWTSVID(workload_pb2.JWTSVIDRequest(audience=op["audience"], spiffe_id=op.get("spiffe_id", "")), metadata=md, timeout=timeout)
            emit({"svids": [{"spiffe_id": s.spiffe_id, "svid": s.svid, "hint": s.hint} for s in r.svids]})
            return
        if kind == "validate":
            r = stub.ValidateJWTSVID(workload_pb2.ValidateJWTSVIDRequest(audience=op["audience"], svid=op["svid"]), metadata=md, timeout=timeout)
            emit({"spiffe_id": r.spiffe_id, "claims": MessageToDict(r.claims), "has_claims": r.HasField("claims")})
            return
        calls = {
            "x509": (stub.FetchX509SVID, workload_pb2.X509SVIDRequest(), x509_message),
            "x509_bundles": (stub.FetchX509Bundles, workload_pb2.X509BundlesRequest(), lambda m: {"bundles": {k: b64(v) for k, v in m.bundles.items()}}),
            "jwt_bundles": (stub.FetchJWTBundles, workload_pb2.JWTBundlesRequest(), lambda m: {"bundles": {k: json.loads(v.decode()) for k, v in m.bundles.items()}}),
            "wit_svid": (stub.FetchWITSVID, workload_pb2.WITSVIDRequest(), lambda m: {}),
            "wit_bundles": (stub.FetchWITBundles, workload_pb2.WITBundlesRequest(), lambda m: {}),
        }
        method, request, render = calls[kind]
        stream = method(request, metadata=md, timeout=timeout)
        wanted = op.get("messages", 1)
        got = 0
        for m in stream:
            emit(render(m))
            got += 1
            if got >= wanted:
                stream.cancel()
                return
        emit({"ended": True})
    except grpc.RpcError as e:
        if e.code() == grpc.StatusCode.CANCELLED and op.get("messages", 1) > 0:
            return
        emit({"error": e.code().name, "details": e.details()})


def main():
    socket, ops = sys.argv[1], json.loads(sys.argv[2])
    with grpc.insecure_channel("unix://" + socket) as channel:
        stub = workload_pb2_grpc.SpiffeWorkloadAPIStub(channel)
        for op in ops:
            run(stub, op)


if __name__ == "__main__":
    main()
