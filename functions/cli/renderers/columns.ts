import prettyBytes from 'pretty-bytes';
import prettyMilliseconds from 'pretty-ms';
import { printable } from '../../shared/printable';

/**
 * Plain aligned columns, no box drawing, so output stays greppable and copy-pasteable; a table
 * library would add a dependency for ten lines of padding. Cells carry names from the database
 * (an ingester's symbols and exchange names, partition names): their control characters are
 * shown escaped, so none can move the cursor, clear the screen or start a line of its own.
 */
export function renderColumns(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((row) => row.map((cell) => printable(String(cell))))];
  const widths = header.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? '').length)));
  return cells
    .map((row) =>
      row
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** Binary units ("12 MiB"), as PostgreSQL's pg_size_pretty counts, so figures match psql's. */
export const size = (bytes: number) => prettyBytes(bytes, { binary: true });

/** An age as people read it: "1m 49s", "3h 2m", "2d 4h". */
export const age = (seconds: number) =>
  seconds < 1 ? '0s' : prettyMilliseconds(seconds * 1000, { secondsDecimalDigits: 0, unitCount: 2 });
