import { DataServiceConfig } from '@gatehouse/config';

/** The CLI reads the same database and Redis variables as the services. */
export class CliConfig extends DataServiceConfig {}
