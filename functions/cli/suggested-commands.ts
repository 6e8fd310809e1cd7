import { databaseUrlText, parseDatabaseUrl } from '../shared/db/settings';
import type { RunnerSettings } from './settings';

const SUGGESTED_COMMAND = /`npm run local -- ([^`]+)`/g;

/**
 * A message's suggested commands (`npm run local -- init`) aimed at the database the failed run
 * used: with --database-url given, the suggestion carries it too, or pasting it would reach
 * another database (DATABASE_URL, or the embedded one). The password is left out (the runner
 * warns against one on the command line): libpq-style PGPASSWORD or .pgpass supplies it.
 */
export function aimSuggestedCommands(message: string, settings: RunnerSettings | undefined): string {
  if (settings?.urlSource !== '--database-url' || !settings.url) return message;
  const url = withoutPassword(settings.url);
  return message.replace(
    SUGGESTED_COMMAND,
    (_match, command: string) => `\`npm run local -- ${command} --database-url ${shellQuoted(url)}\``,
  );
}

function withoutPassword(url: string): string {
  try {
    const parsed = parseDatabaseUrl(url);
    parsed.password = '';
    return databaseUrlText(parsed);
  } catch {
    return url.replace(/(\/\/[^:/@]*):[^@]*@/, '$1@');
  }
}

/** Single-quoted for a POSIX shell when the URL holds anything a shell would read (`?`, `&`). */
function shellQuoted(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replaceAll("'", `'\\''`)}'`;
}
