/**
 * `npm run docs:commands`: remakes docs/commands.md's examples from real runs. Each block after a
 * `<!-- run: ... -->` marker is replaced by the commands the marker lists (one a line, in
 * order, with their output as the runner prints it), run one after another on a fresh embedded
 * database in a scratch folder, the way a newcomer runs them. The folder's path is shown as
 * ~/perps-stats-db. The text around the blocks is the author's: keep it true to what they show.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { addDays, dayOf } from '../functions/shared/days';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const DOC = join(REPO, 'docs', 'commands.md');
/** A marker, its commands (one a line), then the fenced block the run replaces. */
const MARKED_BLOCK = /<!-- run:\n([\s\S]*?)-->\n\n```\n[\s\S]*?```/g;
const SHOWN_FOLDER = '~/perps-stats-db';

const scratch = mkdtempSync(join(tmpdir(), 'perps-commands-doc-'));
try {
  const doc = readFileSync(DOC, 'utf8');
  const updated = doc.replace(MARKED_BLOCK, (_block, commands: string) => {
    const lines = commands.trim().split('\n');
    const shown = lines.map((line) => `$ ${withDays(line)}\n${run(line)}`).join('\n');
    return `<!-- run:\n${commands}-->\n\n\`\`\`\n${shown}\`\`\``;
  });
  writeFileSync(DOC, updated.replace(/(then the rest in the order shown, on )\d{4}-\d{2}-\d{2}/, `$1${today()}`));
  console.error(`wrote ${DOC}`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}

/** One documented command line (`VAR=value npm run local -- <args>`), run in the scratch folder. */
function run(line: string): string {
  const match = /^((?:\w+=\S+ )*)npm run local -- (.*)$/.exec(line);
  if (!match) throw new Error(`docs/commands.md: "${line}" is not \`[VAR=value ...] npm run local -- <args>\``);
  const env = Object.fromEntries(
    (match[1] ?? '')
      .trim()
      .split(' ')
      .filter(Boolean)
      .map((pair) => pair.split('=') as [string, string]),
  );
  // stdout and stderr into one file, so notices and reports keep the order a terminal shows.
  const outputFile = join(scratch, '.output');
  const fd = openSync(outputFile, 'w');
  try {
    // What `npm run local` runs (scripts/local.mjs), started in the scratch folder as a newcomer's shell would.
    spawnSync(process.execPath, [join(REPO, 'scripts/local.mjs'), ...words(withDays(match[2] ?? ''))], {
      cwd: scratch,
      stdio: ['ignore', fd, fd],
      // No database configured: the embedded one, as on a newcomer's machine.
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    });
  } finally {
    closeSync(fd);
  }
  return shownPaths(readFileSync(outputFile, 'utf8'));
}

/** A command line's words, honouring single quotes (`--payload '{"a": 1}'`). */
function words(text: string): string[] {
  return [...text.matchAll(/'([^']*)'|(\S+)/g)].map((word) => word[1] ?? word[2] ?? '');
}

function shownPaths(output: string): string {
  return output.replaceAll(`file://${scratch}`, `file:///home/me/perps-stats-db`).replaceAll(scratch, SHOWN_FOLDER);
}

/** `{day-2}`: the UTC day two days before today, a closed day the examples archive and restore. */
function withDays(line: string): string {
  return line.replace(/\{day-(\d+)\}/g, (_match, back: string) => addDays(today(), -Number(back)));
}

function today(): string {
  return dayOf(new Date());
}
