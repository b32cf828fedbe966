/// <reference lib="dom" />
/**
 * The dashboard end to end in Debian's Chromium: sign in with the token, walk every page, build a plan,
 * apply a bind from the UI on a kernel-like fake tree and check the TREE (driver link, driver_override),
 * see a change made behind the dashboard's back appear without a reload, roll the bind back from the UI
 * and check the tree again, keyboard-only navigation, axe-core (no serious or critical violations, light
 * and dark), and no console errors. Runs with `node scripts/run-tests.mjs --all` (or this file alone).
 * With VFIOCTL_SCREENSHOTS=DIR it also writes each page's screenshot there (docs/screenshots/).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeTempHostTree } from '../../support/host-tree.js';
import { FakeKernel } from '../../support/fake-kernel.js';
import { SPEC, driverOf, overrideOf } from '../../apply/helpers.js';
import { requirePciAddress } from '../../../src/model/pci-address.js';
import { axe, ensureWebBuild, launch, serious, serve, signIn, skipReason, tabUntil, watchConsole, screenshotDir, type Browsing, type Page, type Served } from './harness.js';

const reason = skipReason();
if (reason) console.log(`# skipping the dashboard browser suite: ${reason}`);

const GPU = '0000:02:00.0';
const AUDIO = '0000:02:00.1';
const NIC = '0000:01:00.0';

describe('dashboard in Chromium (fake-kernel tree)', { skip: reason ?? false }, () => {
  let tree: { root: string; cleanup(): void };
  let served: Served;
  let browsing: Browsing;
  let page: Page;
  let errors: string[];
  const kernels: FakeKernel[] = [];
  const shots = screenshotDir();

  const shot = async (name: string): Promise<void> => {
    if (!shots) return;
    await page.waitForTimeout(150);
    if (!(await page.locator('dialog[open]').count())) await page.evaluate(() => window.scrollTo(0, 0));
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      await page.screenshot({ path: path.join(shots, `${name}-${scheme}.png`) });
    }
    await page.emulateMedia({ colorScheme: 'light' });
  };

  before(async () => {
    ensureWebBuild();
    // vfio-pci is loaded already: no step of this suite runs a command on the machine
    tree = makeTempHostTree({ ...SPEC, drivers: ['vfio-pci'] });
    served = await serve(
      { root: tree.root, live: false },
      {
        runtime: {
          sysfsWriter: (host) => {
            const k = new FakeKernel(host.root);
            kernels.push(k);
            return k;
          },
          moveTimeoutMs: 1000,
        },
        scanIntervalMs: 300,
      },
    );
    browsing = await launch();
    page = await browsing.context.newPage();
    errors = watchConsole(page);
  });

  after(async () => {
    await browsing?.close();
    await served?.close();
    kernels.forEach((k) => k.dispose());
    tree?.cleanup();
  });

  it('signs in with the printed token, which then leaves the address bar; the readiness page loads', async () => {
    const t0 = Date.now();
    await signIn(page, served);
    await page.waitForSelector('[data-verdict]');
    const wall = Date.now() - t0;
    const nav = await page.evaluate(() => {
      const n = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming;
      return { dcl: Math.round(n.domContentLoadedEventEnd), load: Math.round(n.loadEventEnd), now: Math.round(performance.now()) };
    });
    console.log(`# page load (readiness, fake tree): DOMContentLoaded ${nav.dcl} ms, load ${nav.load} ms, checklist shown ${nav.now} ms after navigation start; ${wall} ms from goto(tokened URL) incl. the 303`);
    assert.equal(new URL(page.url()).search, '', 'the token is gone from the address bar');
    assert.equal(new URL(page.url()).pathname, '/');
    const cookies = await browsing.context.cookies();
    const c = cookies.find((x) => x.name === 'vfioctl_session');
    assert.ok(c && c.httpOnly && c.sameSite === 'Strict', 'an HttpOnly SameSite=Strict session cookie');
  });

  it('readiness: the doctor checklist by category, with evidence, remedies and copy buttons', async () => {
    const doctor = (await (await page.request.get(`${served.server.origin}/api/v1/doctor`)).json()) as { findings: { id: string; remedy?: string; evidence: unknown[] }[]; verdict: string };
    assert.equal(await page.getAttribute('[data-verdict]', 'data-verdict'), doctor.verdict);
    // every finding of the document is on the page, by id
    const ids = await page.$$eval('[data-finding]', (els) => els.map((e) => e.getAttribute('data-finding')));
    assert.deepEqual([...ids].sort(), doctor.findings.map((f) => f.id).sort());
    const withRemedy = doctor.findings.filter((f) => f.remedy);
    assert.ok(withRemedy.length > 0, 'this tree has findings with remedies');
    const shown = await page.$$eval('.remedy-text', (els) => els.map((e) => e.textContent));
    for (const f of withRemedy) {
      if (!(await page.locator(`[data-finding="${f.id}"] details`).evaluate((d) => (d as HTMLDetailsElement).open))) await page.click(`[data-finding="${f.id}"] summary`);
    }
    const shownAfter = await page.$$eval('.remedy-text', (els) => els.map((e) => e.textContent));
    assert.ok(shownAfter.length >= shown.length);
    for (const f of withRemedy) assert.ok(shownAfter.includes(f.remedy!), `remedy of ${f.id} shown`);
    // the copy button puts the remedy on the clipboard
    await browsing.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: served.server.origin });
    const first = withRemedy[0]!;
    await page.click(`[data-finding="${first.id}"] .remedy-row button`);
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), first.remedy);
    await shot('readiness');
  });

  it('group map: boxes per group, bridges vs endpoints, driver chips, host-critical badges, search and filter', async () => {
    await page.click('nav >> text=IOMMU groups');
    await page.waitForSelector('[data-group]');
    const groups = (await (await page.request.get(`${served.server.origin}/api/v1/groups`)).json()) as { groups: { id: number; hostCritical: { reason: string }[]; members: { address: string; role: string }[] }[] };
    assert.equal(await page.locator('[data-group]').count(), groups.groups.length);
    // group 2: the root port (bridge) and the GPU + audio (endpoints)
    const g2 = page.locator('[data-group="2"]');
    assert.equal(await g2.locator('.member-bridge').count(), 1);
    assert.equal(await g2.locator('.member-endpoint').count(), 2);
    assert.match((await g2.textContent()) ?? '', /nouveau/);
    // host-critical badges carry the reason the document gives
    for (const g of groups.groups.filter((x) => x.hostCritical.length)) {
      const text = (await page.locator(`[data-group="${g.id}"]`).textContent()) ?? '';
      for (const c of g.hostCritical) assert.ok(text.includes(c.reason), `group ${g.id} shows "${c.reason}"`);
    }
    // behind each bridge: what sits behind it (group 3's PCIe-to-PCI bridge has the two 8139 NICs)
    await page.waitForSelector('[data-group="3"] .behind');
    assert.match((await page.locator('[data-group="3"] .behind').textContent()) ?? '', /0000:03:01\.0.*0000:03:02\.0/);
    // search narrows the map, clearing it brings everything back
    await page.fill('input[aria-label="Search groups"]', 'nvme');
    await page.waitForFunction(() => document.querySelectorAll('[data-group]').length === 1);
    assert.equal(await page.getAttribute('[data-group]', 'data-group'), '4');
    await page.fill('input[aria-label="Search groups"]', '');
    await page.selectOption('select[aria-label="Filter groups"]', 'critical');
    await page.waitForFunction((n) => document.querySelectorAll('[data-group]').length === n, groups.groups.filter((g) => g.hostCritical.length).length);
    await page.selectOption('select[aria-label="Filter groups"]', 'all');
    await page.waitForFunction((n) => document.querySelectorAll('[data-group]').length === n, groups.groups.length);
    await shot('groups');
  });

  it('function detail: capabilities, reset, ROM, power and topology of the clicked function', async () => {
    await page.click(`[data-group="4"] a.addr:text("0000:04:00.0")`);
    await page.waitForSelector('#show-title');
    assert.equal(new URL(page.url()).hash, '#/show/0000:04:00.0');
    const text = (await page.textContent('main')) ?? '';
    for (const heading of ['Identity', 'Reset, ROM and power', 'Topology', 'Capabilities', 'IOMMU group 4']) assert.ok(text.includes(heading), heading);
    assert.match(text, /SR-IOV 0\/4 VFs/);
    assert.match(text, /0000:00:04\.0\s*root-port/);
    await shot('detail');
  });

  it('plan builder: ticking the GPU ticks its audio function with the reason; the live plan; rendered config tabs with copy and download', async () => {
    await page.click('nav >> text=Plan');
    await page.waitForSelector(`input[data-address="${GPU}"]`);
    await page.check(`input[data-address="${GPU}"]`);
    await page.waitForSelector('[data-plan-verdict]');
    // the plan claims the audio function too, and the picker says why
    await page.waitForFunction((a) => (document.querySelector(`input[data-address="${a}"]`) as HTMLInputElement | null)?.checked === true, AUDIO);
    const audioRow = page.locator(`li:has(input[data-address="${AUDIO}"])`);
    assert.match((await audioRow.textContent()) ?? '', /added: same (IOMMU group|device)/);
    const plan = (await (await page.request.post(`${served.server.origin}/api/v1/plan`, { data: { addresses: [GPU] } })).json()) as { verdict: string; claim: string[] };
    assert.equal(await page.getAttribute('[data-plan-verdict]', 'data-plan-verdict'), plan.verdict);
    assert.notEqual(plan.verdict, 'blocked');
    assert.deepEqual(plan.claim, [GPU, AUDIO]);
    // every render tab shows the server's text for the same request
    for (const [tab, target] of [['libvirt XML', 'libvirt'], ['virsh', 'virsh'], ['virt-install', 'virt-install'], ['QEMU', 'qemu'], ['Host config', 'host-config'], ['KubeVirt', 'kubevirt']] as const) {
      await page.click(`[role="tab"]:text-is("${tab}")`);
      await page.waitForSelector('#render-panel pre');
      const want = (await (await page.request.post(`${served.server.origin}/api/v1/render`, { data: { addresses: [GPU], target } })).json()) as { text: string };
      await page.waitForFunction((t) => document.querySelector('#render-panel pre')?.textContent === t, want.text);
    }
    await page.click('[role="tab"]:text-is("libvirt XML")');
    await page.waitForSelector('#render-panel pre');
    const xml = (await page.textContent('#render-panel pre')) ?? '';
    assert.match(xml, /<hostdev/);
    assert.match(xml, /bus=['"]0x02['"]/);
    await page.click('#render-panel button:text("Copy libvirt XML")');
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), xml);
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#render-panel button:text-matches("^Download")')]);
    const file = await download.path();
    assert.equal(fs.readFileSync(file, 'utf8'), xml);
    await shot('plan');
  });

  it('applies the bind from the UI after a confirmation that shows the exact steps; the tree has the GPU on vfio-pci', async () => {
    assert.equal(driverOf(tree.root, GPU), 'nouveau');
    await page.click('button:text("Bind now…")');
    await page.waitForSelector('dialog[open] [data-testid="preview-steps"]');
    const steps = (await page.textContent('dialog[open] [data-testid="preview-steps"]')) ?? '';
    assert.match(steps, new RegExp(`echo vfio-pci > /sys/bus/pci/devices/${GPU}/driver_override`));
    assert.match(steps, new RegExp(`echo ${AUDIO} > /sys/bus/pci/drivers/snd_hda_intel/unbind`));
    await shot('confirm-bind');
    assert.equal(driverOf(tree.root, GPU), 'nouveau', 'the preview changed nothing');
    await page.click('dialog[open] button.primary');
    await page.waitForSelector('[data-operation][data-state="done"]', { timeout: 20_000 });
    const events = await page.$$eval('[data-operation] .events li', (els) => els.map((e) => e.textContent ?? ''));
    assert.ok(events.some((e) => /verified/.test(e)), `progress shows verified steps: ${events.join(' | ')}`);
    // the tree itself
    for (const a of [GPU, AUDIO]) {
      assert.equal(driverOf(tree.root, a), 'vfio-pci', `${a} driver link`);
      assert.equal(overrideOf(tree.root, a), 'vfio-pci', `${a} driver_override`);
    }
    // the journal lists them as bound by vfioctl
    await page.waitForSelector('[data-testid="bound-table"]');
    const bound = (await page.textContent('[data-testid="bound-table"]')) ?? '';
    assert.ok(bound.includes(GPU) && bound.includes(AUDIO));
    await shot('applied');
  });

  it('a change made behind its back (someone binds the NIC) shows on the group map without a reload', async () => {
    await page.click('nav >> text=IOMMU groups');
    await page.waitForSelector('[data-group="1"]');
    await page.evaluate(() => ((window as unknown as { marker: number }).marker = 42));
    assert.equal(await page.locator('[data-group="1"] .chip-vfio').count(), 0);
    assert.equal(await page.locator('[data-group="2"] .chip-vfio').count(), 2, 'the GPU group shows vfio-pci chips');
    const k = new FakeKernel(tree.root);
    kernels.push(k);
    const nic = requirePciAddress(NIC);
    k.writePciAttr(nic, 'driver_override', 'vfio-pci');
    k.writeDriverAttr('e1000e', 'unbind', NIC);
    k.writeBusAttr('drivers_probe', NIC);
    assert.equal(driverOf(tree.root, NIC), 'vfio-pci');
    await page.waitForSelector('[data-group="1"] .chip-vfio', { timeout: 10_000 });
    assert.equal(await page.evaluate(() => (window as unknown as { marker?: number }).marker), 42, 'same document: no reload');
    // give it back, as it was
    k.writePciAttr(nic, 'driver_override', '');
    k.writeDriverAttr('vfio-pci', 'unbind', NIC);
    k.writeBusAttr('drivers_probe', NIC);
    assert.equal(driverOf(tree.root, NIC), 'e1000e');
    await page.waitForFunction(() => document.querySelectorAll('[data-group="1"] .chip-vfio').length === 0, undefined, { timeout: 10_000 });
  });

  it('rolls the bind back from the UI (release); the tree has the host drivers back and no override', async () => {
    await page.click('nav >> text=Plan');
    await page.waitForSelector('[data-plan-verdict]');
    await page.click('button:text("Roll back (release)…")');
    await page.waitForSelector('dialog[open] [data-testid="preview-steps"]');
    const steps = (await page.textContent('dialog[open] [data-testid="preview-steps"]')) ?? '';
    assert.ok(steps.includes(GPU) && steps.includes(AUDIO), steps);
    await page.click('dialog[open] button.primary');
    await page.waitForFunction(() => document.querySelectorAll('[data-operation][data-state="done"]').length === 2, undefined, { timeout: 20_000 });
    assert.equal(driverOf(tree.root, GPU), 'nouveau');
    assert.equal(driverOf(tree.root, AUDIO), 'snd_hda_intel');
    for (const a of [GPU, AUDIO]) assert.equal(overrideOf(tree.root, a), '(null)', `${a} driver_override cleared`);
    // nothing is bound by vfioctl any more
    await page.waitForFunction(() => !document.querySelector('[data-testid="bound-table"]'), undefined, { timeout: 10_000 });
  });

  it('recover: with no interrupted run the preview says there is nothing to do', async () => {
    await page.click('button:text("Recover…")');
    await page.waitForSelector('dialog[open] .dialog-buttons');
    await page.waitForFunction(() => !document.querySelector('dialog[open] [role="status"]'));
    assert.equal(await page.locator('dialog[open] button.primary').isDisabled(), true, 'nothing to apply');
    await page.keyboard.press('Escape');
    await page.waitForFunction(() => !document.querySelector('dialog[open]'));
  });

  it('guests: without libvirt the page says how to connect, and makes no failing request', async () => {
    await page.click('nav >> text=Guests');
    await page.waitForSelector('#guests-title');
    const session = (await (await page.request.get(`${served.server.origin}/api/v1/session`)).json()) as { libvirt: boolean };
    if (!session.libvirt) assert.match((await page.textContent('main')) ?? '', /libvirt was not found/);
    await shot('guests');
  });

  it('works with the keyboard alone: skip link, navigation, group map → detail, plan picker, tabs, dialog', async () => {
    // a fresh document (a hash change alone would keep the focus where it was)
    await page.goto('about:blank');
    await page.goto(`${served.server.origin}/#/`);
    await page.waitForSelector('[data-verdict]');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Skip to content');
    await page.keyboard.press('Enter');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'main');
    // to the group map through the navigation
    await page.keyboard.press('Shift+Tab');
    await tabUntil(page, 'nav a[href="#/groups"]', { back: true });
    await page.keyboard.press('Enter');
    await page.waitForSelector('[data-group]');
    assert.equal(new URL(page.url()).hash, '#/groups');
    // a function's address link opens its detail
    await tabUntil(page, 'a.addr');
    const addr = await page.evaluate(() => document.activeElement?.textContent);
    await page.keyboard.press('Enter');
    await page.waitForSelector('#show-title');
    assert.equal(new URL(page.url()).hash, `#/show/${addr}`);
    // the plan builder: a checkbox ticked with Space, the tabs moved with the arrow keys
    await page.goto('about:blank');
    await page.goto(`${served.server.origin}/#/plan`);
    await page.waitForSelector(`input[data-address="${NIC}"]`);
    await tabUntil(page, `input[data-address="${NIC}"]`);
    await page.keyboard.press('Space');
    await page.waitForSelector('[data-plan-verdict]');
    await tabUntil(page, '[role="tab"][aria-selected="true"]', { max: 200 });
    await page.keyboard.press('ArrowRight');
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'virsh');
    assert.equal(await page.getAttribute('[role="tab"][aria-selected="true"]', 'id'), 'tab-virsh');
    // the confirmation dialog opens from the keyboard, keeps the focus inside, and Escape closes it
    await tabUntil(page, 'button.primary', { max: 200 });
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Bind now…');
    await page.keyboard.press('Enter');
    await page.waitForSelector('dialog[open] [data-testid="preview-steps"]');
    assert.equal(await page.evaluate(() => Boolean(document.activeElement?.closest('dialog[open]'))), true, 'focus is in the dialog');
    await page.keyboard.press('Escape');
    await page.waitForFunction(() => !document.querySelector('dialog[open]'));
    assert.equal(driverOf(tree.root, NIC), 'e1000e', 'cancelled: nothing ran');
  });

  it('axe-core finds no serious or critical accessibility violations on any page, light or dark', async () => {
    const pages = ['#/', '#/groups', `#/show/${GPU}`, '#/plan', '#/guests'];
    const found: string[] = [];
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      for (const h of pages) {
        await page.goto('about:blank');
        await page.goto(`${served.server.origin}/${h}`);
        await page.waitForSelector('main h1');
        await page.waitForFunction(() => !document.querySelector('main [role="status"]:not([data-testid])') || !/Reading/.test(document.querySelector('main')?.textContent ?? ''));
        await page.waitForTimeout(400);
        for (const v of serious(await axe(page))) found.push(`${scheme} ${h}: ${v.id} (${v.impact}) ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
      }
    }
    await page.emulateMedia({ colorScheme: 'light' });
    assert.deepEqual(found, []);
    // the check itself can fail: a button without a name is a critical violation
    await page.evaluate(() => document.querySelector('main')!.append(document.createElement('button')));
    assert.ok(serious(await axe(page)).some((v) => v.id === 'button-name'), 'axe reports an unnamed button');
  });

  it('said nothing on the console: no errors, warnings, uncaught exceptions or failed requests', () => {
    assert.deepEqual(errors, []);
  });
});
