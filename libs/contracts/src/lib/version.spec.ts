import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GATEHOUSE_VERSION } from './version';

describe('GATEHOUSE_VERSION', () => {
  it("is the root package.json's version, which a release bumps", () => {
    const manifest = JSON.parse(readFileSync(join(__dirname, '../../../../package.json'), 'utf8')) as {
      version: string;
    };
    expect(GATEHOUSE_VERSION).toBe(manifest.version);
  });
});
