/**
 * The heal latency chart: the cumulative distribution of each heal latency series on a
 * logarithmic time axis, drawn as SVG and rendered to PNG with resvg. Text uses the DejaVu Sans
 * font of the system, which Debian's fonts-dejavu-core package installs.
 */
import { Resvg } from '@resvg/resvg-js';

export interface Series {
  label: string;
  color: string;
  samplesMs: readonly number[];
}

const WIDTH = 960;
const HEIGHT = 540;
const MARGIN = { left: 80, right: 30, top: 80, bottom: 70 };
const FONT = 'DejaVu Sans';
const LEGEND_Y = 62;

export function renderCdfPng(title: string, series: readonly Series[]): Buffer {
  const resvg = new Resvg(cdfSvg(title, series), {
    font: { loadSystemFonts: true, defaultFontFamily: FONT },
    background: 'white',
  });
  return resvg.render().asPng();
}

export function cdfSvg(title: string, series: readonly Series[]): string {
  const all = series.flatMap((entry) => entry.samplesMs).filter((value) => value > 0);
  // Whole decades around the samples, from 1 ms up, so the tick labels are round numbers.
  const low = all.length > 0 ? Math.min(...all) : 1;
  const high = all.length > 0 ? Math.max(...all) : 10;
  const minDecade = Math.floor(Math.log10(Math.max(1, low)));
  const maxDecade = Math.max(minDecade + 1, Math.ceil(Math.log10(high)));
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const x = (ms: number) =>
    MARGIN.left +
    ((Math.log10(Math.max(ms, 10 ** minDecade)) - minDecade) / (maxDecade - minDecade)) * plotWidth;
  const y = (fraction: number) => MARGIN.top + (1 - fraction) * plotHeight;

  const parts: string[] = [];
  parts.push(
    `<text x="${WIDTH / 2}" y="32" text-anchor="middle" font-size="20">${escape(title)}</text>`,
  );
  for (let decade = minDecade; decade <= maxDecade; decade += 1) {
    const px = x(10 ** decade);
    parts.push(line(px, y(0), px, y(1), '#dddddd'));
    parts.push(
      `<text x="${px}" y="${y(0) + 22}" text-anchor="middle" font-size="14">${formatTick(10 ** decade)}</text>`,
    );
  }
  for (let tenth = 0; tenth <= 10; tenth += 2) {
    const py = y(tenth / 10);
    parts.push(line(x(10 ** minDecade), py, x(10 ** maxDecade), py, '#dddddd'));
    parts.push(
      `<text x="${MARGIN.left - 10}" y="${py + 5}" text-anchor="end" font-size="14">${(tenth / 10).toFixed(1)}</text>`,
    );
  }
  parts.push(line(MARGIN.left, y(0), WIDTH - MARGIN.right, y(0), '#000000'));
  parts.push(line(MARGIN.left, y(0), MARGIN.left, y(1), '#000000'));
  parts.push(
    `<text x="${MARGIN.left + plotWidth / 2}" y="${HEIGHT - 20}" text-anchor="middle" font-size="15">heal latency (log scale)</text>`,
    `<text x="22" y="${MARGIN.top + plotHeight / 2}" text-anchor="middle" font-size="15" transform="rotate(-90 22 ${MARGIN.top + plotHeight / 2})">fraction of heals at or below</text>`,
  );

  for (const entry of series) {
    const sorted = [...entry.samplesMs].sort((a, b) => a - b);
    if (sorted.length === 0) {
      continue;
    }
    // A step function: the fraction rises by 1/n at each sample.
    const points = [`${x(sorted[0] as number)},${y(0)}`];
    sorted.forEach((value, rank) => {
      points.push(
        `${x(value)},${y(rank / sorted.length)}`,
        `${x(value)},${y((rank + 1) / sorted.length)}`,
      );
    });
    parts.push(
      `<polyline points="${points.join(' ')}" fill="none" stroke="${entry.color}" stroke-width="2.5"/>`,
    );
  }

  // The legend sits in the top margin, outside the plot, so that it hides no part of a line.
  let legendX = MARGIN.left;
  for (const entry of series) {
    parts.push(line(legendX, LEGEND_Y - 5, legendX + 30, LEGEND_Y - 5, entry.color, 3));
    parts.push(
      `<text x="${legendX + 38}" y="${LEGEND_Y}" font-size="15">${escape(entry.label)}</text>`,
    );
    // An estimate of the label's width: DejaVu Sans at 15 px averages under 9 px a character.
    legendX += 38 + entry.label.length * 9 + 30;
  }

  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="${FONT}">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
    ...parts,
    '</svg>',
  ].join('\n');
}

function line(x1: number, y1: number, x2: number, y2: number, color: string, width = 1): string {
  return `<line x1="${x1}" y1="${y1}" x2="${x2}" y2="${y2}" stroke="${color}" stroke-width="${width}"/>`;
}

function formatTick(ms: number): string {
  return ms >= 1000 ? `${ms / 1000} s` : `${ms} ms`;
}

function escape(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}
