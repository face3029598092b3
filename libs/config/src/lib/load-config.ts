import { plainToInstance } from 'class-transformer';
import { validateSync, type ValidationError } from 'class-validator';
import { sensitiveKeysOf } from './sensitive.decorator';

export class ConfigValidationError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigValidationError';
  }
}

type Environment = Record<string, string | undefined>;

function describe(errors: ValidationError[]): string[] {
  // Several constraints of one variable may share one message (GATEWAY_SECRET): say it once.
  return [...new Set(describeAll(errors))];
}

function describeAll(errors: ValidationError[]): string[] {
  return errors.flatMap((error) =>
    Object.values(error.constraints ?? {}).map((constraint) =>
      // class-validator messages start with the property name, which is the variable name here.
      constraint.startsWith(error.property) ? constraint : `${error.property}: ${constraint}`,
    ),
  );
}

/**
 * Reads, converts and validates an app's configuration class once at start-up. Empty strings count as unset
 * so that `FOO=` in a compose file falls back to the default instead of failing a type check.
 */
export function loadConfig<T extends object>(
  ConfigClass: new () => T,
  environment: Environment = process.env,
): T {
  const defaults = new ConfigClass();
  const input: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(environment)) {
    if (value !== undefined && value !== '' && name in defaults) input[name] = value;
  }
  const config = plainToInstance(ConfigClass, { ...defaults, ...input }, { enableImplicitConversion: true });
  const errors = validateSync(config, { forbidUnknownValues: false, validationError: { value: false } });
  if (errors.length > 0) throw new ConfigValidationError(describe(errors));
  return config;
}

/** The configuration as it may be logged: sensitive values replaced by a marker. */
export function redactConfig<T extends object>(config: T): Record<string, unknown> {
  const sensitive = sensitiveKeysOf(config);
  return Object.fromEntries(
    Object.entries(config).map(([key, value]) => [
      key,
      sensitive.has(key) && value !== undefined ? '[redacted]' : value,
    ]),
  );
}
