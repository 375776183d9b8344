/**
 * QE Identity (Intel PCS `GET /tdx/certification/v4/qe/identity`, specs/tdx.md §2): the identity of the
 * TD Quoting Enclave that signs quotes (MRSIGNER, ISVPRODID, MISCSELECT and ATTRIBUTES under masks) and
 * its TCB levels by ISVSVN. Parsed like TCB Info: body as served, exact signed bytes, typed fields.
 * SGX identities (`QE`, `QVE`, version 1) are read too, so that offering one for a TDX quote is a
 * mismatch, not a parse error.
 */
import { err, ok, type Result } from "../../result";
import { readSignedJson } from "./signed-json";
import { arrayField, dateField, hexField, isObject, isvSvnLevels, stringField, uintField, type IsvSvnLevel } from "./json-fields";

export interface QeIdentity {
  readonly body: Uint8Array;
  /** The exact bytes of the `enclaveIdentity` value: what the signature covers. */
  readonly signed: Uint8Array;
  readonly signature: Uint8Array;
  readonly id: "QE" | "QVE" | "TD_QE";
  readonly version: number;
  readonly issueDate: number;
  readonly nextUpdate: number;
  readonly tcbEvaluationDataNumber: number;
  /** MISCSELECT and its mask as 4 bytes, compared byte-wise with the QE report's little-endian field. */
  readonly miscselect: Uint8Array;
  readonly miscselectMask: Uint8Array;
  readonly attributes: Uint8Array;
  readonly attributesMask: Uint8Array;
  readonly mrSigner: Uint8Array;
  readonly isvProdId: number;
  /** isvsvn descending. */
  readonly tcbLevels: readonly IsvSvnLevel[];
}

export function parseQeIdentity(body: Uint8Array): Result<QeIdentity, string> {
  const doc = readSignedJson(body, "enclaveIdentity");
  if (!doc.ok) return doc;
  const v = doc.value.value;
  if (!isObject(v)) return err("enclaveIdentity must be an object");
  const id = stringField(v, "id");
  if (!id.ok) return id;
  if (id.value !== "QE" && id.value !== "QVE" && id.value !== "TD_QE") return err(`unknown enclave identity id ${JSON.stringify(id.value.slice(0, 20))}`);
  const version = uintField(v, "version", 0xffff);
  if (!version.ok) return version;
  if (version.value !== 1 && version.value !== 2) return err(`unsupported enclave identity version ${version.value}`);
  const issueDate = dateField(v, "issueDate");
  if (!issueDate.ok) return issueDate;
  const nextUpdate = dateField(v, "nextUpdate");
  if (!nextUpdate.ok) return nextUpdate;
  const evaluation = uintField(v, "tcbEvaluationDataNumber", 0xffffffff);
  if (!evaluation.ok) return evaluation;
  const miscselect = hexField(v, "miscselect", 4);
  if (!miscselect.ok) return miscselect;
  const miscselectMask = hexField(v, "miscselectMask", 4);
  if (!miscselectMask.ok) return miscselectMask;
  const attributes = hexField(v, "attributes", 16);
  if (!attributes.ok) return attributes;
  const attributesMask = hexField(v, "attributesMask", 16);
  if (!attributesMask.ok) return attributesMask;
  const mrSigner = hexField(v, "mrsigner", 32);
  if (!mrSigner.ok) return mrSigner;
  const isvProdId = uintField(v, "isvprodid", 0xffff);
  if (!isvProdId.ok) return isvProdId;
  const list = arrayField(v, "tcbLevels");
  if (!list.ok) return list;
  const levels = isvSvnLevels(list.value, "tcbLevels");
  if (!levels.ok) return levels;
  return ok({
    body,
    signed: doc.value.signed,
    signature: doc.value.signature,
    id: id.value,
    version: version.value,
    issueDate: issueDate.value,
    nextUpdate: nextUpdate.value,
    tcbEvaluationDataNumber: evaluation.value,
    miscselect: miscselect.value,
    miscselectMask: miscselectMask.value,
    attributes: attributes.value,
    attributesMask: attributesMask.value,
    mrSigner: mrSigner.value,
    isvProdId: isvProdId.value,
    tcbLevels: levels.value,
  });
}
