/** Types of the launcher's exports (scripts/local.mjs is plain JavaScript, so that nothing is compiled at start). */
export declare const RUNNER_SOURCES: readonly string[];
export declare const RUNNER_ENTRY: string;
export declare function runnerIsStale(root?: string): boolean;
export declare function buildRunner(root?: string): void;
