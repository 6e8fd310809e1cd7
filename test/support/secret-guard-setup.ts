import type { RunnerTask } from 'vitest';
import { afterAll, expect, inject } from 'vitest';
import { watchPrinted } from './output';
import { describeLeaks, findSecrets, forgetOutputs, recordedOutputs, recordOutput, registerSecret } from './secret-guard';

// A vitest setupFiles module: it runs in every test file's worker before the file. It records
// everything the file writes to stdout, stderr and the console (the handler and runner captures
// report theirs through recordOutput), and after the file fails it if the test server's password
// or any secret registered with registerSecret appears there or in a test's error.

forgetOutputs();
const adminUrl = inject('adminUrl');
// No server in the unit and infra projects; TEST_DATABASE_URL may be one without a password.
const adminPassword = adminUrl ? decodeURIComponent(new URL(adminUrl).password) : '';
if (adminPassword) registerSecret(adminPassword, "the test server's admin password");

const currentTest = () => expect.getState().currentTestName ?? '(outside a test)';

watchPrinted((source, text) => recordOutput(`${source} of ${currentTest()}`, text), ['log', 'info', 'warn', 'error', 'debug', 'trace']);

/** The errors vitest will print for the file's failed tests (message, stack, diff). */
function testErrors(tasks: readonly RunnerTask[]): { source: string; text: string }[] {
  return tasks.flatMap((task) => [
    ...(task.result?.errors ?? []).map((error) => ({ source: `the error of ${task.name}`, text: JSON.stringify(error) })),
    ...('tasks' in task ? testErrors(task.tasks) : []),
  ]);
}

// Registered first, so with vitest's stacked hooks it runs after the file's own afterAll hooks
// (which close handlers and may still log).
// biome-ignore lint/correctness/noEmptyPattern: vitest requires a destructuring pattern for the hook context; only the suite is used
afterAll(({}, suite) => {
  const leaks = findSecrets([...recordedOutputs(), ...testErrors(suite.tasks)]);
  if (leaks.length > 0) throw new Error(describeLeaks(leaks));
});
