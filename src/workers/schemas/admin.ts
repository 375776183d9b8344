/** Wire schemas of /admin/v1 (snake_case spellings live only here). */
import { z } from "zod";

const ttl = z.number().int("must be an integer number of seconds").positive("must be positive");

export const MintX509SvidBody = z
  .strictObject({
    spiffe_id: z.string().max(4096),
    public_key: z.string().max(8192).optional(),
    csr: z.string().max(16384).optional(),
    ttl: ttl.optional(),
    // At most 32 distinct names are issued (case-insensitive duplicates are written once, see parseDnsNames).
    dns_names: z.array(z.string().max(253)).max(128).optional(),
  })
  .refine((b) => (b.public_key === undefined) !== (b.csr === undefined), {
    message: "exactly one of public_key and csr is required",
  });

export const MintJwtSvidBody = z.strictObject({
  spiffe_id: z.string().max(4096),
  audience: z.array(z.string().min(1, "must not be empty").max(600)).min(1, "at least one audience is required").max(16),
  ttl: ttl.optional(),
  alg: z.enum(["ES256", "RS256"]).optional(),
});
