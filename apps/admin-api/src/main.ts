import 'reflect-metadata';
import { loadConfig } from '@gatehouse/config';
import { createHttpApp, exitOnStartupError } from '@gatehouse/http';
import { AdminApiConfig } from './app/admin-api.config';
import { AdminApiModule } from './app/admin-api.module';

async function main(): Promise<void> {
  const config = loadConfig(AdminApiConfig);
  await createHttpApp(AdminApiModule.register(config), config);
}

main().catch(exitOnStartupError('admin-api'));
