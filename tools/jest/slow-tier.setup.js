// Integration and end-to-end files start real processes and databases: seconds, not milliseconds, on two cores.
jest.setTimeout(60_000);
