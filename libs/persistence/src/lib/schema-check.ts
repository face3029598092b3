import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { MIGRATIONS, MIGRATIONS_TABLE } from './data-source';

export const MIGRATE_COMMANDS = '`gatehouse-cli migrate` (the migration Job) or `npm run db:migrate`';

/** What the database has applied, compared with the migrations this build ships. */
export interface SchemaState {
  /** Migrations this build knows that the database has not applied: the app would fail on them later. */
  missing: string[];
  /** Migrations applied that this build does not know: a newer release ran them (this one is a rollback). */
  unknown: string[];
}

export class SchemaTooOldError extends Error {
  constructor(readonly missing: string[]) {
    super(
      `the database schema is older than this build: ${missing.length} migration(s) not applied ` +
        `(${missing.join(', ')}). Run ${MIGRATE_COMMANDS} against this database, then start again`,
    );
    this.name = 'SchemaTooOldError';
  }
}

export async function readSchemaState(
  dataSource: DataSource,
  known: readonly string[] = MIGRATIONS.map((migration) => migration.name),
): Promise<SchemaState> {
  const [{ present }] = await dataSource.query<[{ present: boolean }]>(
    'SELECT to_regclass($1) IS NOT NULL AS present',
    [MIGRATIONS_TABLE],
  );
  const rows = present
    ? await dataSource.query<{ name: string }[]>(`SELECT name FROM ${MIGRATIONS_TABLE}`)
    : [];
  const applied = rows.map((row) => row.name);
  const appliedSet = new Set(applied);
  const knownSet = new Set(known);
  return {
    missing: known.filter((name) => !appliedSet.has(name)),
    unknown: applied.filter((name) => !knownSet.has(name)),
  };
}

/**
 * Refuses to start on a database that lacks a migration this build needs, naming it and the command that applies
 * it, instead of answering 500s on the first query that meets the old schema. Migrations this build does not
 * know are allowed (with a warning): that is a rollback to the previous release, which must keep working on
 * the newer schema (migrations add before a later release removes: docs/OPERATIONS.md, "Releases").
 */
@Injectable()
export class SchemaCheck implements OnModuleInit {
  private readonly logger = new Logger('SchemaCheck');

  constructor(private readonly dataSource: DataSource) {}

  async onModuleInit(): Promise<void> {
    const { missing, unknown } = await readSchemaState(this.dataSource);
    if (missing.length) throw new SchemaTooOldError(missing);
    if (unknown.length) {
      this.logger.warn(
        `the database has migrations this build does not know (${unknown.join(', ')}): ` +
          'running against a newer schema, as after a rollback',
      );
    }
  }
}
