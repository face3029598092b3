import type { QueryConfig, QueryResultRow } from 'pg';
import type { EntityManager } from 'typeorm';

interface PgClient {
  query<Row extends QueryResultRow>(config: QueryConfig): Promise<{ rows: Row[] }>;
}

/**
 * Runs a statement of the hot path under a name on the transaction's connection: PostgreSQL parses, analyzes and
 * plans it once per connection instead of once per call (together about a third of its CPU per group commit,
 * docs/BENCHMARKS.md M8). `text` must be the same for a `name` on every call — a constant. Without a name, the
 * statement is sent unnamed, as every other query is (for poolers that cannot carry named ones).
 */
export async function runPrepared<Row extends QueryResultRow>(
  manager: EntityManager,
  name: string | undefined,
  text: string,
  values: unknown[],
): Promise<Row[]> {
  const runner = manager.queryRunner;
  if (!runner) throw new Error("runPrepared needs a transaction's entity manager");
  const client = (await runner.connect()) as PgClient;
  const result = await client.query<Row>(name ? { name, text, values } : { text, values });
  return result.rows;
}
