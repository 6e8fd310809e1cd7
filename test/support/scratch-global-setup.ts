import { useRunScratch } from './scratch';

/** Vitest global setup of every run: the run's temporary directory (see scratch.ts). */
export default function setup(): void {
  useRunScratch();
}
