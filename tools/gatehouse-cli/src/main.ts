import 'reflect-metadata';
import { parseArgs } from 'node:util';
import { NestFactory } from '@nestjs/core';
import { ApiKeysService } from '@gatehouse/api-keys';
import { loadConfig } from '@gatehouse/config';
import { isGatehouseError } from '@gatehouse/contracts';
import {
  createDatabaseIfMissing,
  PLANS,
  revertLastMigration,
  runMigrations,
  type Plan,
} from '@gatehouse/persistence';
import { CliConfig } from './app/cli.config';
import { CliModule } from './app/cli.module';
import { StderrLogger } from './app/stderr.logger';

const USAGE = `Usage:
  gatehouse-cli migrate                                   apply pending migrations
  gatehouse-cli revert                                    undo the last migration
  gatehouse-cli bootstrap --org <name> [--plan <plan>]    create an organization and print its owner key once
                                                          plan: ${PLANS.join(' | ')} (default enterprise)`;

const ORG_NAME = /^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/;

class UsageError extends Error {}

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

async function bootstrap(config: CliConfig, args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { org: { type: 'string' }, plan: { type: 'string', default: 'enterprise' } },
    strict: true,
  });
  const org = values.org;
  if (!org || !ORG_NAME.test(org)) {
    throw new UsageError(
      '--org must be 1–40 lowercase letters, digits or "-", not starting or ending with "-"',
    );
  }
  if (!PLANS.includes(values.plan as Plan)) throw new UsageError(`--plan must be one of ${PLANS.join(', ')}`);
  const app = await NestFactory.createApplicationContext(CliModule.register(config), {
    logger: new StderrLogger(),
    abortOnError: false,
  });
  try {
    const result = await app.get(ApiKeysService).bootstrap(org, values.plan as Plan);
    // The only place the owner secret is ever printed.
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await app.close();
  }
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
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
