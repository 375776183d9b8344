/** Parses vars once per isolate and refuses to serve when the configuration or secrets are wrong. */
import { parseConfig, parseSecrets, type Config, type Secrets } from "../../lib/config";
import { factory } from "../context";
import { AppError } from "../errors";

const cache = new WeakMap<object, { config: Config; secrets: Secrets } | { error: string }>();

export function loadConfig(env: Env): { config: Config; secrets: Secrets } | { error: string } {
  let entry = cache.get(env);
  if (!entry) {
    const vars = env as unknown as Record<string, unknown>;
    const config = parseConfig(vars);
    const secrets = parseSecrets(vars);
    entry = !config.ok ? { error: config.error.detail } : !secrets.ok ? { error: secrets.error.detail } : { config: config.value, secrets: secrets.value };
    cache.set(env, entry);
  }
  return entry;
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
