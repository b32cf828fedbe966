/**
 * One wording per fact: doctor, check, plan and show, run on every bundled sample and every doctor test
 * host, never state two values of one fact. Findings name the fact they state (`fact: { id, value }`);
 * show's function record and the plan's functions are read as statements of the same facts (a function's
 * IOMMU group, its boot_vga flag). `check` also never refers ("see ID") to a finding it does not print.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openSession, type Session } from '../../src/service/session.js';
import { listSamples } from '../../src/service/samples.js';
import { referencedFindingIds } from '../../src/core/doctor.js';
import type { Finding } from '../../src/model/finding.js';
import { makeTempHostTree, type HostSpec } from '../support/host-tree.js';
import * as hosts from '../support/doctor-hosts.js';

interface Statement { fact: string; value: string; by: string }

/** Fact ids stated with more than one value, with who stated what. */
export function contradictions(statements: readonly Statement[]): string[] {
  const by = new Map<string, Map<string, string[]>>();
  for (const s of statements) {
    const values = by.get(s.fact) ?? new Map<string, string[]>();
    values.set(s.value, [...(values.get(s.value) ?? []), s.by]);
    by.set(s.fact, values);
  }
  const out: string[] = [];
  for (const [fact, values] of by) {
    if (values.size > 1) out.push(`${fact}: ${[...values].map(([v, who]) => `${v} (${[...new Set(who)].join(', ')})`).join(' vs ')}`);
  }
  return out;
}

function fromFindings(findings: readonly Finding[], by: string): Statement[] {
  return findings.filter((f) => f.fact).map((f) => ({ fact: f.fact!.id, value: f.fact!.value, by: `${by} ${f.id}` }));
}

async function statementsOf(s: Session): Promise<{ statements: Statement[]; checkProblems: string[] }> {
  const inv = s.inventory();
  const endpoints = inv.functions.filter((f) => !f.isBridge).map((f) => f.address);
  const statements: Statement[] = [];
  const checkProblems: string[] = [];
  const doctor = await s.doctor({ addresses: endpoints, libvirt: false });
  statements.push(...fromFindings(doctor.findings, 'doctor'));
  for (const a of endpoints) {
    const check = await s.doctor({ addresses: [a], deviceFocus: true, libvirt: false });
    statements.push(...fromFindings(check.findings, `check ${a}`));
    const printed = new Set(check.findings.map((f) => f.id));
    for (const f of check.findings) {
      for (const id of referencedFindingIds(f)) if (!printed.has(id)) checkProblems.push(`check ${a}: ${f.id} refers to ${id}, which check does not print`);
      if (/finding(s)? (above|below)|\babove\b.*finding/i.test(`${f.summary} ${f.remedy ?? ''} ${f.detail ?? ''}`)) checkProblems.push(`check ${a}: ${f.id} points at a finding by position`);
    }
    const plan = await s.plan({ addresses: [a] });
    statements.push(...fromFindings(plan.findings, `plan ${a}`));
    for (const fn of plan.functions) statements.push({ fact: `iommu-group:${fn.address}`, value: fn.iommuGroup === null ? 'none' : String(fn.iommuGroup), by: `plan ${a} functions` });
    const show = s.show(a).function;
    statements.push({ fact: `iommu-group:${a}`, value: show.iommuGroup === null ? 'none' : String(show.iommuGroup), by: 'show' });
    statements.push({ fact: `boot-vga:${a}`, value: show.bootVga === null ? 'unknown' : show.bootVga ? 'yes' : 'no', by: 'show' });
  }
  return { statements, checkProblems };
}

/** The machine of the issue: an AMD CPU without the svm flag (no KVM), yet a /dev/kvm node. */
function noKvm(): HostSpec {
  const spec = hosts.intelReady();
  const files = { ...(spec.files as Record<string, string>), 'proc/cpuinfo': hosts.cpuinfo('amd', { virt: false }), 'dev/kvm': '' };
  return { ...spec, files };
}

/** VT-x on, but no KVM in this kernel (no /dev/kvm, no kvm modules): check must not point at cpu-virtualization "above". */
function kvmMissing(): HostSpec {
  const spec = hosts.intelReady();
  const files = { ...(spec.files as Record<string, string>) };
  delete files['dev/kvm'];
  files['proc/modules'] = 'e1000e 45056 0 - Live 0x0000000000000000\n';
  files[`lib/modules/${hosts.RELEASE}/modules.dep`] = files[`lib/modules/${hosts.RELEASE}/modules.dep`]!.split('\n').filter((l) => !/kvm/.test(l)).join('\n');
  return { ...spec, files };
}

const DOCTOR_HOSTS: Record<string, () => HostSpec> = {
  intelReady: hosts.intelReady, amdReady: hosts.amdReady, firmwareOff: hosts.firmwareOff, kernelOff: hosts.kernelOff,
  pendingReboot: hosts.pendingReboot, noInterruptRemapping: hosts.noInterruptRemapping, unsafeInterrupts: hosts.unsafeInterrupts,
  acsOverride: hosts.acsOverride, vfioBuiltin: hosts.vfioBuiltin, vmWithoutViommu: hosts.vmWithoutViommu, vmWithViommu: hosts.vmWithViommu, noKvm, kvmMissing,
};

test('the checker finds a contradiction (two values of one fact)', () => {
  assert.deepEqual(contradictions([
    { fact: 'kvm-usable', value: 'no', by: 'doctor cpu-virtualization' },
    { fact: 'kvm-usable', value: 'yes', by: 'doctor kvm' },
    { fact: 'iommu-groups', value: 'present', by: 'doctor iommu-kernel' },
  ]), ['kvm-usable: no (doctor cpu-virtualization) vs yes (doctor kvm)']);
});

for (const sample of listSamples()) {
  test(`sample ${sample}: doctor, check, plan and show agree on every fact`, async () => {
    const s = openSession({ sample, env: {} });
    const { statements, checkProblems } = await statementsOf(s);
    assert.ok(statements.length > 0);
    assert.deepEqual(contradictions(statements), []);
    assert.deepEqual(checkProblems, []);
  });
}

for (const [name, spec] of Object.entries(DOCTOR_HOSTS)) {
  test(`doctor host ${name}: doctor, check, plan and show agree on every fact`, async (t) => {
    const tree = makeTempHostTree(spec());
    t.after(tree.cleanup);
    const s = openSession({ root: tree.root, live: false, readOnly: true, env: {} });
    const { statements, checkProblems } = await statementsOf(s);
    assert.deepEqual(contradictions(statements), []);
    assert.deepEqual(checkProblems, []);
    if (name === 'noKvm') {
      const kvm = statements.filter((x) => x.fact === 'kvm-usable');
      assert.ok(kvm.length >= 2, 'cpu-virtualization and kvm both state whether KVM can run guests');
      assert.ok(kvm.every((x) => x.value === 'no'));
    }
  });
}
