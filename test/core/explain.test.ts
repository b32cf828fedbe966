/** explainError: message patterns, and the host facts cited when a host tree is given. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HostRoot } from '../../src/host/host-root.js';
import { readHostFacts } from '../../src/host/read-host-facts.js';
import { readInventory } from '../../src/host/read-inventory.js';
import { explainError, knownMessages } from '../../src/core/explain.js';
import type { HostFacts } from '../../src/model/host-facts.js';
import type { PciInventory } from '../../src/model/pci-function.js';
import { makeTempHostTree, type HostSpec } from '../support/host-tree.js';
import { intelReady, noInterruptRemapping, unsafeInterrupts } from '../support/doctor-hosts.js';
import { noIommu } from '../support/topologies.js';

function withHost<T>(spec: HostSpec, fn: (facts: HostFacts, inv: PciInventory) => T): T {
  const t = makeTempHostTree(spec);
  try {
    const host = new HostRoot(t.root);
    return fn(readHostFacts(host), readInventory(host, { names: false }));
  } finally {
    t.cleanup();
  }
}

const MESSAGES: [string, string][] = [
  ['qemu-system-x86_64: -device vfio-pci,host=0000:01:00.0: vfio 0000:01:00.0: group 1 is not viable\nPlease ensure all devices within the iommu_group are bound to their vfio bus driver.', 'group-not-viable'],
  ["vfio-pci 0000:01:00.0: BAR 1: can't reserve [mem 0xc0000000-0xcfffffff 64bit pref]", 'bar-cant-reserve'],
  ['vfio_iommu_type1_attach_group: No interrupt remapping support.  Use the module param "allow_unsafe_interrupts" to enable VFIO IOMMU support on this platform', 'no-interrupt-remapping'],
  ['vfio-pci 0000:03:00.0: DMAR: Device is ineligible for IOMMU domain attach due to platform RMRR requirement.  Contact your platform vendor.', 'rmrr-ineligible'],
  ['vfio-pci 0000:02:00.0: Unable to change power state from D3cold to D0, device inaccessible', 'stuck-in-d3'],
  ['vfio-pci 0000:01:00.0: no available reset mechanism', 'no-reset'],
  ['error: Requested operation is not valid: domain has assigned non-USB host devices', 'migration-hostdev'],
  ['Windows has stopped this device because it has reported problems. (Code 43)', 'windows-code-43'],
  ['error: internal error: VFIO device assignment is currently not supported on this system', 'no-iommu'],
  ['qemu-system-x86_64: -device vfio-pci,host=03:00.0: vfio 0000:03:00.0: failed to open /dev/vfio/7: No such file or directory', 'vfio-group-missing'],
  ['qemu-system-x86_64: vfio_dma_map(0x55d6, 0x100000, 0x7ff00000, 0x7f3a) = -12 (Cannot allocate memory)', 'memlock'],
];

test('each known message maps to its explanation, with cause and fix', () => {
  for (const [text, id] of MESSAGES) {
    const r = explainError(text);
    assert.ok(r.some((e) => e.id === id), `${id} for ${JSON.stringify(text.slice(0, 60))}; got ${r.map((e) => e.id).join(',')}`);
    const e = r.find((x) => x.id === id)!;
    assert.ok(e.cause.length > 20 && e.fix.length > 20, id);
    assert.deepEqual(e.facts, [], 'no host given: no facts');
  }
  // every family is exercised by test/core/explain-catalogue.test.ts (this list keeps the original eleven)
  assert.ok(MESSAGES.every(([, id]) => knownMessages().some((k) => k.id === id)));
});

test('unrelated text explains nothing', () => {
  assert.deepEqual(explainError('the quick brown fox'), []);
  assert.deepEqual(explainError('error 404 not found'), []);
});

test('group N is not viable cites the group members and which one blocks', () => {
  withHost(intelReady(), (facts, inv) => {
    const [e] = explainError('vfio 0000:01:00.0: group 1 is not viable', facts, inv);
    assert.equal(e!.id, 'group-not-viable');
    const lines = e!.facts.map((f) => f.value);
    assert.ok(lines.includes('0000:01:00.1 endpoint, BLOCKS: on host driver snd_hda_intel'), lines.join('\n'));
    assert.ok(lines.includes('0000:00:01.0 bridge, bridge: stays on the host, fine'));
    assert.match(e!.fix, /group 1/);
  });
});

test('no interrupt remapping cites the remapping state and allow_unsafe_interrupts', () => {
  withHost(noInterruptRemapping(), (facts, inv) => {
    const [e] = explainError('No interrupt remapping support', facts, inv);
    assert.ok(e!.facts.some((f) => f.source === 'interrupt remapping' && /^unsupported/.test(f.value)));
    assert.ok(e!.facts.some((f) => f.source.endsWith('allow_unsafe_interrupts') && f.value === '(absent)'));
  });
  withHost(unsafeInterrupts(), (facts, inv) => {
    const [e] = explainError('No interrupt remapping support', facts, inv);
    assert.ok(e!.facts.some((f) => f.source.endsWith('allow_unsafe_interrupts') && f.value === 'Y'));
  });
});

test('BAR can\'t reserve cites the framebuffer found in that device\'s BAR', () => {
  const spec = intelReady();
  spec.files = { ...spec.files, 'proc/iomem': 'c0000000-cfffffff : 0000:01:00.0\n  c0000000-c02fffff : efifb\n' };
  withHost(spec, (facts, inv) => {
    const [e] = explainError("vfio-pci 0000:01:00.0: BAR 1: can't reserve [mem 0xc0000000-0xcfffffff 64bit pref]", facts, inv);
    assert.ok(e!.facts.some((f) => /0000:01:00\.0: efifb at c0000000-c02fffff/.test(f.value)), JSON.stringify(e!.facts));
  });
});

test('the no-IOMMU message cites groups, the ACPI table and intel_iommu=off', () => {
  withHost(noIommu(), (facts, inv) => {
    const [e] = explainError('VFIO device assignment is currently not supported on this system', facts, inv);
    const values = e!.facts.map((f) => f.value);
    assert.ok(values.includes('(no groups: the kernel IOMMU is off)'));
    assert.ok(values.includes('intel_iommu=off'));
  });
});

test('no reset cites the device\'s reset methods; addresses in any accepted form are recognised', () => {
  withHost(intelReady(), (facts, inv) => {
    const [e] = explainError('vfio-pci pci_0000_03_00_0: no available reset mechanism', facts, inv);
    assert.equal(e!.facts[0]!.value, 'flr pm bus');
    assert.match(e!.facts[0]!.source, /0000:03:00\.0\/reset_method$/);
  });
});
