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

/**
 * gateway_http_requests_total: one series per route class, method and status. A series is found
 * by two small integers and the status code, without building a key string; its labels are made
 * once, when it first counts.
 */
export class RequestCounter extends HotMetric {
  private readonly cells: Array<Map<number, MetricValue> | undefined> = [];

  constructor(
    registry: Registry,
    name: string,
    help: string,
    private readonly routes: readonly string[],
    private readonly methods: readonly string[],
  ) {
    super(registry, name, help, 'counter');
  }

  /** `route` and `method` index the arrays given to the constructor. */
  inc(route: number, method: number, status: number): void {
    const cell = route * this.methods.length + method;
    let byStatus = this.cells[cell];
    if (byStatus === undefined) this.cells[cell] = byStatus = new Map();
    const series = byStatus.get(status);
    if (series !== undefined) {
      series.value++;
    } else {
      byStatus.set(status, { value: 1, labels: { route: this.routes[route], method: this.methods[method], status: String(status) } });
    }
  }

  get() {
    const values: MetricValue[] = [];
    for (const byStatus of this.cells) {
      if (byStatus !== undefined) for (const series of byStatus.values()) values.push({ value: series.value, labels: series.labels });
    }
    return this.result(values);
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
    const buckets = this.buckets;
    for (let i = 0; i < buckets.length; i++) {
      if (value <= buckets[i]) {
        s.counts[i]++;
        break;
      }
    }
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
