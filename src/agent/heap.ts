/**
 * Imported first by signet-agent.ts, before any other module is evaluated: keeps V8's young
 * generation at its initial size (semi-spaces of 1 MiB) instead of letting it grow to 16 MiB
 * semi-spaces (48 MiB reserved, resident once touched) during bursts such as signing 1,000 CSRs or
 * loading the program. An agent is long-lived and its live set small (~17 MiB of JS heap with 1,000
 * SVIDs): measured, the grown young generation was ~20 MiB of its RSS, and scavenges of a small one
 * are short. V8 reads `semi_space_growth_factor` each time it would grow, so setting it at run time
 * works; `--max-semi-space-size` would only work on the command line. A `semi-space` flag given on
 * the command line or in NODE_OPTIONS wins.
 */
import { setFlagsFromString } from "node:v8";

const given = [...process.execArgv, process.env.NODE_OPTIONS ?? ""].some((a) => a.includes("semi-space") || a.includes("semi_space"));
if (!given) setFlagsFromString("--semi-space-growth-factor=1");
