import { type ProgressEvent, type ProgressUpdate, progressKey, progressMeter } from '../shared/progress';
import { age, size } from './renderers/columns';

/** Without a terminal (a log file, CI): a piece's line at most this often, and its final line. */
export const LINES_EVERY_MS = 5_000;
/** On a terminal: the updating line is redrawn at most this often (a batch can take a few ms). */
const REDRAW_EVERY_MS = 100;
/** Back to the start of the line, and clear it. */
const CLEAR_LINE = '\r\x1b[2K';

/** Where the view writes: stderr, whose width is known on a terminal. */
export interface ProgressStream {
  write(text: string): unknown;
  columns?: number;
}

/**
 * The runner's progress on stderr. `terminal`: one updating line per piece of work (a table and
 * day, a table, or the run), redrawn in place and kept, as its final line, when the piece ends.
 * `lines`: a line per piece every LINES_EVERY_MS at most, then its final line, so a log stays
 * short. Other stderr lines go through `line`, which ends an updating line first so the two never
 * share a row. `clock` gives milliseconds (tests inject a fake one).
 */
export class ProgressView {
  private readonly meter: (event: ProgressEvent) => ProgressUpdate;
  /** The updating line on screen (terminal), not yet ended by a newline. */
  private showing: { key: string; text: string } | undefined;

  constructor(
    private readonly stream: ProgressStream,
    private readonly mode: 'terminal' | 'lines',
    clock: () => number = () => performance.now(),
  ) {
    this.meter = progressMeter(clock, mode === 'terminal' ? REDRAW_EVERY_MS : LINES_EVERY_MS);
  }

  show(event: ProgressEvent): void {
    const update = this.meter(event);
    const final = event.phase === 'finish';
    if (this.mode === 'lines') {
      if (update.due) this.stream.write(`${progressLine(update)}\n`);
      return;
    }
    if (!final && event.phase !== 'start' && !update.due) return;
    const key = progressKey(event);
    if (this.showing && this.showing.key !== key) this.stream.write('\n');
    const text = this.fit(progressLine(update));
    this.stream.write(`${CLEAR_LINE}${text}${final ? '\n' : ''}`);
    this.showing = final ? undefined : { key, text };
  }

  /** Another stderr line (a warning, the error): below the updating line, which stays as it was. */
  line(text: string): void {
    if (this.showing) this.stream.write('\n');
    this.showing = undefined;
    this.stream.write(`${text}\n`);
  }

  /** Cut to the terminal's width: a wrapped line could not be cleared in place. */
  private fit(text: string): string {
    const width = this.stream.columns;
    return width && text.length >= width ? `${text.slice(0, Math.max(width - 2, 0))}…` : text;
  }
}

/**
 * One piece's line: `archive trades 2026-11-30: 1,200,000 of ~4,800,000 rows (25%), 85,000
 * rows/s, 42s left`; at its end `archive trades 2026-11-30: archived 4,801,234 rows in 56s
 * (85,736 rows/s)`. A `~` marks a total that is the catalog's estimate.
 */
function progressLine(update: ProgressUpdate): string {
  const { event, rate, leftMs, elapsedMs } = update;
  const amount = (n: number) => (event.unit === 'bytes' ? size(n) : `${Math.round(n).toLocaleString('en-US')}`);
  const unit = event.unit === 'bytes' ? '' : ' rows';
  const speed = rate === undefined ? undefined : `${amount(rate)}${event.unit === 'bytes' ? '/s' : ' rows/s'}`;
  if (event.phase === 'finish') {
    const took = `in ${age(elapsedMs / 1000)}`;
    return `${progressKey(event)}: ${event.outcome ?? 'done'} ${amount(event.done)}${unit} ${took}${speed ? ` (${speed})` : ''}`;
  }
  const parts: string[] = [];
  if (event.total === undefined) parts.push(`${amount(event.done)}${unit}`);
  else {
    const total = `${event.estimated ? '~' : ''}${amount(event.total)}`;
    const percent = event.total > 0 && event.done <= event.total ? ` (${Math.floor((event.done * 100) / event.total)}%)` : '';
    parts.push(`${amount(event.done)} of ${total}${unit}${percent}`);
  }
  if (speed) parts.push(speed);
  // Rounded up: "0s left" while work remains would read as done.
  if (leftMs !== undefined) parts.push(`${event.estimated ? '~' : ''}${age(Math.ceil(leftMs / 1000))} left`);
  return `${progressKey(event)}: ${parts.join(', ')}`;
}
