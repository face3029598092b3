/** The development identity provider was asked to start where it must never run. */
export class DevIdentityInProductionError extends Error {
  constructor() {
    super(
      'the development identity provider refuses to start with NODE_ENV=production: it signs anyone with a ' +
        'password from a local file in; set OIDC_ISSUER to your identity provider (or DEV_IDENTITY=off)',
    );
    this.name = 'DevIdentityInProductionError';
  }
}

/** A development user that cannot be created as asked (unknown organization or role, a taken username). */
export class DevUserRejectedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DevUserRejectedError';
  }
}

/** The username asked for is taken. */
export class DevUserExistsError extends DevUserRejectedError {
  constructor(username: string) {
    super(`user ${username} exists already`);
    this.name = 'DevUserExistsError';
  }
}

/** Throws unless this is a development or test environment. */
export function refuseInProduction(env: NodeJS.ProcessEnv = process.env): void {
  if (env['NODE_ENV'] === 'production') throw new DevIdentityInProductionError();
}
