import { usageLines } from './command-help';
import { COMMANDS, commandNamed } from './commands';

/** --help: every command, from the list of the runner's commands. */
export const USAGE = `perps-stats-db: create, maintain and watch the perps-stats PostgreSQL database

Usage: npm run local -- [db] <command> [flags]

Commands:
${COMMANDS.map(({ name, aliases, usage }) => usageLines(name, aliases, usage)).join('\n')}
  help <command>, <command> --help    one command's flags, examples, environment and exit codes

Global flags:
  --database-url URL   PostgreSQL URL (else DATABASE_URL from .env, else from the environment,
                       else an embedded PostgreSQL in .pglite/)
  --format table|json  output format (default table); json prints the report alone on stdout
  --help, --version`;

/** The whole --help, or one command's. */
export function helpFor(topic: string | undefined): string {
  return topic === undefined ? USAGE : commandNamed(topic).help();
}
