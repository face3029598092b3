import 'reflect-metadata';
import { loadConfig } from '@gatehouse/config';
import { createHttpApp, exitOnStartupError } from '@gatehouse/http';
import { FindingsServiceConfig } from './app/findings-service.config';
import { FindingsServiceModule } from './app/findings-service.module';

async function main(): Promise<void> {
  const config = loadConfig(FindingsServiceConfig);
  await createHttpApp(FindingsServiceModule.register(config), config, {
    openApi: {
      title: 'Gatehouse findings-service',
      description: 'Findings ingest and listing, for callers holding an access token.',
      tags: [{ name: 'findings', description: 'Scan results of an organization' }],
    },
  });
}

main().catch(exitOnStartupError('findings-service'));
