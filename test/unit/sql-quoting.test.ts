import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../infra/bundling';
import { sourceFiles } from '../support/source-files';

// The static half of the SQL-quoting check (test/handlers/hostile-names.test.ts is the dynamic
// half, on real hostile names): every expression interpolated into SQL text in functions/ must
// be quoted where it is written, or be a name vetted below with the reason it is safe. A new
// interpolation fails here until someone quotes it or vets it; values go in as $n parameters.

/** How an interpolated expression may look. */
const QUOTED: [RegExp, string][] = [
  [/^quoteIdent\([^()]*\)$/, 'identifier through pg.escapeIdentifier'],
  [/^[\w.]+\.map\(quoteIdent\)\.join\('[^']*'\)$/, 'identifiers through pg.escapeIdentifier'],
  [/^pg\.escapeLiteral\([^()]*\)$/, 'literal through pg.escapeLiteral'],
  [/^[A-Z][A-Z0-9_]*$/, 'a module constant of SQL text'],
];

/** Local names that hold SQL built from quoted parts or validated values: file -> name -> why. */
const VETTED: Record<string, Record<string, string>> = {
  'functions/shared/db/locks.ts': {
    waitMs: 'a number of milliseconds, from validated settings and a constant',
    configuredMs: 'a number of milliseconds, from validated settings',
  },
  'functions/shared/day-partition.ts': {
    'checkOf(plan)': 'quoteIdent of the day table name and a constant suffix',
    from: 'dayBoundLiterals: a YYYY-MM-DD day checked by dayStart, plus a constant time; partition bounds take no parameters',
    to: 'as from',
    name: 'quoteIdent(plan.name)',
    list: 'columns.map(quoteIdent)',
    referenced: 'referenced tables as the server names them (confrelid::regclass::text, quoted where needed)',
    'index.constraint': "pg_get_constraintdef of the parent's constraint: SQL the server wrote",
    'index.shape': "the USING ... tail of pg_get_indexdef of the parent's index: SQL the server wrote",
    "index.unique ? 'UNIQUE ' : ''": 'a constant keyword or nothing',
    "adds.join(', ')": 'ADD CONSTRAINT clauses of quoteIdent names and pg_get_constraintdef text',
    'replaceOnConflict(plan.conflictKey, plan.columns)': 'row-moves.ts: an ON CONFLICT clause of quoteIdent names, or nothing',
  },
  'functions/shared/default-backlog.ts': {
    source: 'quoteIdent(relation)',
    "referenced.join(', ')": 'referenced tables as the server names them (confrelid::regclass::text, quoted where needed)',
  },
  'functions/shared/drop-table.ts': {
    "referenced.join(', ')": 'referenced tables as the server names them (confrelid::regclass::text, quoted where needed)',
  },
  'functions/shared/backlog-copy.ts': {
    source: 'quoteIdent(copy.backlog)',
    list: 'copy.columns.map(quoteIdent)',
    after: 'one of two constant ts conditions on $1',
  },
  'functions/shared/row-moves.ts': {
    source: 'quoteIdent(move.source)',
    list: 'move.columns.map(quoteIdent)',
    upper: 'constant text with a $n parameter, or nothing',
    set: 'quoteIdent(column) = EXCLUDED.quoteIdent(column), joined by commas',
    'replaceOnConflict(move.conflictKey, move.columns)': 'an ON CONFLICT clause of quoteIdent names, or nothing',
  },
  'functions/operations/prune/prune.ts': { rel: 'quoteIdent(relation)' },
  'functions/shared/db/pool.ts': {
    who: "quoteIdent of the URL's login, or the constant '<login>' (advice text, never run)",
    grantOn: "quoteIdent of the URL's database (else the login's name), or the constant '<database>' (advice text, never run)",
  },
  'functions/shared/db/sessions.ts': { 'holder.pid': 'an integer pid pg_stat_activity gave (advice text, never run)' },
  'functions/operations/migrate/role-grants.ts': {
    database: 'quoteIdent(who.database) (advice text, never run)',
    'excess.statement': 'a REVOKE statement built from quoteIdent names (advice text, never run)',
  },
  'functions/operations/migrate/logins.ts': { what: 'one of three constant privilege clauses (grantByDefault)' },
  'functions/operations/prune/prune-drops.ts': { "probes.join(', ')": 'scalar subqueries over quoteIdent(relation)' },
  'functions/operations/stats/last-hour.ts': { rel: 'quoteIdent(table)' },
  'functions/operations/stats/exchanges.ts': {
    rel: 'quoteIdent(table)',
    range: 'one of two constant ts conditions',
    ids: 'a constant $n parameter',
  },
  'functions/shared/archive/export-sql.ts': {
    rel: 'quoteIdent(relation)',
    'rowShare(columns)': 'md5 over rowText(columns): exactTextExpression of layout columns (quoteIdent names) joined by constant SQL',
    misfitList: 'count/min FILTER clauses over decimalMisfit (quoteIdent names, constant bounds) with numbered aliases',
    'md5Share(row)': 'md5 over ROW() of the layout columns as quoteIdent names, cast to text',
  },
};

const SQL_WORDS = /\b(SELECT|INSERT INTO|UPDATE|DELETE FROM|CREATE|ALTER|DROP|TRUNCATE|LOCK TABLE|COMMENT ON|GRANT|REVOKE)\b/;

interface Template {
  text: string;
  expressions: string[];
  line: number;
}

/**
 * Template literals of a TypeScript source with their interpolated expressions, nested
 * templates included. Enough of a tokenizer for our code: strings, comments, regex-free.
 */
function templatesOf(source: string): Template[] {
  const found: Template[] = [];
  let i = 0;
  const lineAt = (at: number) => source.slice(0, at).split('\n').length;
  const skipString = (quote: string) => {
    i += 1;
    while (i < source.length && source[i] !== quote) i += source[i] === '\\' ? 2 : 1;
    i += 1;
  };
  const readTemplate = (): Template => {
    const start = i;
    i += 1;
    let text = '';
    const expressions: string[] = [];
    while (i < source.length && source[i] !== '`') {
      if (source[i] === '\\') {
        text += source.slice(i, i + 2);
        i += 2;
      } else if (source.startsWith('${', i)) {
        i += 2;
        const from = i;
        readCode('}');
        expressions.push(source.slice(from, i).trim());
        i += 1;
      } else {
        text += source[i];
        i += 1;
      }
    }
    i += 1;
    return { text, expressions, line: lineAt(start) };
  };
  // Reads code up to an unmatched `close`, collecting nested templates.
  const readCode = (close: string | undefined) => {
    let depth = 0;
    while (i < source.length) {
      const c = source[i];
      if (close !== undefined && depth === 0 && c === close) return;
      if (source.startsWith('//', i)) i = source.indexOf('\n', i) < 0 ? source.length : source.indexOf('\n', i);
      else if (source.startsWith('/*', i)) i = source.indexOf('*/', i) + 2;
      else if (c === "'" || c === '"') skipString(c);
      else if (c === '`') found.push(readTemplate());
      else {
        if (c === '{' || c === '(' || c === '[') depth += 1;
        if (c === '}' || c === ')' || c === ']') depth -= 1;
        i += 1;
      }
    }
  };
  readCode(undefined);
  return found;
}

describe('SQL text in functions/', () => {
  it('the scanner finds interpolations, nested ones included', () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the fixture is TypeScript source text
    const templates = templatesOf("const a = `SELECT ${quoteIdent(t)} FROM ${`x${y}`}`; // `not ${this}`\nconst b = '`';");
    expect(templates.map((t) => [t.text, t.expressions])).toEqual([
      ['x', ['y']],
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the expression as written in the source
      ['SELECT  FROM ', ['quoteIdent(t)', '`x${y}`']],
    ]);
  });

  it('interpolates only quoted identifiers, escaped literals, constants and vetted names', () => {
    const files = sourceFiles(join(PROJECT_ROOT, 'functions')).filter((file) => !file.endsWith('embedded-migrations.ts'));
    const unquoted: string[] = [];
    let checked = 0;
    for (const file of files) {
      const name = relative(PROJECT_ROOT, file);
      for (const template of templatesOf(readFileSync(file, 'utf8'))) {
        if (!SQL_WORDS.test(template.text)) continue;
        for (const expression of template.expressions) {
          checked += 1;
          const ok = QUOTED.some(([pattern]) => pattern.test(expression)) || VETTED[name]?.[expression] !== undefined;
          if (!ok) unquoted.push(`${name}:${template.line}: \${${expression}}`);
        }
      }
    }
    expect(unquoted).toEqual([]);
    // The scan saw the SQL it is meant to guard (about 60 interpolations today), not nothing.
    expect(checked).toBeGreaterThan(40);
  });
});
