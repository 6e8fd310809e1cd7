import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { RunnerOutput } from '../../functions/cli/output';
import { LINES_EVERY_MS, ProgressView } from '../../functions/cli/progress-view';
import type { CliIo } from '../../functions/cli/runner';
import { LOG_EVERY_MS, progressLog } from '../../functions/lambda/progress-log';
import { type ProgressEvent, type ProgressPiece, type ProgressReporter, startProgress } from '../../functions/shared/progress';

/** A clock the test moves by hand. */
function fakeClock() {
  let now = 1_000;
  return { clock: () => now, advance: (ms: number) => (now += ms) };
}

/** A stream that records what was written, as a terminal of `columns` or a pipe. */
function fakeStream(columns?: number) {
  const writes: string[] = [];
  return { stream: { write: (text: string) => writes.push(text), columns }, writes, text: () => writes.join('') };
}

const ARCHIVE: ProgressPiece = { task: 'archive', table: 'trades', day: '2026-11-30', unit: 'rows', total: 4_000_000, estimated: true };
const RESTORE: ProgressPiece = { task: 'restore', table: 'tickers', day: '2026-11-29', unit: 'rows', total: 1_000 };

describe('the runner on a terminal', () => {
  it('redraws one line per piece in place, rate and time left included, and keeps its final line', () => {
    const { clock, advance } = fakeClock();
    const out = fakeStream(120);
    const view = new ProgressView(out.stream, 'terminal', clock);
    const piece = startProgress((e) => view.show(e), ARCHIVE);
    expect(out.writes).toEqual(['\r\x1b[2Karchive trades 2026-11-30: 0 of ~4,000,000 rows (0%)']);
    advance(10_000);
    piece.advance(1_000_000);
    expect(out.writes.at(-1)).toBe('\r\x1b[2Karchive trades 2026-11-30: 1,000,000 of ~4,000,000 rows (25%), 100,000 rows/s, ~30s left');
    advance(50); // under the redraw interval: a batch a few ms later is not drawn
    piece.advance(1_005_000);
    expect(out.writes).toHaveLength(2);
    advance(29_950);
    piece.finish(4_100_000, 'archived');
    expect(out.writes.at(-1)).toBe('\r\x1b[2Karchive trades 2026-11-30: archived 4,100,000 rows in 40s (102,500 rows/s)\n');
    // The next piece starts on a line of its own.
    startProgress((e) => view.show(e), RESTORE);
    expect(out.text().split('\n')).toEqual([
      expect.stringContaining('archive trades 2026-11-30: archived 4,100,000 rows in 40s'),
      '\r\x1b[2Krestore tickers 2026-11-29: 0 of 1,000 rows (0%)',
    ]);
  });

  it('ends the updating line before another stderr line, and cuts a line to the width', () => {
    const { clock } = fakeClock();
    const out = fakeStream(30);
    const view = new ProgressView(out.stream, 'terminal', clock);
    startProgress((e) => view.show(e), ARCHIVE);
    view.line('warn: something');
    expect(out.text()).toBe('\r\x1b[2Karchive trades 2026-11-30: 0…\nwarn: something\n');
  });

  it('shows bytes for vacuum, and no time left without a total', () => {
    const { clock, advance } = fakeClock();
    const out = fakeStream();
    const view = new ProgressView(out.stream, 'terminal', clock);
    const vacuum = startProgress((e) => view.show(e), { task: 'vacuum', unit: 'bytes', total: 8 * 1024 * 1024 });
    advance(2_000);
    vacuum.advance(2 * 1024 * 1024);
    expect(out.writes.at(-1)).toBe('\r\x1b[2Kvacuum: 2 MiB of 8 MiB (25%), 1 MiB/s, 6s left');
    const prune = startProgress((e) => view.show(e), { task: 'prune', table: 'trades', unit: 'rows' });
    advance(1_000);
    prune.advance(500);
    expect(out.writes.at(-1)).toBe('\r\x1b[2Kprune trades: 500 rows, 500 rows/s');
  });
});

describe('the runner without a terminal', () => {
  it('writes a piece at most every few seconds, then its final line; no start line', () => {
    const { clock, advance } = fakeClock();
    const out = fakeStream();
    const view = new ProgressView(out.stream, 'lines', clock);
    const piece = startProgress((e) => view.show(e), RESTORE);
    for (let i = 1; i <= 9; i++) {
      advance(LINES_EVERY_MS / 4);
      piece.advance(i * 100);
    }
    piece.finish(1_000, 'restored');
    expect(out.text()).toBe(
      [
        'restore tickers 2026-11-29: 400 of 1,000 rows (40%), 80 rows/s, 8s left',
        'restore tickers 2026-11-29: 800 of 1,000 rows (80%), 80 rows/s, 3s left',
        'restore tickers 2026-11-29: restored 1,000 rows in 11s (89 rows/s)',
        '',
      ].join('\n'),
    );
    expect(out.text()).not.toContain('\r');
  });
});

describe('the runner with --format json', () => {
  it('prints nothing of progress, on stdout or stderr', () => {
    const stdout = new PassThrough();
    const stderr = Object.assign(new PassThrough(), { isTTY: true });
    const written: string[] = [];
    stdout.on('data', (chunk) => written.push(String(chunk)));
    stderr.on('data', (chunk) => written.push(String(chunk)));
    const io: CliIo = { stdout, stderr, stdin: new PassThrough(), env: {}, cwd: '/', version: '0' };
    const output = new RunnerOutput(io);
    output.format = 'json';
    const piece = startProgress(output.progressReporter(), RESTORE);
    piece.advance(500);
    piece.finish(1_000, 'restored');
    expect(written).toEqual([]);
  });
});

describe('Lambda', () => {
  it('logs a piece as structured entries, at most every LOG_EVERY_MS and at its end', () => {
    const { clock, advance } = fakeClock();
    const entries: [string, Record<string, unknown> | undefined][] = [];
    const info = (message: string, fields?: Record<string, unknown>) => entries.push([message, fields]);
    const report: ProgressReporter = progressLog({ debug() {}, info, warn() {}, error() {} }, clock);
    const piece = startProgress(report, ARCHIVE);
    for (let i = 1; i <= 8; i++) {
      advance(LOG_EVERY_MS / 4);
      piece.advance(i * 250_000);
    }
    piece.finish(2_000_000, 'archived');
    const event = (over: Partial<ProgressEvent>): Record<string, unknown> => ({ ...ARCHIVE, ...over });
    expect(entries).toEqual([
      ['progress', { ...event({ phase: 'advance', done: 1_000_000 }), elapsedSeconds: 15, perSecond: 66_667, secondsLeft: 45 }],
      ['progress', { ...event({ phase: 'advance', done: 2_000_000 }), elapsedSeconds: 30, perSecond: 66_667, secondsLeft: 30 }],
      ['progress', { ...event({ phase: 'finish', done: 2_000_000, outcome: 'archived' }), elapsedSeconds: 30, perSecond: 66_667 }],
    ]);
  });
});
