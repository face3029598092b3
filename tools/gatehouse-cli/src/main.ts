import 'reflect-metadata';
import { existsSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { NestFactory } from '@nestjs/core';
import { ApiKeysService, type BootstrapResult } from '@gatehouse/api-keys';
import { isStandaloneEnvironment, loadConfig } from '@gatehouse/config';
import { isGatehouseError, ORGANIZATION_NAME } from '@gatehouse/contracts';
import {
  createDatabaseIfMissing,
  embeddedLayout,
  EmbeddedDatabaseInUseError,
  openEmbeddedDatabase,
  PLANS,
  resolveDataDir,
  revertLastMigration,
  runMigrations,
  type DatabaseOptions,
  type Plan,
} from '@gatehouse/persistence';
import { CliConfig } from './app/cli.config';
import { CliModule } from './app/cli.module';
import { requestSuite, SUITE_ROUTES, SuiteNotRunningError } from './app/standalone-client';
import { StderrLogger } from './app/stderr.logger';

const USAGE = `Usage:
  gatehouse-cli migrate                                   apply pending migrations
  gatehouse-cli revert                                    undo the last migration
  gatehouse-cli bootstrap --org <name> [--plan <plan>] [--out <file>]
                                                          create an organization and print its owner key once
                                                          plan: ${PLANS.join(' | ')} (default enterprise)
                                                          --out: write it to <file> (owner-only) instead of stdout;
                                                          an existing file is never overwritten

With DATABASE_URL (or REDIS_URL) set, the commands work on that PostgreSQL server. With neither set they work in
standalone mode, on the embedded database in GATEHOUSE_DATA_DIR (default .data/ at the repository root): bootstrap
through the running standalone suite (npm start), migrate through it or on the files when it is stopped, revert
only while it is stopped.`;

/** This bundle is dist/tools/gatehouse-cli/main.js. */
const WORKSPACE_ROOT = resolve(__dirname, '../../..');

class UsageError extends Error {}

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

interface BootstrapArgs {
  org: string;
  plan: Plan;
  /** Where the owner key goes instead of stdout. */
  out?: string;
}

function parseBootstrapArgs(args: string[]): BootstrapArgs {
  const { values } = parseArgs({
    args,
    options: {
      org: { type: 'string' },
      plan: { type: 'string', default: 'enterprise' },
      out: { type: 'string' },
    },
    strict: true,
  });
  const org = values.org;
  if (!org || !ORGANIZATION_NAME.test(org)) {
    throw new UsageError(
      '--org must be 1–40 lowercase letters, digits or "-", not starting or ending with "-"',
    );
  }
  if (!PLANS.includes(values.plan as Plan)) throw new UsageError(`--plan must be one of ${PLANS.join(', ')}`);
  if (values.out !== undefined && existsSync(values.out)) {
    // Checked before anything is created: `> owner.json` in a shell truncates the file before bootstrap even runs,
    // and the key it held is the only copy.
    throw new Error(
      `${values.out} exists; bootstrap never overwrites a file (it may hold the only copy of a key)`,
    );
  }
  return { org, plan: values.plan as Plan, ...(values.out !== undefined && { out: values.out }) };
}

/**
 * The only place the owner secret is ever written: one JSON object on stdout, or in `out`, created owner-only and
 * never over an existing file. Should that file appear meanwhile, the key goes to stdout rather than nowhere.
 */
function printBootstrapResult(result: BootstrapResult, out: string | undefined): void {
  const json = `${JSON.stringify(result, null, 2)}\n`;
  if (out !== undefined) {
    try {
      writeFileSync(out, json, { mode: 0o600, flag: 'wx' });
      log(`owner key of ${result.organization.name} written to ${out} (readable by you only)`);
      return;
    } catch (error) {
      log(
        `could not write ${out} (${(error as NodeJS.ErrnoException).code ?? String(error)}): the key follows on stdout`,
      );
    }
  }
  process.stdout.write(json);
}

async function bootstrap(config: CliConfig, args: string[]): Promise<void> {
  const { org, plan, out } = parseBootstrapArgs(args);
  const app = await NestFactory.createApplicationContext(CliModule.register(config), {
    logger: new StderrLogger(),
    abortOnError: false,
  });
  try {
    printBootstrapResult(await app.get(ApiKeysService).bootstrap(org, plan), out);
  } finally {
    await app.close();
  }
}

/** Standalone mode: PGlite has one owner process, so the database files are opened only when no suite runs. */
async function standalone(command: string | undefined, args: string[]): Promise<void> {
  const layout = embeddedLayout(resolveDataDir(WORKSPACE_ROOT));
  const onTheFiles = async (run: (database: DatabaseOptions) => Promise<void>): Promise<void> => {
    const embedded = await openEmbeddedDatabase(layout.dataDir);
    try {
      await run({ embedded, applicationName: 'gatehouse-cli' });
    } finally {
      await embedded.close();
    }
  };
  switch (command) {
    case 'bootstrap': {
      const { org, plan, out } = parseBootstrapArgs(args);
      const result = await requestSuite<BootstrapResult>(
        layout.controlSocket,
        'POST',
        SUITE_ROUTES.bootstrap,
        {
          org,
          plan,
        },
      );
      printBootstrapResult(result, out);
      return;
    }
    case 'migrate': {
      let applied: string[];
      try {
        ({ applied } = await requestSuite<{ applied: string[] }>(
          layout.controlSocket,
          'POST',
          SUITE_ROUTES.migrate,
        ));
      } catch (error) {
        if (!(error instanceof SuiteNotRunningError)) throw error;
        applied = [];
        await onTheFiles(async (database) => {
          applied = await runMigrations(database);
        });
      }
      log(applied.length ? `applied: ${applied.join(', ')}` : `database in ${layout.dataDir} is up to date`);
      return;
    }
    case 'revert':
      try {
        await onTheFiles((database) => revertLastMigration(database));
      } catch (error) {
        if (error instanceof EmbeddedDatabaseInUseError) {
          throw new Error(
            `stop the standalone suite (process ${error.ownerPid}) before reverting a migration`,
          );
        }
        throw error;
      }
      log('reverted the last migration');
      return;
    default:
      throw new UsageError(command ? `unknown command "${command}"` : 'no command given');
  }
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (isStandaloneEnvironment()) return standalone(command, rest);
  const config = loadConfig(CliConfig);
  const database = { url: config.DATABASE_URL, applicationName: 'gatehouse-cli' };
  switch (command) {
    case 'migrate': {
      if (await createDatabaseIfMissing(config.DATABASE_URL)) log('created the database');
      const applied = await runMigrations(database);
      log(applied.length ? `applied: ${applied.join(', ')}` : 'database is up to date');
      return;
    }
    case 'revert':
      await revertLastMigration(database);
      log('reverted the last migration');
      return;
    case 'bootstrap':
      await bootstrap(config, rest);
      return;
    default:
      throw new UsageError(command ? `unknown command "${command}"` : 'no command given');
  }
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (error: unknown) => {
    if (error instanceof UsageError) log(`${error.message}\n\n${USAGE}`);
    else if (isGatehouseError(error)) log(`error: ${error.message}`);
    else log(`error: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(error instanceof UsageError ? 64 : 1);
  },
);
