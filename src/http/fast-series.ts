import type { Registry } from 'prom-client';

/**
 * Counters and histograms for the per-request and per-store-operation hot paths. prom-client's
 * labelled children re-validate and re-hash their label object on every inc() and observe(); these
 * series are bound to their labels once and accumulate into plain numbers, and the registry reads
 * them at scrape time through the same interface it uses for its own metrics (name, help, type,
 * get/getForPromString, reset). The values handed over have prom-client's shapes, in prom-client's
 * order (series in order of first observation, labels in labelNames order), so the exposition is
 * the same text prom-client's Counter and Histogram would produce. Only what Gatehouse needs:
 * positional label values, inc() by one, observe(seconds).
 */

interface SeriesConfig<L extends string> {
  name: string;
  help: string;
  labelNames: readonly L[];
  registers: Registry[];
}

type Labels = Record<string, string>;

/** Values prom-client's registry formats: labels, shared (series) labels, value, metric name. */
interface ExportedValue {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
  sharedLabels?: Labels;
  /** Always null here (no exemplars); present on buckets as prom-client sets it. */
  exemplar?: null;
}

abstract class FastMetric<S extends { labels: Labels }, L extends string> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly L[];
  readonly aggregator = 'sum';
  abstract readonly type: 'counter' | 'histogram';
  /** Every series handed out, by label values; stays valid across reset(). */
  private readonly byKey = new Map<string, S>();
  /** The series observed at least once, in order of first observation (prom-client's order). */
  protected listed: S[] = [];

  constructor(config: SeriesConfig<L>) {
    this.name = config.name;
    this.help = config.help;
    this.labelNames = config.labelNames;
    for (const registry of config.registers) registry.registerMetric(this as never);
  }

  /** The series for these label values (in labelNames order), made once. */
  labels(...values: string[]): S {
    if (values.length !== this.labelNames.length) {
      throw new Error(
        `Invalid number of arguments (${values.length}) for label names (${this.labelNames.length}) of ${this.name}`,
      );
    }
    const key = values.join('\u0000');
    let series = this.byKey.get(key);
    if (!series) {
      const labels: Labels = {};
      this.labelNames.forEach((labelName, i) => (labels[labelName] = values[i] as string));
      series = this.createSeries(labels, (s) => this.listed.push(s));
      this.byKey.set(key, series);
    }
    return series;
  }

  protected abstract createSeries(labels: Labels, list: (series: S) => void): S;
  protected abstract exportValues(): ExportedValue[];
  protected abstract clear(series: S): void;

  /** What the registry formats for the text exposition. */
  getForPromString() {
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      values: this.exportValues(),
      aggregator: this.aggregator,
    };
  }

  /** What getMetricsAsJSON (and cluster aggregation) read: shared labels merged into each value. */
  get() {
    const data = this.getForPromString();
    data.values = data.values.map(({ labels, sharedLabels, ...rest }) => ({
      ...rest,
      labels: { ...labels, ...sharedLabels },
    }));
    return data;
  }

  /** registry.resetMetrics(): every series back to unobserved, like prom-client's reset(). */
  reset() {
    for (const series of this.listed) this.clear(series);
    this.listed = [];
  }
}

/** One counter series, bound to its label values. */
export class CounterSeries {
  value = 0;
  private listed = false;

  constructor(
    readonly labels: Labels,
    private readonly list: (series: CounterSeries) => void,
  ) {}

  inc(): void {
    if (!this.listed) {
      this.listed = true;
      this.list(this);
    }
    this.value += 1;
  }

  unlist() {
    this.value = 0;
    this.listed = false;
  }
}

export class FastCounter<L extends string> extends FastMetric<CounterSeries, L> {
  readonly type = 'counter';

  protected createSeries(labels: Labels, list: (series: CounterSeries) => void) {
    return new CounterSeries(labels, list);
  }

  protected exportValues(): ExportedValue[] {
    return this.listed.map((series) => ({ labels: series.labels, value: series.value }));
  }

  protected clear(series: CounterSeries) {
    series.unlist();
  }
}

/** One histogram series: a count per bucket (not cumulative, like prom-client), sum and count. */
export class HistogramSeries {
  readonly buckets: Float64Array;
  sum = 0;
  count = 0;
  private listed = false;

  constructor(
    readonly labels: Labels,
    private readonly upperBounds: Float64Array,
    private readonly list: (series: HistogramSeries) => void,
  ) {
    this.buckets = new Float64Array(upperBounds.length);
  }

  /** Non-finite values are dropped (prom-client throws, which would fail the request being timed). */
  observe(value: number): void {
    if (!Number.isFinite(value)) return;
    if (!this.listed) {
      this.listed = true;
      this.list(this);
    }
    // Index of the first bound >= value (a value above every bound only counts in +Inf).
    const bounds = this.upperBounds;
    let i = 0;
    while (i < bounds.length && !((bounds[i] as number) >= value)) i++;
    if (i < bounds.length) this.buckets[i] = (this.buckets[i] as number) + 1;
    this.sum += value;
    this.count += 1;
  }

  unlist() {
    this.buckets.fill(0);
    this.sum = 0;
    this.count = 0;
    this.listed = false;
  }
}

export class FastHistogram<L extends string> extends FastMetric<HistogramSeries, L> {
  readonly type = 'histogram';
  private readonly upperBounds: Float64Array;
  private readonly bucketNames: string[];

  constructor(config: SeriesConfig<L> & { buckets: readonly number[] }) {
    super(config);
    if (config.labelNames.includes('le' as L)) throw new Error('le is a reserved label keyword');
    this.upperBounds = Float64Array.from(config.buckets);
    this.bucketNames = [`${this.name}_bucket`, `${this.name}_sum`, `${this.name}_count`];
  }

  protected createSeries(labels: Labels, list: (series: HistogramSeries) => void) {
    return new HistogramSeries(labels, this.upperBounds, list);
  }

  /** prom-client's layout: cumulative buckets with `le`, then +Inf, _sum and _count per series. */
  protected exportValues(): ExportedValue[] {
    const [bucket, sum, count] = this.bucketNames;
    const values: ExportedValue[] = [];
    for (const series of this.listed) {
      const sharedLabels = series.labels;
      let cumulative = 0;
      this.upperBounds.forEach((le, i) => {
        cumulative += series.buckets[i] as number;
        values.push({ labels: { le }, sharedLabels, value: cumulative, metricName: bucket, exemplar: null });
      });
      values.push(
        { labels: { le: '+Inf' }, sharedLabels, value: series.count, metricName: bucket, exemplar: null },
        { labels: {}, sharedLabels, value: series.sum, metricName: sum },
        { labels: {}, sharedLabels, value: series.count, metricName: count },
      );
    }
    return values;
  }

  protected clear(series: HistogramSeries) {
    series.unlist();
  }
}
