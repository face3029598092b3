import 'reflect-metadata';
import { existsSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { NestFactory } from '@nestjs/core';
import { ApiKeysService, type BootstrapResult } from '@gatehouse/api-keys';
import { isStandaloneEnvironment, loadConfig } from '@gatehouse/config';
import {
  createDatabaseIfMissing,
  embeddedLayout,
  EmbeddedDatabaseInUseError,
  openEmbeddedDatabase,
  resolveDataDir,
  revertLastMigration,
  runMigrations,
  type DatabaseOptions,
} from '@gatehouse/persistence';
import { CliConfig } from './app/cli.config';
import { CliModule } from './app/cli.module';
import { parseCommandLine, USAGE_EXIT_CODE, UsageError, type CommandLine } from './app/command-line';
import { requestSuite, SUITE_ROUTES, SuiteNotRunningError } from './app/standalone-client';
import { StderrLogger } from './app/stderr.logger';

/** This bundle is dist/tools/gatehouse-cli/main.js. */
const WORKSPACE_ROOT = resolve(__dirname, '../../..');

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

type BootstrapArgs = Extract<CommandLine, { command: 'bootstrap' }>;

/**
 * Checked before anything is created: `> owner.json` in a shell truncates the file before bootstrap even runs, and
 * the key it held is the only copy.
 */
function refuseExistingOut(out: string | undefined): void {
  if (out !== undefined && existsSync(out)) {
    throw new Error(`${out} exists; bootstrap never overwrites a file (it may hold the only copy of a key)`);
  }
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

async function bootstrap(config: CliConfig, { org, plan, out }: BootstrapArgs): Promise<void> {
  refuseExistingOut(out);
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

type DatabaseCommand = Exclude<CommandLine, { command: 'help' }>;

/** Standalone mode: PGlite has one owner process, so the database files are opened only when no suite runs. */
async function standalone(commandLine: DatabaseCommand): Promise<void> {
  const layout = embeddedLayout(resolveDataDir(WORKSPACE_ROOT));
  const onTheFiles = async (run: (database: DatabaseOptions) => Promise<void>): Promise<void> => {
    const embedded = await openEmbeddedDatabase(layout.dataDir);
    try {
      await run({ embedded, applicationName: 'gatehouse-cli' });
    } finally {
      await embedded.close();
    }
  };
  switch (commandLine.command) {
    case 'bootstrap': {
      const { org, plan, out } = commandLine;
      refuseExistingOut(out);
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
    case 'dev-users': {
      const { org, role, username } = commandLine;
      const user = await requestSuite<Record<string, unknown>>(
        layout.controlSocket,
        'POST',
        SUITE_ROUTES.devUsers,
        {
          org,
          role,
          ...(username !== undefined && { username }),
        },
      );
      process.stdout.write(`${JSON.stringify(user, null, 2)}\n`);
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
  }
}

async function main(argv: string[]): Promise<void> {
  // Parsed before any configuration is read or any connection made: --help and usage errors need neither.
  const commandLine = parseCommandLine(argv);
  if (commandLine.command === 'help') {
    process.stdout.write(commandLine.text);
    return;
  }
  if (isStandaloneEnvironment()) return standalone(commandLine);
  const config = loadConfig(CliConfig);
  const database = { url: config.migrationUrl, applicationName: 'gatehouse-cli' };
  switch (commandLine.command) {
    case 'migrate': {
      if (await createDatabaseIfMissing(config.migrationUrl)) log('created the database');
      const applied = await runMigrations(database);
      log(applied.length ? `applied: ${applied.join(', ')}` : 'database is up to date');
      return;
    }
    case 'revert':
      await revertLastMigration(database);
      log('reverted the last migration');
      return;
    case 'bootstrap':
      await bootstrap(config, commandLine);
      return;
    case 'dev-users':
      // Servers mode trusts the organization's own identity provider: there is no development one to add users to.
      throw new Error(
        'dev-users works in standalone mode only (DATABASE_URL and REDIS_URL unset), on the suite started by npm start',
      );
  }
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (error: unknown) => {
    if (error instanceof UsageError) {
      log(`gatehouse-cli: ${error.message}\n\n${error.usage}`);
      process.exit(USAGE_EXIT_CODE);
    }
    log(`error: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
