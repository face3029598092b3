import { EmbeddedDatabaseNotHostedError, PersistenceModule } from './persistence.module';

describe('PersistenceModule.forRoot with the driver an app configured', () => {
  const server = { url: 'postgres://db/gatehouse', poolSize: 4, applicationName: 'gatehouse-test' };

  it('registers the server for DATABASE_DRIVER=postgres', () => {
    expect(PersistenceModule.forRoot({ driver: 'postgres', ...server }).module).toBe(PersistenceModule);
  });

  it('refuses DATABASE_DRIVER=embedded in a process that hosts no embedded database, before anything starts', () => {
    expect(() => PersistenceModule.forRoot({ driver: 'embedded', ...server })).toThrow(
      EmbeddedDatabaseNotHostedError,
    );
    expect(() => PersistenceModule.forRoot({ driver: 'embedded', ...server })).toThrow(
      /DATABASE_DRIVER=embedded, but this process hosts no embedded database/,
    );
  });
});
