#!/usr/bin/env node
import { main } from './main.js';

// A reader that stops early, as in `flydr backups list | head -1`, closes the pipe. The rest
// of the output is dropped, so EPIPE never ends a command (a failover) halfway.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
  });
}

// The only place that ends the process; commands return through main().
process.exitCode = await main(process.argv.slice(2));
