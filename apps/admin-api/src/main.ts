import './instrument';
import 'reflect-metadata';
import { loadConfig } from '@gatehouse/config';
import { createHttpApp, exitOnStartupError } from '@gatehouse/http';
import { AdminApiConfig } from './app/admin-api.config';
import { AdminApiModule } from './app/admin-api.module';

async function main(): Promise<void> {
  const config = loadConfig(AdminApiConfig);
  await createHttpApp(AdminApiModule.register(config), config, {
    openApi: {
      title: 'Gatehouse admin-api',
      description: "Administration of an organization's API keys, and its audit trail.",
      tags: [
        { name: 'api-keys', description: 'Create, list, rotate, revoke and delete API keys' },
        { name: 'audit-events', description: 'Who changed which key, when' },
        { name: 'me', description: 'Who the caller is: identity, organization, role and permissions' },
        {
          name: 'webhooks',
          description: 'Signed key events POSTed to your endpoints, and their delivery log',
        },
      ],
    },
  });
}

main().catch(exitOnStartupError('admin-api'));
