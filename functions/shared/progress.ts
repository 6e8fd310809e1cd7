/*
 * Progress of long work (a recovery, an archive, a restore, a vacuum, a delete), as events the
 * entry points render: the runner as a line on a terminal or a line every few seconds, Lambda as
 * structured log entries. Operations only say what they know; rate and time left are computed
 * here once, from the events and a clock, so every edge shows the same figures.
 *
 * Hand-written rather than a library: the progress-bar packages (cli-progress, progress, listr2)
 * tie their rate and ETA to their own terminal rendering, and Lambda needs the figures without a
 * terminal. What is needed is an average since the start and a per-line throttle: a few lines.
 */

/** The long work a progress line is about. */
export type ProgressTask = 'recovery' | 'archive' | 'restore' | 'vacuum' | 'prune';

/**
 * One moment of one piece of work. A piece is a table and day (archive, restore), a table
 * (recovery, prune) or the whole run (vacuum); its events go start, advance..., finish. A run
 * stopped by the deadline or a lost session may leave a piece without its finish: the error says why.
 */
export interface ProgressEvent {
  task: ProgressTask;
  phase: 'start' | 'advance' | 'finish';
  table?: string;
  /** YYYY-MM-DD, when the piece is one day of the table. */
  day?: string;
  /** Done so far in this run: rows (vacuum: bytes of the relations done). */
  done: number;
  /** What there is to do, when the operation knows it without counting rows for it. */
  total?: number;
  unit: 'rows' | 'bytes';
  /** The total is the catalog's estimate (pg_class), not a count: done may pass it. */
  estimated?: boolean;
  /** At finish: how the piece ended, in the report's words ('archived', 'restored', 'failed'). */
  outcome?: string;
}

/** Where an operation sends its progress; the entry point decides what is shown (see OperationContext). */
export type ProgressReporter = (event: ProgressEvent) => void;

/** The piece of work an operation starts reporting on. */
export type ProgressPiece = Pick<ProgressEvent, 'task' | 'table' | 'day' | 'total' | 'unit' | 'estimated'>;

/** An operation's handle on one piece: advance with the running total, finish once. */
export interface PieceProgress {
  advance(done: number): void;
  finish(done: number, outcome: string): void;
}

/** Emits the piece's start and returns its handle; with no reporter, a handle that does nothing. */
export function startProgress(report: ProgressReporter | undefined, piece: ProgressPiece): PieceProgress {
  if (!report) return { advance() {}, finish() {} };
  report({ ...piece, phase: 'start', done: 0 });
  let finished = false;
  return {
    advance: (done) => {
      if (!finished) report({ ...piece, phase: 'advance', done });
    },
    finish: (done, outcome) => {
      if (finished) return;
      finished = true;
      report({ ...piece, phase: 'finish', done, outcome });
    },
  };
}

/** An event with what the meter worked out: time since the piece started, rate, time left. */
export interface ProgressUpdate {
  event: ProgressEvent;
  elapsedMs: number;
  /** Units a second, once some time has passed and something is done. */
  rate?: number;
  /** Time left at that rate, while the piece runs and its total is known and not reached. */
  leftMs?: number;
  /** Whether a throttled edge shows it: every finish, an advance once `everyMs` passed since the last shown. */
  due: boolean;
}

/** A piece's identity: one line per task, table and day. */
export function progressKey(event: ProgressEvent): string {
  return [event.task, event.table, event.day].filter(Boolean).join(' ');
}

/**
 * Turns events into updates with rate and time left (the average since the piece's start: the
 * work is batches of equal size, so the average is steady) and a per-piece throttle. `clock`
 * gives milliseconds (injected: tests run on a fake one).
 */
export function progressMeter(clock: () => number, everyMs: number): (event: ProgressEvent) => ProgressUpdate {
  const pieces = new Map<string, { started: number; shown: number }>();
  return (event) => {
    const key = progressKey(event);
    const now = clock();
    let piece = pieces.get(key);
    if (!piece || event.phase === 'start') {
      piece = { started: now, shown: now };
      pieces.set(key, piece);
    }
    if (event.phase === 'finish') pieces.delete(key);
    const elapsedMs = now - piece.started;
    const due = event.phase === 'finish' || (event.phase === 'advance' && now - piece.shown >= everyMs);
    if (due) piece.shown = now;
    const rate = elapsedMs > 0 && event.done > 0 ? (event.done * 1000) / elapsedMs : undefined;
    // A finished piece, an unknown total or one reached (an estimate can be passed) has no time left.
    const left = event.phase === 'finish' || event.total === undefined ? 0 : event.total - event.done;
    return { event, elapsedMs, rate, leftMs: rate && left > 0 ? (left / rate) * 1000 : undefined, due };
  };
}
