import packageJson from '../../package.json';

/** apps/cli/package.json's version, bundled: the one `npm pack` of the CLI is published with. */
export const CLI_VERSION: string = packageJson.version;
