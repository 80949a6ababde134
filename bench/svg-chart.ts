/** Two small hand-written SVG charts for the bench results (no charting dependency). */

const WIDTH = 760;
const HEIGHT = 320;
const MARGIN = { left: 50, right: 20, top: 40, bottom: 50 };
const COLORS = ["#1f77b4", "#ff7f0e"];
const escapeXml = (text: string) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;");

function frame(title: string, body: string, legend: string[]): string {
  const legendItems = legend
    .map(
      (label, i) =>
        `<rect x="${MARGIN.left + i * 330}" y="${HEIGHT - 18}" width="12" height="12" fill="${COLORS[i]}"/>` +
        `<text x="${MARGIN.left + i * 330 + 16}" y="${HEIGHT - 8}" font-size="12">${escapeXml(label)}</text>`,
    )
    .join("");
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="${WIDTH / 2}" y="22" font-size="15" text-anchor="middle">${escapeXml(title)}</text>
${body}
${legendItems}
</svg>
`;
}

/** Overlaid latency histograms, 0 … p99.5 of all samples. */
export function histogramChart(
  title: string,
  series: { label: string; samples: number[] }[],
): string {
  const all = series.flatMap((s) => s.samples).sort((a, b) => a - b);
  const max = all[Math.floor(all.length * 0.995)] ?? 1;
  const bins = 60;
  const width = (WIDTH - MARGIN.left - MARGIN.right) / bins;
  const counts = series.map((s) => {
    const c = new Array<number>(bins).fill(0);
    for (const v of s.samples) {
      const bin = Math.min(bins - 1, Math.floor((v / max) * bins));
      c[bin] = (c[bin] ?? 0) + 1;
    }
    return c;
  });
  const top = Math.max(...counts.flat(), 1);
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const bars = counts
    .map((c, si) =>
      c
        .map((n, bi) => {
          const h = (n / top) * plotHeight;
          return `<rect x="${(MARGIN.left + bi * width).toFixed(1)}" y="${(MARGIN.top + plotHeight - h).toFixed(1)}" width="${(width - 1).toFixed(1)}" height="${h.toFixed(1)}" fill="${COLORS[si]}" fill-opacity="0.6"/>`;
        })
        .join(""),
    )
    .join("\n");
  const ticks = [0, 0.25, 0.5, 0.75, 1]
    .map((f) => {
      const x = MARGIN.left + f * (WIDTH - MARGIN.left - MARGIN.right);
      return `<text x="${x.toFixed(1)}" y="${HEIGHT - 30}" font-size="11" text-anchor="middle">${(f * max).toFixed(1)} ms</text>`;
    })
    .join("");
  return frame(
    title,
    `${bars}\n${ticks}`,
    series.map((s) => s.label),
  );
}

/** One column per heartbeat: a build write (tall) and/or a last-used write (short). */
export function barChart(
  title: string,
  points: { x: number; build: boolean; lastUsed: boolean }[],
): string {
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const width = (WIDTH - MARGIN.left - MARGIN.right) / Math.max(points.length, 1);
  const bars = points
    .map((p, i) => {
      const x = MARGIN.left + i * width;
      const build = p.build
        ? `<rect x="${x.toFixed(1)}" y="${MARGIN.top}" width="${Math.max(width - 1, 1).toFixed(1)}" height="${(plotHeight / 2).toFixed(1)}" fill="${COLORS[0]}"/>`
        : "";
      const used = p.lastUsed
        ? `<rect x="${x.toFixed(1)}" y="${MARGIN.top + plotHeight / 2 + 4}" width="${Math.max(width - 1, 1).toFixed(1)}" height="${(plotHeight / 2 - 4).toFixed(1)}" fill="${COLORS[1]}"/>`
        : "";
      return build + used;
    })
    .join("");
  const ticks = [0, 30, 60, 90, 120]
    .map((n) => {
      const x =
        MARGIN.left + (n / Math.max(points.length, 1)) * (WIDTH - MARGIN.left - MARGIN.right);
      return `<text x="${x.toFixed(1)}" y="${HEIGHT - 30}" font-size="11" text-anchor="middle">${n / 2} min</text>`;
    })
    .join("");
  return frame(title, `${bars}\n${ticks}`, [
    `build deadline writes (${points.filter((p) => p.build).length})`,
    `last_used_at writes (${points.filter((p) => p.lastUsed).length})`,
  ]);
}
