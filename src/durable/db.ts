/** Opens a Durable Object's SQLite database through drizzle and applies its migrations. */
import { drizzle, type DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";
import { migrate } from "drizzle-orm/durable-sqlite/migrator";

interface MigrationConfig {
  journal: { entries: { idx: number; when: number; tag: string; breakpoints: boolean }[] };
  migrations: Record<string, string>;
}

/** Call from the constructor inside `ctx.blockConcurrencyWhile` (migrate is synchronous SQL). */
export function openDb<TSchema extends Record<string, unknown>>(
  ctx: DurableObjectState,
  schema: TSchema,
  migrations: MigrationConfig,
): DrizzleSqliteDODatabase<TSchema> {
  const db = drizzle(ctx.storage, { schema });
  migrate(db, migrations);
  return db;
}
