// Preloaded (node --import) into a process the bench measures: at exit, writes the process's
// peak resident memory (KiB, as /usr/bin/time's %M) to the file named by BENCH_PEAK_RSS_FILE.
import { writeFileSync } from 'node:fs';

process.once('exit', () => {
  if (process.env.BENCH_PEAK_RSS_FILE) writeFileSync(process.env.BENCH_PEAK_RSS_FILE, String(process.resourceUsage().maxRSS));
});
