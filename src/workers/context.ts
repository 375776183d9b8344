import { createFactory } from "hono/factory";
import type { Config } from "../lib/config";

export interface AppEnv {
  Bindings: Env;
  Variables: {
    requestId: string;
    config: Config;
  };
}

export const factory = createFactory<AppEnv>();
