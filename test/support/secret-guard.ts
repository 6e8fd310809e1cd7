/**
 * The suite-wide password guard's state and its scan. `secret-guard-setup.ts` (a vitest
 * setupFiles module, so it runs in every test file's worker) records what the file wrote and
 * fails the file when a registered secret shows up; this module stays free of heavy imports so
 * every support module can report its captures here.
 */

/** Shorter values would match by accident; a test password is never this short. */
const MIN_SECRET_LENGTH = 6;

const secrets = new Map<string, string>();
const outputs: { source: string; text: string }[] = [];

/**
 * Registers a password (or any secret) the tests use: it must not appear in anything the file
 * captures. `label` names it in a failure instead of the value.
 */
export function registerSecret(value: string, label = 'a registered secret'): void {
  if (value.length < MIN_SECRET_LENGTH)
    throw new Error(`${label} is shorter than ${MIN_SECRET_LENGTH} characters: the guard cannot tell it from ordinary text`);
  if (!secrets.has(value)) secrets.set(value, label);
}

/** Records text that ended up (or would end up) in a log, error or report, with where it came from. */
export function recordOutput(source: string, text: string | undefined): void {
  if (text) outputs.push({ source, text });
}

export function recordedOutputs(): readonly { source: string; text: string }[] {
  return outputs;
}

/** Forgets what earlier test files recorded: a worker may run several (the infra project's does). */
export function forgetOutputs(): void {
  outputs.length = 0;
}

export function registeredSecrets(): ReadonlyMap<string, string> {
  return secrets;
}

/** One place a secret was found; `excerpt` shows the surroundings with the secret masked. */
export interface SecretLeak {
  label: string;
  source: string;
  form: string;
  excerpt: string;
}

/**
 * The forms a secret takes on its way out: as is, percent-encoded (inside a URL), JSON-escaped
 * (inside a JSON log line or report), and JSON-escaped twice (a log line quoting JSON).
 */
function formsOf(secret: string): [string, string][] {
  const json = JSON.stringify(secret).slice(1, -1);
  const forms: [string, string][] = [
    ['as is', secret],
    ['percent-encoded', encodeURIComponent(secret)],
    ['JSON-escaped', json],
    ['JSON-escaped twice', JSON.stringify(json).slice(1, -1)],
  ];
  return forms.filter(([, value], index) => forms.findIndex(([, other]) => other === value) === index);
}

/** Every occurrence of every secret in the texts, described without the secret itself. */
export function findSecrets(
  texts: readonly { source: string; text: string }[],
  secretsByValue: ReadonlyMap<string, string> = secrets,
): SecretLeak[] {
  const leaks: SecretLeak[] = [];
  for (const [secret, label] of secretsByValue) {
    for (const [form, value] of formsOf(secret)) {
      for (const { source, text } of texts) {
        const at = text.indexOf(value);
        if (at < 0) continue;
        const excerpt = `${text.slice(Math.max(0, at - 60), at)}***${text.slice(at + value.length, at + value.length + 60)}`;
        leaks.push({ label, source, form, excerpt: maskAll(excerpt, secretsByValue) });
      }
    }
  }
  return leaks;
}

/** `text` with every form of every secret (registered ones by default) replaced by `***`. */
export function maskAll(text: string, secretsByValue: ReadonlyMap<string, string> = secrets): string {
  let masked = text;
  for (const secret of secretsByValue.keys()) for (const [, value] of formsOf(secret)) masked = masked.replaceAll(value, '***');
  return masked;
}

/** A failure message listing the leaks; never contains a secret. */
export function describeLeaks(leaks: readonly SecretLeak[]): string {
  return [
    `${leaks.length} secret leak(s): a password the tests use appeared in captured output, an error or a report`,
    ...leaks.map((leak) => `- ${leak.label} (${leak.form}) in ${leak.source}: …${leak.excerpt}…`),
  ].join('\n');
}
