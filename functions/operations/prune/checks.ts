import { type ArchiveSettings, assertArchiveConfigured, isArchiveConfigured } from '../../shared/archive/store';
import type { PruneInput } from './prune';

/**
 * Rule checks shared by every entry point; numeric ranges are the schemas' job. Field names
 * appear as `{olderThanDays}` so each entry point can say them in its own words (see fillNames).
 */
export function prunePlanProblems(input: PruneInput): string[] {
  const hasRows = input.olderThanDays !== undefined;
  const hasDrop = input.dropPartitionsOlderThanDays !== undefined;
  if (input.truncate && (hasRows || hasDrop)) {
    return ['{truncate} cannot be combined with {olderThanDays} or {dropPartitionsOlderThanDays}: run them separately'];
  }
  if (!input.truncate && !hasRows && !hasDrop) {
    return [
      'nothing to prune: give {olderThanDays} N (delete rows older than N days), {dropPartitionsOlderThanDays} N (drop day partitions older than N days), or {truncate} (empty all data tables, with confirmation)',
    ];
  }
  return [];
}

/**
 * Only dropping partitions reads the archive: when it is configured for that, it must name one
 * store (a bucket or a directory), refused before anything runs (the handler's preflight).
 */
export function checkPruneArchive(input: PruneInput, archive: ArchiveSettings | undefined): void {
  if (input.dropPartitionsOlderThanDays !== undefined && isArchiveConfigured(archive)) assertArchiveConfigured(archive, 'prune');
}
