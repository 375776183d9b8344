import { createFactory } from "hono/factory";
import type { Config } from "../lib/config";

export interface AuthenticatedAgent {
  readonly spiffeId: string;
  readonly svidSerial: string;
  readonly selectors: readonly string[];
  /** The request body the proof covered (read once). */
  readonly body: Uint8Array;
}

export interface AppEnv {
  Bindings: Env;
  Variables: {
    requestId: string;
    config: Config;
    /** Set by agentAuth on /agent/v1 calls: the agent whose proof verified, and the body it covered. */
    agent?: AuthenticatedAgent;
  };
}

export const factory = createFactory<AppEnv>();
