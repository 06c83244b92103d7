import type { RateWindow } from './types.js';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, min: 60_000, h: 3_600_000 };

/**
 * Parses `COUNT/DURATION` windows, comma-separated: `95/1s,380/60s`, `50/200ms`, `400/1m`.
 * Throws an Error whose message names the bad part and the expected form; callers prefix
 * the variable or flag name.
 */
export function parseRateWindows(text: string): RateWindow[] {
  const parts = text
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '');
  if (parts.length === 0) throw new Error('expected at least one window such as 95/1s');
  return parts.map(parseWindow);
}

function parseWindow(part: string): RateWindow {
  const match = /^(\d+)\s*\/\s*(\d+)\s*(ms|s|min|m|h)?$/.exec(part);
  if (!match) throw new Error(`"${part}" is not COUNT/DURATION (for example 95/1s or 380/60s)`);
  const count = Number(match[1]);
  const amount = Number(match[2]);
  const unit = match[3] ?? 's';
  const durationMs = amount * (UNIT_MS[unit] ?? 1000);
  if (!Number.isSafeInteger(count) || count < 1) throw new Error(`"${part}": count must be at least 1`);
  if (!Number.isSafeInteger(durationMs) || durationMs < 1)
    throw new Error(`"${part}": duration must be positive`);
  return { count, durationMs };
}

export function formatRateWindows(windows: readonly RateWindow[]): string {
  return windows.map((w) => `${w.count}/${formatDuration(w.durationMs)}`).join(',');
}

function formatDuration(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}
