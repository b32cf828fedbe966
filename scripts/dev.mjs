#!/usr/bin/env node
// Run the CLI from source without building: node --import tsx scripts/dev.mjs <args>
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
