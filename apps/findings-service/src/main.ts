import 'reflect-metadata';
import { loadConfig } from '@gatehouse/config';
import { createHttpApp, exitOnStartupError } from '@gatehouse/http';
import { FindingsServiceConfig } from './app/findings-service.config';
import { FindingsServiceModule } from './app/findings-service.module';

async function main(): Promise<void> {
  const config = loadConfig(FindingsServiceConfig);
  await createHttpApp(FindingsServiceModule.register(config), config);
}

main().catch(exitOnStartupError('findings-service'));
