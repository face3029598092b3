export * from './lib/dto/ingest-findings.dto';
export * from './lib/dto/list-findings.dto';
export * from './lib/findings.module';
export * from './lib/findings.service';
