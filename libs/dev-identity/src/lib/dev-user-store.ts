import { randomBytes, randomUUID, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { ORGANIZATION_NAME, ROLES, type Role } from '@gatehouse/contracts';
import { DevUserExistsError, DevUserRejectedError } from './dev-identity.errors';

/** A development user as the provider knows it: the password only as a scrypt hash. */
export interface DevUser {
  id: string;
  username: string;
  /** The Gatehouse organization's name, the token's `org`. */
  org: string;
  role: Role;
  password_hash: string;
  created_at: string;
}

export interface NewDevUser {
  org: string;
  /** One of ROLES; anything else is refused with a message. */
  role: string;
  /** `<role>@<org>` unless given. */
  username?: string;
}

/** A created user with its password, which exists nowhere else: shown once. */
export interface DevUserCredentials {
  id: string;
  username: string;
  password: string;
  org: string;
  role: Role;
}

/** Where the provider's users live: a file in the data directory, or memory (tests). */
export interface DevUserStore {
  findById(id: string): Promise<DevUser | undefined>;
  findByUsername(username: string): Promise<DevUser | undefined>;
  /** Creates a user with a random password; refuses a username that exists. */
  create(user: NewDevUser): Promise<DevUserCredentials>;
  /** The user when the password is theirs; undefined for an unknown user or a wrong password alike. */
  verify(username: string, password: string): Promise<DevUser | undefined>;
}

const USERNAME = /^[a-z0-9][a-z0-9._@-]{0,99}$/;
/** scrypt's recommended interactive parameters (N = 2^15, r = 8, p = 1): about 100 ms here, 32 MiB. */
const SCRYPT: ScryptOptions = { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };
const KEY_LENGTH = 32;

function scryptAsync(password: string, salt: Buffer, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password, salt, KEY_LENGTH, options, (error, key) => (error ? reject(error) : resolve(key))),
  );
}

/** `scrypt$<N>$<r>$<p>$<salt>$<hash>`, base64url. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scryptAsync(password, salt, SCRYPT);
  return [
    'scrypt',
    SCRYPT.N,
    SCRYPT.r,
    SCRYPT.p,
    salt.toString('base64url'),
    hash.toString('base64url'),
  ].join('$');
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64url');
  const actual = await scryptAsync(password, Buffer.from(salt, 'base64url'), {
    N: Number(n),
    r: Number(r),
    p: Number(p),
    maxmem: SCRYPT.maxmem,
  });
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/** 24 random bytes, base64url: 32 characters a person can copy. */
export function generatePassword(): string {
  return randomBytes(24).toString('base64url');
}

/**
 * An unknown username costs the same scrypt as a wrong password, so that the login form's timing does not tell
 * which usernames exist.
 */
let decoyHash: Promise<string> | undefined;

function checkNewUser(
  user: NewDevUser,
  taken: (username: string) => boolean,
): Omit<DevUser, 'password_hash'> {
  if (!ORGANIZATION_NAME.test(user.org)) {
    throw new DevUserRejectedError(`"${user.org}" is not an organization name`);
  }
  if (!(ROLES as readonly string[]).includes(user.role)) {
    throw new DevUserRejectedError(`role must be one of ${ROLES.join(', ')}`);
  }
  const username = user.username ?? `${user.role}@${user.org}`;
  if (!USERNAME.test(username)) {
    throw new DevUserRejectedError(
      'username must be 1–100 lowercase letters, digits, ".", "_", "@" or "-", starting with a letter or digit',
    );
  }
  if (taken(username)) throw new DevUserExistsError(username);
  return {
    id: randomUUID(),
    username,
    org: user.org,
    role: user.role as Role,
    created_at: new Date().toISOString(),
  };
}

/** Users kept in this process only: for tests that run the provider beside the apps. */
export class MemoryDevUserStore implements DevUserStore {
  protected users: DevUser[] = [];

  findById(id: string): Promise<DevUser | undefined> {
    return Promise.resolve(this.users.find((user) => user.id === id));
  }

  findByUsername(username: string): Promise<DevUser | undefined> {
    return Promise.resolve(this.users.find((user) => user.username === username));
  }

  async create(request: NewDevUser): Promise<DevUserCredentials> {
    const user = checkNewUser(request, (username) => this.users.some((u) => u.username === username));
    const password = generatePassword();
    this.users = [...this.users, { ...user, password_hash: await hashPassword(password) }];
    this.saved();
    return { id: user.id, username: user.username, password, org: user.org, role: user.role };
  }

  async verify(username: string, password: string): Promise<DevUser | undefined> {
    const user = await this.findByUsername(username);
    if (!user) {
      decoyHash ??= hashPassword(generatePassword());
      await verifyPassword(password, await decoyHash);
      return undefined;
    }
    return (await verifyPassword(password, user.password_hash)) ? user : undefined;
  }

  /** Called after every change. */
  protected saved(): void {
    // memory only
  }
}

interface UsersFile {
  version: 1;
  users: DevUser[];
}

/**
 * Users in a JSON file (owner-only, 0600), read at start and rewritten whole on every change: written to a
 * temporary file beside it, then renamed over it, so a crash leaves the old file or the new one, never half of one.
 */
export class FileDevUserStore extends MemoryDevUserStore {
  constructor(private readonly path: string) {
    super();
    let text: string | undefined;
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    if (text !== undefined) {
      const parsed = JSON.parse(text) as Partial<UsersFile>;
      if (parsed.version !== 1 || !Array.isArray(parsed.users)) {
        throw new Error(`${path} is not a development users file`);
      }
      this.users = parsed.users;
    }
  }

  protected override saved(): void {
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
    const temporary = `${this.path}.${process.pid}.tmp`;
    const file: UsersFile = { version: 1, users: this.users };
    writeFileSync(temporary, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
    renameSync(temporary, this.path);
  }
}
