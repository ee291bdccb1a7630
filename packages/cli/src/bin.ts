#!/usr/bin/env node
import { main } from './main.js';

// The only place that ends the process; commands return through main().
process.exitCode = await main(process.argv.slice(2));
