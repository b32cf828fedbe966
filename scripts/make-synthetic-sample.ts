/**
 * Regenerate samples/desktop-gpu: a synthetic desktop host (Intel CPU, GeForce GTX 1080 sharing a group
 * with its CPU root port, PCH platform group, NVMe, SATA, USB, NIC) built with the test tree builder.
 * The default sample is the real-kernel capture (samples/q35-intel-iommu); this one shows a consumer
 * board's typical grouping.  Run: node --import tsx scripts/make-synthetic-sample.ts
 */
import { rmSync, mkdirSync, writeFileSync } from 'node:fs';
import { buildHostTree } from '../test/support/host-tree.js';
import { desktopGpu } from '../test/support/topologies.js';

const out = new URL('../samples/desktop-gpu/', import.meta.url).pathname;
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
buildHostTree(out, desktopGpu());
writeFileSync(`${out}/vfioctl-snapshot.json`, JSON.stringify({ format: 'vfioctl-snapshot', version: 1, synthetic: true, description: 'synthetic desktop host built by scripts/make-synthetic-sample.ts' }, null, 2) + '\n');
console.log(`wrote ${out}`);
