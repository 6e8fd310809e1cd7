import type { Operation } from '../operations/registry';

/**
 * A dry run that names no action (`clean --dry-run`) previews what the scheduled function does:
 * the payload defaults its environment variables (PRUNE_*) set, as the handler would fill them
 * in. Only a dry run: a real run does what its flags say, never what a variable left in .env says.
 * A value the variable's schema refuses is left out here; the settings check names it.
 */
export function scheduledDefaults(
  operation: Operation,
  payload: Record<string, unknown>,
  env: Record<string, string | undefined>,
): Record<string, unknown> {
  const defaults = operation.defaults;
  if (!defaults || defaults.actionFields.some((field) => payload[field] !== undefined)) return {};
  return Object.fromEntries(
    Object.entries(defaults.variables).flatMap(([variable, { field, schema }]) => {
      const parsed = schema.safeParse(env[variable] || undefined);
      return parsed.success && parsed.data !== undefined ? [[field, parsed.data]] : [];
    }),
  );
}
