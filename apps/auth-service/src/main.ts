import 'reflect-metadata';
import { loadConfig } from '@gatehouse/config';
import { createHttpApp, exitOnStartupError } from '@gatehouse/http';
import { AuthServiceConfig } from './app/auth-service.config';
import { AuthServiceModule } from './app/auth-service.module';

async function main(): Promise<void> {
  const config = loadConfig(AuthServiceConfig);
  await createHttpApp(AuthServiceModule.register(config), config);
}

main().catch(exitOnStartupError('auth-service'));
