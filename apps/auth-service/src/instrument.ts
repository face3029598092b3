import { startTelemetry } from '@gatehouse/telemetry';

// Imported first by main.ts: tracing hooks `require`, so it starts before fastify, pg, ioredis or undici load.
startTelemetry('auth-service');
