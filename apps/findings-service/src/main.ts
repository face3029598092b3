import './instrument';
import 'reflect-metadata';
import { loadConfig } from '@gatehouse/config';
import { SARIF_MEDIA_TYPE } from '@gatehouse/findings';
import { createHttpApp, exitOnStartupError } from '@gatehouse/http';
import { FindingsServiceConfig } from './app/findings-service.config';
import { FindingsServiceModule } from './app/findings-service.module';

async function main(): Promise<void> {
  const config = loadConfig(FindingsServiceConfig);
  await createHttpApp(FindingsServiceModule.register(config), config, {
    openApi: {
      title: 'Gatehouse findings-service',
      description:
        'Scan uploads (SARIF 2.1.0 and native JSON), findings tracked from scan to scan, and their queries.',
      tags: [
        { name: 'findings', description: 'Scan results of an organization' },
        { name: 'scans', description: 'Uploads and their processing' },
      ],
    },
    // Uploads are read as bytes (maybe gzip) and parsed as a stream by the findings slice, under their own limit.
    rawBodyRoutes: [
      {
        method: 'POST',
        url: '/api/v1/findings',
        bodyLimitBytes: config.SCAN_MAX_UPLOAD_BYTES,
        bodyLimitName: 'SCAN_MAX_UPLOAD_BYTES',
        mediaTypes: ['application/json', SARIF_MEDIA_TYPE],
      },
    ],
  });
}

main().catch(exitOnStartupError('findings-service'));
