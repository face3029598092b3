/** The release of Gatehouse, as in the root package.json (version.spec.ts holds them equal). */
export const GATEHOUSE_VERSION = '0.1.0';
