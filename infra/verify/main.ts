#!/usr/bin/env node
/** Entry of `npm run verify`: wires the process to runVerify. */
import { runVerify } from './cli';

process.exitCode = await runVerify(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr });
