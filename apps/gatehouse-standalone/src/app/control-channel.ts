import { chmodSync, unlinkSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { NestFactory } from '@nestjs/core';
import { ApiKeysService } from '@gatehouse/api-keys';
import { isGatehouseError } from '@gatehouse/contracts';
import { DevUserExistsError, DevUserRejectedError, type DevUserStore } from '@gatehouse/dev-identity';
import {
  OrganizationEntity,
  PLANS,
  runMigrations,
  type EmbeddedDatabase,
  type Plan,
} from '@gatehouse/persistence';
import { DataSource } from 'typeorm';
import { ControlModule } from './control.module';
import { hostLog, HostLogger } from './host-logger';
import type { StandaloneConfig } from './standalone.config';

/**
 * Requests of the control channel, HTTP over the Unix socket `<data dir>/control.sock` (mode 0600: only the
 * user running the suite). `gatehouse-cli` speaks it when DATABASE_URL and REDIS_URL are unset: PGlite has one
 * owner process, so the CLI asks the suite instead of opening the database files a second time.
 * - `POST /v1/bootstrap` `{"org": "acme", "plan": "enterprise"}` → 201 and the bootstrap result; with the
 *   development identity provider on, the organization's owner there too (made the first time only: its password
 *   is in `dashboard` then, as the key is shown once);
 * - `POST /v1/dev-users` `{"org": "acme", "role": "viewer", "username"?: "…"}` → 201 `{username, password, …}`, a
 *   user of the development identity provider (409 when it is off);
 * - `POST /v1/migrate` → 200 `{"applied": [names]}` (pending migrations are applied at start already);
 * - `GET /v1/status` → 200 with the URLs and the data directory.
 * Errors are `{"error": code, "message": text}` with the status the API would use.
 */
export const CONTROL_ROUTES = {
  bootstrap: '/v1/bootstrap',
  devUsers: '/v1/dev-users',
  migrate: '/v1/migrate',
  status: '/v1/status',
} as const;

/** As gatehouse-cli checks it before sending. */
const ORG_NAME = /^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/;
const MAX_BODY_BYTES = 4096;
/** Longest Unix socket path Linux accepts (sun_path is 108 bytes with its terminator). */
const SOCKET_PATH_MAX_BYTES = 107;

/** The development identity provider's users, when the suite runs it. */
export interface ControlDevIdentity {
  users: DevUserStore;
  /** Where a user signs in: the dashboard, at the gateway. */
  dashboardUrl: string;
}

export interface ControlChannel {
  path: string;
  close(): Promise<void>;
}

class BadRequest extends Error {}

function send(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

async function readJson(request: IncomingMessage): Promise<Record<string, unknown>> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new BadRequest(`request body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return {};
  let value: unknown;
  try {
    value = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new BadRequest('request body is not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new BadRequest('request body must be a JSON object');
  }
  return value as Record<string, unknown>;
}

function removeStaleSocket(path: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

export async function startControlChannel(
  database: EmbeddedDatabase,
  config: StandaloneConfig,
  status: () => Record<string, unknown>,
  devIdentity?: ControlDevIdentity,
): Promise<ControlChannel> {
  const path = database.layout.controlSocket;
  if (Buffer.byteLength(path) > SOCKET_PATH_MAX_BYTES) {
    throw new Error(
      `the control socket path ${path} is longer than ${SOCKET_PATH_MAX_BYTES} bytes; ` +
        'choose a shorter GATEHOUSE_DATA_DIR',
    );
  }
  const context = await NestFactory.createApplicationContext(ControlModule.register(database, config), {
    logger: new HostLogger(),
    abortOnError: false,
  });
  const apiKeys = context.get(ApiKeysService);
  const organizations = context.get(DataSource).getRepository(OrganizationEntity);

  /** The organization's owner at the development identity provider: made once, its password shown that once. */
  const dashboardOwner = async (org: string) => {
    if (!devIdentity) return {};
    const username = `owner@${org}`;
    const shown = { url: devIdentity.dashboardUrl, username };
    if (await devIdentity.users.findByUsername(username)) return { dashboard: shown };
    const { password } = await devIdentity.users.create({ org, role: 'owner', username });
    return { dashboard: { ...shown, password } };
  };

  const run = async (request: IncomingMessage): Promise<[number, unknown]> => {
    const route = `${request.method} ${request.url}`;
    switch (route) {
      case `GET ${CONTROL_ROUTES.status}`:
        return [200, status()];
      case `POST ${CONTROL_ROUTES.bootstrap}`: {
        const { org, plan = 'enterprise' } = await readJson(request);
        if (typeof org !== 'string' || !ORG_NAME.test(org)) {
          throw new BadRequest(
            'org must be 1–40 lowercase letters, digits or "-", not starting or ending with "-"',
          );
        }
        if (typeof plan !== 'string' || !PLANS.includes(plan as Plan)) {
          throw new BadRequest(`plan must be one of ${PLANS.join(', ')}`);
        }
        const result = await apiKeys.bootstrap(org, plan as Plan);
        hostLog('info', 'bootstrapped an organization', {
          organization: result.organization.name,
          created: result.organization.created,
          api_key_id: result.api_key_id,
        });
        return [201, { ...result, ...(await dashboardOwner(result.organization.name)) }];
      }
      case `POST ${CONTROL_ROUTES.devUsers}`: {
        if (!devIdentity) {
          return [
            409,
            {
              error: 'conflict',
              message:
                'the development identity provider is off in this suite (OIDC_ISSUER is set, or DEV_IDENTITY=off)',
            },
          ];
        }
        const { org, role, username } = await readJson(request);
        if (typeof org !== 'string' || typeof role !== 'string')
          throw new BadRequest('org and role are required');
        if (username !== undefined && typeof username !== 'string')
          throw new BadRequest('username must be text');
        if (!ORG_NAME.test(org) || !(await organizations.existsBy({ name: org }))) {
          return [
            404,
            {
              error: 'not_found',
              message: `no organization ${org}: bootstrap it first (npm run bootstrap -- --org ${org})`,
            },
          ];
        }
        try {
          const user = await devIdentity.users.create({
            org,
            role,
            ...(username !== undefined && { username }),
          });
          hostLog('info', 'added a development user', {
            username: user.username,
            organization: org,
            role: user.role,
          });
          return [201, user];
        } catch (error) {
          if (error instanceof DevUserExistsError)
            return [409, { error: 'conflict', message: error.message }];
          if (error instanceof DevUserRejectedError) throw new BadRequest(error.message);
          throw error;
        }
      }
      case `POST ${CONTROL_ROUTES.migrate}`: {
        const applied = await runMigrations({ embedded: database, applicationName: 'gatehouse-standalone' });
        return [200, { applied }];
      }
      default:
        return [404, { error: 'not_found', message: `no control route ${route}` }];
    }
  };

  const server = createServer((request, response) => {
    run(request).then(
      ([status, body]) => send(response, status, body),
      (error: unknown) => {
        if (error instanceof BadRequest) {
          send(response, 400, { error: 'validation_failed', message: error.message });
        } else if (isGatehouseError(error)) {
          send(response, error.status, { error: error.code, message: error.message });
        } else {
          const message = error instanceof Error ? error.message : String(error);
          hostLog('error', `control request failed: ${message}`, { route: request.url });
          send(response, 500, { error: 'internal_error', message });
        }
      },
    );
  });

  // The data directory's lock is this process's: a socket found there was left by a suite that was killed.
  removeStaleSocket(path);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      // The socket is bound synchronously inside listen(): created with mode 0600 from the start.
      const previous = process.umask(0o177);
      try {
        server.listen(path, () => resolve());
      } finally {
        process.umask(previous);
      }
    });
    chmodSync(path, 0o600);
  } catch (error) {
    await context.close();
    throw error;
  }

  return {
    path,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      removeStaleSocket(path);
      await context.close();
    },
  };
}
