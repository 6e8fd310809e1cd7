import type { OperationReport } from '../operations/registry';
import { parseDatabaseUrl } from '../shared/db/settings';
import { terminalJson } from '../shared/printable';
import type { ProgressReporter } from '../shared/progress';
import type { OutputFormat } from './options';
import { ProgressView } from './progress-view';
import { renderReport } from './render';
import type { CliIo } from './runner';

/** stdout for reports (table or JSON), stderr for everything else, with the URL's password masked. */
export class RunnerOutput {
  format: OutputFormat = 'table';
  private readonly secrets: string[] = [];
  /** Set once the handlers report progress: other stderr lines go through it (see ProgressView.line). */
  private progressView: ProgressView | undefined;

  constructor(private readonly io: CliIo) {}

  /**
   * Messages are built from masked URLs; this is the second line of defence for stderr, for a
   * password that some library message might echo. Short passwords are skipped: replacing every
   * "1" or "pg" would garble the output and hide nothing.
   */
  redactPasswordOf(url: string | undefined): void {
    const password = url ? safePassword(url) : '';
    if (password.length >= 6) this.secrets.push(password, encodeURIComponent(password));
  }

  error(line: string): void {
    const masked = this.secrets.reduce((out, secret) => out.replaceAll(secret, '***'), line);
    if (this.progressView) this.progressView.line(masked);
    else this.io.stderr.write(`${masked}\n`);
  }

  /**
   * Where the handlers' progress goes: with --format json nowhere (a script reads stdout and
   * wants a quiet stderr); otherwise stderr, as an updating line on a terminal, else a line every
   * few seconds (see ProgressView). `clock` is for tests.
   */
  progressReporter(clock?: () => number): ProgressReporter {
    if (this.format === 'json') return () => {};
    const view = new ProgressView(this.io.stderr, this.io.stderr.isTTY ? 'terminal' : 'lines', clock);
    this.progressView = view;
    return (event) => view.show(event);
  }

  info(text: string): number {
    this.io.stdout.write(`${text}\n`);
    return 0;
  }

  /** A command's reports: one, or (init) each under its operation's id: `{ operation: 'init', migrate: ..., partitions: ... }`. */
  print(command: string, reports: OperationReport[]): void {
    const [only] = reports;
    const json =
      reports.length === 1 ? only : { operation: command, ...Object.fromEntries(reports.map((report) => [report.operation, report])) };
    // terminalJson: the same JSON, with the C1 controls JSON.stringify leaves raw escaped.
    this.io.stdout.write(`${this.format === 'json' ? terminalJson(json, 2) : reports.map(renderReport).join('\n\n')}\n`);
  }
}

function safePassword(url: string): string {
  try {
    return decodeURIComponent(parseDatabaseUrl(url).password);
  } catch {
    return '';
  }
}
