import { applyDecorators } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import {
  ApiProperty,
  ApiPropertyOptional,
  ApiResponse,
  ApiSchema,
  DocumentBuilder,
  getSchemaPath,
  SwaggerModule,
  type OpenAPIObject,
} from '@nestjs/swagger';
import { ERROR_STATUS, type ErrorBody, type ErrorCode } from '@gatehouse/contracts';
import { OPENAPI_VERSION, toOpenApi31 } from './openapi-3-1';
import { describeChallenges } from './www-authenticate';

/**
 * Where each service serves its own document: outside `/api`, so the gateway, which only forwards `/api/v1/…`
 * prefixes, never exposes it by accident. The gateway merges these documents into `/api/docs`.
 */
export const OPENAPI_DOCUMENT_PATH = '/openapi.json';

/** Names of the two security schemes every document declares. */
export const BEARER_AUTH = 'bearer';
export const API_KEY_AUTH = 'api_key';

/**
 * The license the documents state (OpenAPI 3.1 `info.license`): the repository's package.json says
 * `UNLICENSED`, npm's word for "no license is granted"; `LicenseRef-` is SPDX's form for a license that is not on
 * its list.
 */
export const API_LICENSE = {
  name: 'Proprietary (UNLICENSED)',
  identifier: 'LicenseRef-Proprietary',
} as const;

/** What a route guarded by a bearer token can answer before its own logic runs. */
export const BEARER_ERRORS: readonly ErrorCode[] = [
  'missing_token',
  'invalid_token',
  'token_expired',
  'token_revoked',
  'api_key_disabled',
  'forbidden',
  'ip_not_allowed',
  'service_unavailable',
];

/** What any route with a JSON body can answer before its own logic runs. */
export const JSON_BODY_ERRORS: readonly ErrorCode[] = [
  'validation_failed',
  'malformed_json',
  'payload_too_large',
  'unsupported_media_type',
];

export interface OpenApiOptions {
  title: string;
  description?: string;
  /** Version of the API described; the routes are all under `/api/v1`. */
  version?: string;
  /** The tags the controllers use, with a sentence each for the reader. */
  tags?: { name: string; description: string }[];
}

@ApiSchema({
  name: 'FieldProblem',
  description: 'One invalid field of a request, in `details` of validation_failed.',
})
export class FieldProblemSchema {
  @ApiProperty({ description: 'Path of the field, dotted for nested ones', example: 'findings.0.severity' })
  field!: string;

  @ApiProperty({
    type: 'string',
    isArray: true,
    example: ['severity must be one of the following values: critical, high, medium, low, info'],
  })
  problems!: string[];
}

@ApiSchema({
  name: 'ErrorBody',
  description:
    'The one error body of the whole suite. Clients branch on `error`, a stable code, never on `message`.',
})
export class ErrorBodySchema implements ErrorBody {
  @ApiProperty({ enum: Object.keys(ERROR_STATUS), example: 'validation_failed' })
  error!: ErrorCode;

  @ApiProperty({
    description: 'Human-readable explanation',
    example: 'client_id must be longer than or equal to 3 characters',
  })
  message!: string;

  @ApiProperty({
    description: 'Id of the request, as logged; also sent in the X-Request-Id response header',
    example: '3f0c2a9e-5d5c-4a41-9a4b-0c6f8f1e2d3b',
  })
  request_id!: string;

  @ApiPropertyOptional({
    description:
      'Structured context: the invalid fields for validation_failed, the state of each dependency for a ' +
      'readiness failure; absent otherwise',
    oneOf: [
      { type: 'array', items: { $ref: getSchemaPath(FieldProblemSchema) } },
      { type: 'object', additionalProperties: true },
    ],
  })
  details?: unknown;

  @ApiPropertyOptional({
    type: 'integer',
    minimum: 0,
    description: 'Seconds to wait before retrying; sent with rate_limit_exceeded, as is a Retry-After header',
  })
  retry_after?: number;
}

/**
 * Documents the error responses of a route from its error codes: one response per HTTP status (derived from the
 * code, as at run time), each with the shared ErrorBody schema and the codes it may carry.
 */
export function ApiErrors(...codes: ErrorCode[]): MethodDecorator & ClassDecorator {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of new Set(codes)) {
    const status = ERROR_STATUS[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  return applyDecorators(
    ...[...byStatus]
      .sort(([left], [right]) => left - right)
      .map(([status, list]) =>
        ApiResponse({
          status,
          description: `error: ${list.join(', ')}`,
          type: ErrorBodySchema,
          ...(status === 401 && { headers: challengeHeader(list) }),
        }),
      ),
  );
}

/** The `WWW-Authenticate` header of a documented 401 that may carry these codes. */
export function challengeHeader(codes: readonly ErrorCode[]): Record<string, HeaderObject> {
  return {
    'WWW-Authenticate': {
      description: describeChallenges(codes),
      required: true,
      schema: { type: 'string' },
    },
  };
}

interface HeaderObject {
  description: string;
  required: boolean;
  schema: { type: 'string' };
}

/** The service's document, generated from its controllers and DTOs. */
export function buildOpenApiDocument(app: NestFastifyApplication, options: OpenApiOptions): OpenAPIObject {
  const builder = new DocumentBuilder()
    .setOpenAPIVersion(OPENAPI_VERSION)
    .setTitle(options.title)
    .setVersion(options.version ?? '1.0.0')
    .addBearerAuth(
      {
        type: 'http',
        scheme: 'bearer',
        bearerFormat: 'JWT',
        description:
          'A Gatehouse access token from POST /api/v1/auth/m2m/authenticate (RS256, 30 minutes). Where an ' +
          "identity provider is configured (admin-api), also a dashboard user's token from it; the role claim " +
          'decides the permissions.',
      },
      BEARER_AUTH,
    )
    .addApiKey(
      {
        type: 'apiKey',
        in: 'header',
        name: 'X-API-Key',
        description: 'A long-lived API key (gth_live_… or gth_test_…), exchanged for an access token',
      },
      API_KEY_AUTH,
    );
  if (options.description) builder.setDescription(options.description);
  for (const tag of options.tags ?? []) builder.addTag(tag.name, tag.description);
  const config = builder.build();
  // The license as OpenAPI 3.1 writes it (an SPDX identifier), which DocumentBuilder's setter does not know.
  config.info.license = { ...API_LICENSE };
  const document = SwaggerModule.createDocument(app, config, {
    extraModels: [ErrorBodySchema, FieldProblemSchema],
    autoTagControllers: false,
  });
  return toOpenApi31(document);
}

/** Serves the document as JSON, serialised once: it only changes with the code. */
export function serveOpenApiDocument(app: NestFastifyApplication, document: OpenAPIObject): void {
  const body = JSON.stringify(document);
  app
    .getHttpAdapter()
    .getInstance()
    .get(OPENAPI_DOCUMENT_PATH, (_request, reply) => {
      void reply.type('application/json; charset=utf-8').header('cache-control', 'no-cache').send(body);
    });
}
