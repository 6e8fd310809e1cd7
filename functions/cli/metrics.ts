import { Metrics } from '@aws-lambda-powertools/metrics';
import { DEFAULT_METRICS_NAMESPACE, SERVICE_NAME } from '../shared/metric-names';

/**
 * Powertools Metrics whose EMF documents go to `sink` instead of stdout: on a developer's
 * machine stdout carries the report (`--format json` must stay parseable) and no CloudWatch
 * agent reads EMF anyway. The runner shows them at PERPS_LOG_LEVEL=debug.
 */
export class LocalMetrics extends Metrics {
  constructor(private readonly sink: (emf: string) => void) {
    super({ namespace: DEFAULT_METRICS_NAMESPACE, serviceName: SERVICE_NAME });
  }

  override publishStoredMetrics(): this {
    try {
      if (this.hasStoredMetrics()) this.sink(JSON.stringify(this.serializeMetrics()));
    } finally {
      this.clearMetrics();
      this.clearDimensions();
      this.clearMetadata();
    }
    return this;
  }
}
