// The soak's plot as a self-contained SVG: rate, p50/p99 latency and errors per 5-second bucket,
// then the instances' resident memory and Redis's key count, one panel each over the same time
// axis, with the faults marked. Written by hand (a few lines
// of SVG need no charting library).
const W = 960;
const LEFT = 70;
const RIGHT = 20;
const PANEL = 170;
const GAP = 40;
const TOP = 50;

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A round upper bound for an axis (1, 2 or 5 × a power of ten). */
function niceMax(value) {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 5, 10].map((m) => m * power).find((v) => v >= value);
}

function panel({ index, title, unit, series, bars, buckets, seconds, marks, offset = 2.5 }) {
  const y0 = TOP + index * (PANEL + GAP);
  const plotW = W - LEFT - RIGHT;
  const x = (t) => LEFT + (t / seconds) * plotW;
  const values = [
    ...series.flatMap((s) => buckets.map((b) => b[s.key] ?? 0)),
    ...buckets.map((b) => bars.reduce((n, s) => n + b[s.key], 0)),
  ];
  const max = niceMax(Math.max(0, ...values));
  const y = (v) => y0 + PANEL - (v / max) * PANEL;
  const out = [
    `<text x="${LEFT}" y="${y0 - 8}" class="title">${esc(title)}</text>`,
    `<rect x="${LEFT}" y="${y0}" width="${plotW}" height="${PANEL}" class="frame"/>`,
  ];
  for (let k = 0; k <= 4; k += 1) {
    const v = (max * k) / 4;
    out.push(
      `<line x1="${LEFT}" x2="${W - RIGHT}" y1="${y(v)}" y2="${y(v)}" class="grid"/>`,
      `<text x="${LEFT - 6}" y="${y(v) + 4}" class="tick" text-anchor="end">${Math.round(v * 10) / 10}</text>`,
    );
  }
  out.push(
    `<text transform="translate(14 ${y0 + PANEL / 2}) rotate(-90)" class="tick" text-anchor="middle">${esc(unit)}</text>`,
  );
  const barW = Math.max(1, (5 / seconds) * plotW - 1);
  for (const b of buckets) {
    let base = 0;
    for (const s of bars) {
      if (!b[s.key]) continue;
      out.push(
        `<rect x="${x(b.t).toFixed(1)}" y="${y(base + b[s.key]).toFixed(1)}" width="${barW.toFixed(1)}" height="${(y(base) - y(base + b[s.key])).toFixed(1)}" fill="${s.color}"/>`,
      );
      base += b[s.key];
    }
  }
  for (const s of series) {
    // A gap (null: the instance or Redis was down) ends one line and starts the next.
    const lines = [[]];
    for (const b of buckets) {
      if (b[s.key] === null || b[s.key] === undefined) lines.push([]);
      else lines.at(-1).push(`${x(b.t + offset).toFixed(1)},${y(b[s.key]).toFixed(1)}`);
    }
    for (const points of lines.filter((l) => l.length))
      out.push(`<polyline points="${points.join(' ')}" fill="none" stroke="${s.color}" stroke-width="1.5"/>`);
  }
  for (const m of marks) {
    out.push(`<line x1="${x(m.t)}" x2="${x(m.t)}" y1="${y0}" y2="${y0 + PANEL}" class="mark"/>`);
    if (index === 0)
      out.push(`<text x="${x(m.t) + 3}" y="${y0 + 12}" class="tick" fill="#c00">${esc(m.label)}</text>`);
  }
  let lx = W - RIGHT - 8;
  for (const s of [...series, ...bars].reverse()) {
    const width = 14 + s.label.length * 6.2;
    lx -= width;
    out.push(
      `<rect x="${lx}" y="${y0 - 17}" width="10" height="10" fill="${s.color}"/>`,
      `<text x="${lx + 14}" y="${y0 - 8}" class="tick">${esc(s.label)}</text>`,
    );
    lx -= 10;
  }
  return out.join('\n');
}

/** The SVG for one soak result (summary.mjs). */
export function renderSoakSvg(results) {
  const seconds = results.options.seconds;
  const buckets = results.buckets.filter((b) => b.t < seconds);
  const short = [
    [/redis SHUTDOWN/, 'Redis SHUTDOWN'],
    [/SIGTERM/, 'instance B stopped'],
    [/ready, back/, 'B back'],
  ];
  const marks = results.events.flatMap((e) => {
    const found = short.find(([re]) => re.test(e.what));
    return found ? [{ t: e.t, label: found[1] }] : [];
  });
  const mib = (r) => (r ? Math.round((r.bytes / 2 ** 20) * 10) / 10 : null);
  const memory = results.samples
    .filter((x) => x.t <= seconds)
    .map((x) => ({ t: x.t, a: mib(x.rss['gatehouse-a']), b: mib(x.rss['gatehouse-b']) }));
  const height = TOP + 5 * (PANEL + GAP) + 30;
  const xAxis = [];
  const step = seconds > 300 ? 60 : seconds > 120 ? 30 : 15;
  for (let t = 0; t <= seconds; t += step) {
    const px = LEFT + (t / seconds) * (W - LEFT - RIGHT);
    const label = t % 60 === 0 ? `${t / 60} min` : `${t} s`;
    xAxis.push(`<text x="${px}" y="${height - 22}" class="tick" text-anchor="middle">${label}</text>`);
  }
  const legend = results.events
    .filter((e) => /SHUTDOWN|SIGTERM|ready, back/.test(e.what))
    .map((e) => `${e.t} s: ${e.what}`)
    .join(' · ');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${height}" viewBox="0 0 ${W} ${height}" font-family="sans-serif">
<style>
.title{font-size:13px;font-weight:bold;fill:#222}.tick{font-size:11px;fill:#444}
.frame{fill:#fff;stroke:#999}.grid{stroke:#e4e4e4}.mark{stroke:#c00;stroke-dasharray:4 3}
</style>
<rect width="100%" height="100%" fill="#fafafa"/>
<text x="${LEFT}" y="22" class="title">Gatehouse soak ${esc(results.startedAt)}: ${results.targetRate} req/s offered (${Math.round((results.targetRate / results.capacity) * 100)} % of ${Math.round(results.capacity)} measured), two instances, Redis AOF</text>
${panel({
  index: 0,
  title: 'Answers per second (5 s buckets)',
  unit: 'req/s',
  series: [{ key: 'rate', label: 'answers/s', color: '#1f77b4' }],
  bars: [],
  buckets,
  seconds,
  marks,
})}
${panel({
  index: 1,
  title: 'Latency (ms)',
  unit: 'ms',
  series: [
    { key: 'p50', label: 'p50', color: '#2ca02c' },
    { key: 'p99', label: 'p99', color: '#d62728' },
  ],
  bars: [],
  buckets,
  seconds,
  marks,
})}
${panel({
  index: 2,
  title: 'Errors per bucket',
  unit: 'answers',
  series: [],
  bars: [
    { key: 's503', label: '503 (Redis down)', color: '#ff7f0e' },
    { key: 's5xx', label: 'other 5xx', color: '#d62728' },
    { key: 'conn', label: 'connection errors', color: '#9467bd' },
    { key: 'unexpected', label: 'unexpected', color: '#7f7f7f' },
  ],
  buckets,
  seconds,
  marks,
})}
${panel({
  index: 3,
  title: 'Resident memory of each Gatehouse process (MiB, every 5 s)',
  unit: 'MiB',
  series: [
    { key: 'a', label: 'gatehouse-a', color: '#1f77b4' },
    { key: 'b', label: 'gatehouse-b', color: '#ff7f0e' },
  ],
  bars: [],
  buckets: memory,
  seconds,
  marks,
  offset: 0,
})}
${panel({
  index: 4,
  title: 'Redis keys (DBSIZE, every 5 s)',
  unit: 'keys',
  series: [{ key: 'dbsize', label: 'keys', color: '#2ca02c' }],
  bars: [],
  buckets: results.samples.filter((x) => x.t <= seconds),
  seconds,
  marks,
  offset: 0,
})}
${xAxis.join('\n')}
<text x="${LEFT}" y="${height - 6}" class="tick">${esc(legend)}</text>
</svg>
`;
}
