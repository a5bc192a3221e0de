import type { Registry } from 'prom-client';

type Labels = Record<string, string | number>;

interface MetricValue {
  value: number;
  labels: Labels;
  metricName?: string;
}

/**
 * Metrics for the request path, registered in a prom-client registry as custom collectors.
 * prom-client hashes the label set on every inc() and observe(), even through a child from
 * labels(); these take a key the caller already has and touch one number.
 */
abstract class HotMetric {
  readonly aggregator = 'sum';

  constructor(
    registry: Registry,
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'histogram',
  ) {
    registry.registerMetric(this as never);
  }

  abstract get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: MetricValue[] }>;

  protected result(values: MetricValue[]) {
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values });
  }
}

/** A counter whose series are found by a caller-made key; labels are built once per series. */
export class HotCounter extends HotMetric {
  private readonly series = new Map<string, MetricValue>();

  constructor(registry: Registry, name: string, help: string) {
    super(registry, name, help, 'counter');
  }

  inc(key: string, labels: () => Labels): void {
    const entry = this.series.get(key);
    if (entry !== undefined) {
      entry.value++;
    } else {
      this.series.set(key, { value: 1, labels: labels() });
    }
  }

  get() {
    return this.result([...this.series.values()].map((v) => ({ value: v.value, labels: v.labels })));
  }
}

interface HistogramSeries {
  readonly labels: Labels;
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

/** A histogram with one label, fixed buckets and cumulative output at scrape time. */
export class HotHistogram extends HotMetric {
  private readonly series = new Map<string, HistogramSeries>();

  constructor(
    registry: Registry,
    name: string,
    help: string,
    private readonly label: string,
    private readonly buckets: readonly number[],
  ) {
    super(registry, name, help, 'histogram');
  }

  observe(labelValue: string, value: number): void {
    let s = this.series.get(labelValue);
    if (s === undefined) {
      s = { labels: { [this.label]: labelValue }, counts: new Float64Array(this.buckets.length), sum: 0, count: 0 };
      this.series.set(labelValue, s);
    }
    const i = this.buckets.findIndex((upper) => value <= upper);
    if (i !== -1) s.counts[i]++;
    s.sum += value;
    s.count++;
  }

  get() {
    const values: MetricValue[] = [];
    for (const s of this.series.values()) {
      let cumulative = 0;
      this.buckets.forEach((upper, i) => {
        cumulative += s.counts[i];
        values.push({ metricName: `${this.name}_bucket`, labels: { ...s.labels, le: upper }, value: cumulative });
      });
      values.push({ metricName: `${this.name}_bucket`, labels: { ...s.labels, le: '+Inf' }, value: s.count });
      values.push({ metricName: `${this.name}_sum`, labels: s.labels, value: s.sum });
      values.push({ metricName: `${this.name}_count`, labels: s.labels, value: s.count });
    }
    return this.result(values);
  }
}
