import { urlWithoutSecrets } from '../shared/db/settings';
import { shellWord } from '../shared/printable';
import type { RunnerSettings } from './settings';

const SUGGESTED_COMMAND = /`npm run local -- ([^`]+)`/g;

/**
 * A message's suggested commands (`npm run local -- init`) aimed at the database the failed run
 * used: with --database-url given, the suggestion carries it too, or pasting it would reach
 * another database (DATABASE_URL, or the embedded one). The password is left out, in the URL's
 * user part or its query string (the runner warns against one on the command line): libpq-style
 * PGPASSWORD or .pgpass supplies it.
 */
export function aimSuggestedCommands(message: string, settings: RunnerSettings | undefined): string {
  if (settings?.urlSource !== '--database-url' || !settings.url) return message;
  const url = urlWithoutSecrets(settings.url);
  return message.replace(
    SUGGESTED_COMMAND,
    (_match, command: string) => `\`npm run local -- ${command} --database-url ${shellWord(url)}\``,
  );
}
