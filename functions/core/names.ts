/**
 * Messages shared by several entry points name input fields as `{fieldName}`; each entry point
 * fills them in its own words (`--older-than` on the command line, `olderThanDays` in a payload).
 */
export function fillNames(message: string, rename: (key: string) => string = (key) => key): string {
  return message.replace(/\{(\w+)\}/g, (_, key: string) => rename(key));
}
