/** Refuses to serve when the configuration or secrets are wrong; otherwise puts the config in context. */
import { loadConfig as loadLibConfig, type Config, type Secrets } from "../../lib/config";
import { factory } from "../context";
import { AppError } from "../errors";

/** The parsed configuration (once per isolate), or why it is wrong (for the log only). */
export function loadConfig(env: Env): { config: Config; secrets: Secrets } | { error: string } {
  const loaded = loadLibConfig(env);
  return loaded.ok ? loaded.value : { error: loaded.error.detail };
}

export const configMiddleware = factory.createMiddleware(async (c, next) => {
  const loaded = loadConfig(c.env);
  if ("error" in loaded) {
    // The reason names which setting is wrong but never its value.
    throw new AppError("service_misconfigured", "The service is not configured; see its logs.", { internal: loaded.error });
  }
  c.set("config", loaded.config);
  await next();
});
