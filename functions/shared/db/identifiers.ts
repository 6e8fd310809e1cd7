import pg from 'pg';

/**
 * Quotes an identifier for SQL text. Every table or partition name that reaches a statement
 * goes through here (node-postgres's own escaping); nothing is concatenated unquoted.
 */
export function quoteIdent(name: string): string {
  return pg.escapeIdentifier(name);
}
