import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { SCAN_FORMATS, type ScanFormat } from './findings.constants';

type ScanLabel = 'outcome' | 'format' | 'mode';

/**
 * Every series of `gatehouse_scans_total` the service can move, exposed at 0 from the start so that a rate or an
 * alert on any of them has a series to read: a scan completes in either format and mode; a failure, a replay or a
 * queued upload is counted before its format is known.
 */
const SCAN_SERIES: Record<ScanLabel, string>[] = [
  ...SCAN_FORMATS.flatMap((format) =>
    ['sync', 'async'].map((mode) => ({ outcome: 'completed', format, mode })),
  ),
  { outcome: 'failed', format: 'unknown', mode: 'async' },
  { outcome: 'replayed', format: 'unknown', mode: 'sync' },
  { outcome: 'replayed', format: 'unknown', mode: 'async' },
  { outcome: 'queued', format: 'unknown', mode: 'async' },
];

/** The findings slice's series, registered in the app's registry (GatehouseMetrics.registry). */
export class FindingsMetrics {
  /** Scans by outcome (completed, failed, queued, replayed), format and mode (sync: in the request; async). */
  readonly scans: Counter<ScanLabel>;
  readonly results: Counter<'format'>;
  /** From the start of processing to the commit, per mode. */
  readonly processingSeconds: Histogram<'mode'>;
  /** Stored uploads waiting for a worker, as last seen by this instance's worker. */
  readonly queued: Gauge;

  constructor(registry: Registry) {
    const registers = [registry];
    this.scans = new Counter({
      name: 'gatehouse_scans_total',
      help: 'Uploads of findings by outcome, format and mode',
      labelNames: ['outcome', 'format', 'mode'],
      registers,
    });
    this.results = new Counter({
      name: 'gatehouse_scan_results_total',
      help: 'Results read from completed scans',
      labelNames: ['format'],
      registers,
    });
    for (const series of SCAN_SERIES) this.scans.inc(series, 0);
    for (const format of SCAN_FORMATS) this.results.inc({ format }, 0);
    this.processingSeconds = new Histogram({
      name: 'gatehouse_scan_processing_seconds',
      help: 'Time to read and store a scan, by mode',
      labelNames: ['mode'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
      registers,
    });
    this.queued = new Gauge({
      name: 'gatehouse_scans_queued',
      help: 'Stored uploads waiting to be processed',
      registers,
    });
  }

  completed(format: ScanFormat, mode: 'sync' | 'async', results: number, seconds: number): void {
    this.scans.inc({ outcome: 'completed', format, mode });
    this.results.inc({ format }, results);
    this.processingSeconds.observe({ mode }, seconds);
  }
}
