import './instrument';
import 'reflect-metadata';
import { loadConfig } from '@gatehouse/config';
import { createHttpApp, exitOnStartupError } from '@gatehouse/http';
import { AuthServiceConfig } from './app/auth-service.config';
import { AuthServiceModule } from './app/auth-service.module';

async function main(): Promise<void> {
  const config = loadConfig(AuthServiceConfig);
  await createHttpApp(AuthServiceModule.register(config), config, {
    openApi: {
      title: 'Gatehouse auth-service',
      description:
        'Exchanges API keys for short-lived RS256 access tokens and publishes the keys that verify them.',
      tags: [{ name: 'auth', description: 'API keys in, access tokens out' }],
    },
  });
}

main().catch(exitOnStartupError('auth-service'));
