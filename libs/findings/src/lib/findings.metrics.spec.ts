import { Registry } from 'prom-client';
import { FindingsMetrics } from './findings.metrics';

describe('FindingsMetrics', () => {
  it('exposes every scan series it can move at 0 before the first upload', async () => {
    const registry = new Registry();
    new FindingsMetrics(registry);
    const text = await registry.metrics();
    for (const series of [
      'gatehouse_scans_total{outcome="completed",format="sarif",mode="sync"} 0',
      'gatehouse_scans_total{outcome="completed",format="native",mode="async"} 0',
      'gatehouse_scans_total{outcome="failed",format="unknown",mode="async"} 0',
      'gatehouse_scans_total{outcome="replayed",format="unknown",mode="sync"} 0',
      'gatehouse_scans_total{outcome="queued",format="unknown",mode="async"} 0',
      'gatehouse_scan_results_total{format="sarif"} 0',
      'gatehouse_scan_results_total{format="native"} 0',
    ]) {
      expect(text).toContain(series);
    }
  });

  it('counts a completed scan on top of its pre-set series', async () => {
    const registry = new Registry();
    const metrics = new FindingsMetrics(registry);
    metrics.completed('native', 'sync', 3, 0.01);
    const text = await registry.metrics();
    expect(text).toContain('gatehouse_scans_total{outcome="completed",format="native",mode="sync"} 1');
    expect(text).toContain('gatehouse_scan_results_total{format="native"} 3');
  });
});
