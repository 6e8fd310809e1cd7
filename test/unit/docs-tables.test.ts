import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { COMMAND_FLAGS } from '../../functions/cli/commands';
import { RUNNER_VARIABLES } from '../../functions/cli/settings';
import { HANDLER_VARIABLES } from '../../functions/lambda/environment';
import { CONTEXT_KEYS } from '../../infra/config';

/**
 * The docs' tables of what the code defines (variables, context keys, commands and flags) are
 * held to the code here, so neither can change without the other.
 */
const read = (file: string) => readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8');

/** The rows of the markdown table whose header row starts with `| <firstHeader> |`. */
function tableRows(markdown: string, firstHeader: string): string[][] {
  const lines = markdown.split('\n');
  const start = lines.findIndex((line) => line.startsWith(`| ${firstHeader} |`));
  if (start < 0) throw new Error(`no table headed "${firstHeader}"`);
  const rows: string[][] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    rows.push(
      line
        .slice(1, -1)
        .split(/(?<!\\)\|/)
        .map((cell) => cell.trim()),
    );
  }
  return rows;
}

/** Every `code span` of a cell. */
const codeSpans = (cell: string) => [...cell.matchAll(/`([^`]+)`/g)].map((match) => match[1] ?? '');

describe('docs/configuration.md', () => {
  it('lists exactly the variables the handlers and the runner read (and the log level Powertools reads)', () => {
    const documented = tableRows(read('docs/configuration.md'), 'variable').flatMap((row) => codeSpans(row[0] ?? ''));
    const read_ = new Set([...HANDLER_VARIABLES, ...RUNNER_VARIABLES, 'POWERTOOLS_LOG_LEVEL']);
    expect(documented.toSorted()).toEqual([...read_].toSorted());
  });
});

describe('docs/deploy.md', () => {
  it('lists exactly the context keys infra/config.ts reads', () => {
    const documented = tableRows(read('docs/deploy.md'), 'context key').flatMap((row) => codeSpans(row[0] ?? ''));
    expect(documented.toSorted()).toEqual(Object.keys(CONTEXT_KEYS).toSorted());
  });
});

describe("README's Commands table", () => {
  const rows = tableRows(read('README.md'), 'command');
  /** The table's commands, each with the flags of its row and the rows below it that leave the command cell empty. */
  const documented = new Map<string, Set<string>>();
  let current: string[] = [];
  for (const [commandCell = '', flagsCell = ''] of rows) {
    if (commandCell) current = codeSpans(commandCell);
    const flags = codeSpans(flagsCell).flatMap((span) => [...span.matchAll(/--([\w-]+)/g)].map((match) => match[1] ?? ''));
    for (const name of current) documented.set(name, new Set([...(documented.get(name) ?? []), ...flags]));
  }

  it('names every command and alias, and no other', () => {
    expect([...documented.keys()].toSorted()).toEqual(COMMAND_FLAGS.flatMap((command) => [command.name, ...command.aliases]).toSorted());
  });

  it.each(COMMAND_FLAGS.map((command) => [command.name, command] as const))('gives the flags of %s, and no other', (_, command) => {
    for (const name of [command.name, ...command.aliases]) {
      // --yes confirms a destructive flag: it is documented next to it, as `--truncate [--yes]`.
      const flags = [...(documented.get(name) ?? [])].filter((flag) => flag !== 'yes');
      expect(flags.toSorted()).toEqual(command.flags.toSorted());
    }
  });
});

describe('docs/commands.md', () => {
  it('shows a real run of every command but serve (which never ends), each block under its `npm run docs:commands` marker', () => {
    const doc = read('docs/commands.md');
    const marked = [...doc.matchAll(/<!-- run:\n([\s\S]*?)-->\n\n```\n([\s\S]*?)```/g)];
    const commandsRun = new Set(
      marked.flatMap((block) => [...(block[1] ?? '').matchAll(/npm run local -- (\S+)/g)].map((command) => command[1] ?? '')),
    );
    const expected = COMMAND_FLAGS.filter(({ name }) => name !== 'serve').map(({ name, aliases }) => aliases[0] ?? name);
    expect([...commandsRun].filter((name) => expected.includes(name)).toSorted()).toEqual(expected.toSorted());
    for (const [, commands, output] of marked) {
      // Each block is the marker's commands with their output, in order: nothing edited by hand between them.
      const shown = [...(output ?? '').matchAll(/^\$ (.*)$/gm)].map((line) => line[1]);
      expect(shown.map((line) => line?.replace(/\d{4}-\d{2}-\d{2}/g, '{day}'))).toEqual(
        (commands ?? '')
          .trim()
          .split('\n')
          .map((line) => line.replace(/\{day-\d+\}/g, '{day}')),
      );
    }
  });
});
