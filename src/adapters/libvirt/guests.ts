/**
 * Guests through libvirt: read every guest's definition, turn a passthrough plan into <hostdev> changes
 * for one guest, and the primitives that carry them out: one `virsh attach-device` / `detach-device` per
 * function, verified against `virsh dumpxml`, and an idempotent `ensureHostdev` that undo and recover use.
 * The journaled run (lock, journal, rollback) is src/apply/libvirt.ts.
 *
 * Live (--live) and persistent (--config) changes are separate effects: the XML each is checked against
 * is the live definition (dumpxml) or the persistent one (dumpxml --inactive).
 */
import { type PciAddressString, deviceKey, formatNodedevName, formatPciAddress, pciAddressOf } from '../../model/pci-address.js';
import type { OtherGuest, PassthroughPlan } from '../../model/plan.js';
import { VfioctlError, ExitCode } from '../../model/errors.js';
import { type DomainConfig, type GuestPciAddress, editDomainXml, parseDomainXml, parseHostdevSourceAddress, pciHostdevs, renderPciHostdevXml } from './domain-xml.js';
import { type Virsh, VirshError } from './virsh.js';
import { childElements, descend, parseXmlDocument } from './xml-dom.js';
import { XMLSerializer, type Element } from '@xmldom/xmldom';
import { isOptionLike, shellJoin } from '../../model/shell-quote.js';

export interface GuestInfo {
  name: string;
  running: boolean;
  /** virsh domstate text ("running", "shut off", ...). */
  state: string;
  /** The persistent definition (dumpxml --inactive). */
  config: DomainConfig;
  configXml: string;
}

export function parseOrThrow(xml: string, what: string): DomainConfig {
  const r = parseDomainXml(xml);
  if (!r.ok) throw new VfioctlError('bad-domain-xml', `${what}: ${r.error.message}`, { remedy: 'check the definition with `virsh dumpxml`' });
  return r.value;
}

/** Every guest libvirt knows on this connection, with its persistent definition. */
export async function readGuests(virsh: Virsh): Promise<GuestInfo[]> {
  const names = await virsh.listDomainNames();
  const running = new Set(await virsh.listRunningDomainNames());
  const out: GuestInfo[] = [];
  for (const name of names) {
    const xml = await virsh.dumpxml(name, { inactive: true });
    const state = running.has(name) ? 'running' : await virsh.domstate(name);
    out.push({ name, running: running.has(name), state, config: parseOrThrow(xml, `definition of ${name}`), configXml: xml });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** The other guests' PCI hostdevs, in the planner's shape. */
export function otherGuestsOf(guests: GuestInfo[], exclude: string | null): OtherGuest[] {
  return guests
    .filter((g) => g.name !== exclude)
    .map((g) => ({ name: g.name, running: g.running, hostdevs: pciHostdevs(g.config).map((h) => h.source) }));
}

export interface Effects {
  live: boolean;
  config: boolean;
}

export interface HostdevChange {
  address: PciAddressString;
  /** The <hostdev> element given to virsh. */
  xml: string;
  /**
   * The element the opposite call uses to undo this change: for attach the same element; for detach the
   * hostdev exactly as the definition held it (guest address, ROM, boot order), so re-attaching restores it.
   */
  undoXml: string;
  managed: boolean;
  guestAddress: GuestPciAddress | null;
  romBar: 'on' | 'off' | null;
}

export interface HostdevChangeSet {
  op: 'attach' | 'detach';
  guest: string;
  effects: Effects;
  changes: HostdevChange[];
  /** Functions left out, and why (already attached, not attached...). */
  skipped: { address: PciAddressString; reason: string }[];
  notes: string[];
  /** detach: unmanaged functions to give back to the host afterwards (nodedev-reattach). */
  reattach: PciAddressString[];
  /** The persistent definition before and after (--config), for --dry-run's diff. */
  configBefore: string | null;
  configAfter: string | null;
}

/**
 * Where a multifunction device goes in the guest: one slot holding all its functions. q35: a new bus number
 * past the last controller (libvirt adds the pcie-root-port for it); i440fx: a free slot on bus 0.
 */
export function chooseGuestSlot(d: DomainConfig, taken: { bus: number; slot: number }[] = []): { bus: number; slot: number } | null {
  if (d.chipset === 'q35') {
    const maxIndex = Math.max(0, ...d.controllers.filter((c) => c.type === 'pci' && c.index !== null).map((c) => c.index!), ...d.usedGuestAddresses.map((a) => a.bus), ...taken.map((t) => t.bus));
    return { bus: maxIndex + 1, slot: 0 };
  }
  if (d.chipset === 'i440fx') {
    const used = new Set([...d.usedGuestAddresses.filter((a) => a.domain === 0 && a.bus === 0).map((a) => a.slot), ...taken.filter((t) => t.bus === 0).map((t) => t.slot)]);
    // Slots 0-2 hold the host bridge, the PIIX3 and the video device on i440fx.
    for (let s = 3; s <= 0x1f; s++) if (!used.has(s)) return { bus: 0, slot: s };
  }
  return null;
}

/** The hostdev additions for `guest` from a plan: one per claimed function not yet attached there. */
export function planHostdevAttach(plan: PassthroughPlan, guest: GuestInfo, live: DomainConfig | null, effects: Effects): HostdevChangeSet {
  const notes: string[] = [];
  const skipped: HostdevChangeSet['skipped'] = [];
  const inConfig = new Set<string>(pciHostdevs(guest.config).map((h) => h.source));
  const inLive = new Set<string>(live ? pciHostdevs(live).map((h) => h.source) : []);
  const already = (a: string) => (!effects.config || inConfig.has(a)) && (!effects.live || inLive.has(a));
  const partly = (a: string) => (effects.config && inConfig.has(a)) || (effects.live && inLive.has(a));
  const fnInfo = new Map(plan.functions.map((f) => [f.address as string, f]));
  const changes: HostdevChange[] = [];
  const taken: { bus: number; slot: number }[] = [];
  for (const slot of plan.slots) {
    const todo = slot.functions.filter((a) => {
      if (already(a)) {
        skipped.push({ address: a, reason: `already attached to ${guest.name}` });
        return false;
      }
      if (partly(a)) {
        throw new VfioctlError('hostdev-half-attached', `${a} is attached to ${guest.name} in only one of the live and persistent definitions`, {
          remedy: `attach it with only the missing flag (--live or --config), or detach it first: vfioctl detach ${guest.name} ${a}`,
          exitCode: ExitCode.usage,
        });
      }
      return true;
    });
    if (!todo.length) continue;
    let place: { bus: number; slot: number } | null = null;
    if (todo.length > 1) {
      if (effects.live) {
        notes.push(`functions of ${slot.device} go to separate guest slots: hotplug (--live) adds single-function slots only; attach with --config alone to keep them in one multifunction slot`);
      } else {
        place = chooseGuestSlot(guest.config, taken);
        if (place) taken.push(place);
        else notes.push(`no free guest slot found for ${slot.device} as one multifunction device; libvirt places the functions itself`);
      }
    }
    const hasFn0 = todo.some((a) => pciAddressOf(a).fn === 0);
    todo.forEach((a, i) => {
      const src = pciAddressOf(a);
      const guestFn = hasFn0 ? src.fn : i;
      const guestAddress: GuestPciAddress | null = place ? { domain: 0, bus: place.bus, slot: place.slot, fn: guestFn, multifunction: guestFn === 0 } : null;
      const romBar = fnInfo.get(a)?.romBar ?? null;
      const xml = renderPciHostdevXml({ source: src, managed: true, guestAddress: guestAddress ?? undefined, romBar: romBar ?? undefined });
      changes.push({ address: a, managed: true, guestAddress, romBar, xml, undoXml: xml });
    });
  }
  if (plan.slots.some((s) => s.functions.length > 1) && changes.length) {
    const devices = new Set(changes.map((c) => deviceKey(pciAddressOf(c.address))));
    if (devices.size < changes.length && !effects.live) notes.push('functions of one device share one guest slot (function 0 marked multifunction)');
  }
  let configAfter: string | null = null;
  if (effects.config) {
    const r = editDomainXml(guest.configXml, { addHostdevs: changes.map((c) => c.xml) });
    if (!r.ok) throw new VfioctlError('internal-edit', r.error.message);
    configAfter = r.value;
  }
  return { op: 'attach', guest: guest.name, effects, changes, skipped, notes, reattach: [], configBefore: effects.config ? guest.configXml : null, configAfter };
}

/** The hostdev removals for `guest`: the given functions, matched on the existing hostdevs' sources. */
export function planHostdevDetach(addresses: PciAddressString[], guest: GuestInfo, live: DomainConfig | null, effects: Effects, otherGuests: OtherGuest[] = []): HostdevChangeSet {
  const notes: string[] = [];
  const skipped: HostdevChangeSet['skipped'] = [];
  const changes: HostdevChange[] = [];
  const cfg = new Map(pciHostdevs(guest.config).map((h) => [h.source as string, h]));
  const liv = new Map(live ? pciHostdevs(live).map((h) => [h.source as string, h]) : []);
  for (const a of addresses) {
    const h = (effects.config ? cfg.get(a) : undefined) ?? (effects.live ? liv.get(a) : undefined);
    const missing = [...(effects.config && !cfg.has(a) ? ['persistent'] : []), ...(effects.live && !liv.has(a) ? ['live'] : [])];
    if (!h) {
      skipped.push({ address: a, reason: `not attached to ${guest.name} (${missing.join(' and ')} definition)` });
      continue;
    }
    if (missing.length) {
      throw new VfioctlError('hostdev-half-attached', `${a} is not in the ${missing.join(' and ')} definition of ${guest.name}`, {
        remedy: `detach it with only ${effects.config && cfg.has(a) ? '--config' : '--live'}`,
        exitCode: ExitCode.usage,
      });
    }
    // libvirt matches a hostdev on its source; the managed flag is kept as it was. The undo re-attaches the
    // element as the persistent definition holds it, else (live only) as parsed from the live definition.
    const undoXml =
      (effects.config ? hostdevElementXml(guest.configXml, a) : null) ??
      renderPciHostdevXml({ source: pciAddressOf(a), managed: h.managed, guestAddress: h.guestAddress ?? undefined, romBar: h.rom?.bar ?? undefined });
    changes.push({ address: a, managed: h.managed, guestAddress: h.guestAddress, romBar: h.rom?.bar ?? null, xml: renderPciHostdevXml({ source: pciAddressOf(a), managed: h.managed }), undoXml });
  }
  let configAfter: string | null = null;
  if (effects.config) {
    const r = editDomainXml(guest.configXml, { removeHostdevSources: changes.map((c) => c.address) });
    if (!r.ok) throw new VfioctlError('internal-edit', r.error.message);
    configAfter = r.value;
  }
  // Unmanaged functions go back to the host unless another guest's definition still lists them.
  const reattach: PciAddressString[] = [];
  for (const c of changes) {
    if (c.managed) continue;
    const users = otherGuests.filter((o) => o.hostdevs.includes(c.address)).map((o) => o.name);
    if (users.length) notes.push(`${c.address} is unmanaged and also listed by ${users.join(', ')}: it is left detached from the host`);
    else reattach.push(c.address);
  }
  return { op: 'detach', guest: guest.name, effects, changes, skipped, notes, reattach, configBefore: effects.config ? guest.configXml : null, configAfter };
}

/** virsh commands a person could run for the change set (shown by --dry-run). */
export function describeCommands(set: HostdevChangeSet, uri: string | undefined): string[] {
  const flags = [...(set.effects.live ? ['--live'] : []), ...(set.effects.config ? ['--config'] : [])];
  const conn = uri ? ['--connect', uri] : [];
  const domain = isOptionLike(set.guest) ? ['--domain', set.guest] : [set.guest];
  const cmds = set.changes.map((c) => shellJoin(['virsh', ...conn, `${set.op}-device`, ...domain, `hostdev-${c.address.replace(/[:.]/g, '_')}.xml`, ...flags]));
  for (const a of set.reattach) cmds.push(shellJoin(['virsh', ...conn, 'nodedev-reattach', formatNodedevName(pciAddressOf(a))]));
  return cmds;
}

/**
 * The <hostdev> element of `domainXml` whose PCI source is `address`, serialized on its own (without the
 * runtime <alias>, which libvirt assigns and refuses on attach), or null when there is none.
 */
export function hostdevElementXml(domainXml: string, address: PciAddressString): string | null {
  const doc = parseXmlDocument(domainXml, 'domain XML');
  if (!doc.ok) return null;
  const devices = descend(doc.value.documentElement, 'devices');
  for (const el of childElements(devices, 'hostdev')) {
    if (el.getAttribute('mode') !== 'subsystem' || el.getAttribute('type') !== 'pci') continue;
    const src = parseHostdevSourceAddress(descend(el, 'source', 'address'));
    if (!('address' in src) || formatPciAddress(src.address) !== address) continue;
    const copy = el.cloneNode(true) as Element;
    for (const alias of childElements(copy, 'alias')) copy.removeChild(alias);
    return `${new XMLSerializer().serializeToString(copy).replace(/\n\s*\n/g, '\n')}\n`;
  }
  return null;
}

export interface ApplyResult {
  done: PciAddressString[];
  /** Unmanaged functions given back to the host (nodedev-reattach). */
  reattached: PciAddressString[];
  /** Problems after the change that did not undo it (e.g. a reattach that failed). */
  warnings: string[];
}

export type HostdevFlags = Effects;

/**
 * Which of the flagged definitions hold a PCI hostdev with source `address`. The live definition is read
 * only while the guest is active (a stopped guest has none: a hotplugged device went with it); a guest
 * that no longer exists holds nothing.
 */
export async function hostdevPresence(virsh: Virsh, guest: string, address: string, flags: HostdevFlags): Promise<{ config: boolean | null; live: boolean | null }> {
  const has = async (inactive: boolean) => pciHostdevs(parseOrThrow(await virsh.dumpxml(guest, { inactive }), guest)).some((h) => h.source === address);
  try {
    // "shut off" and "crashed" guests have no live definition (dumpxml would print the persistent one).
    const active = flags.live ? !/^(shut off|crashed)$/.test(await virsh.domstate(guest)) : false;
    return { config: flags.config ? await has(true) : null, live: flags.live && active ? await has(false) : null };
  } catch (e) {
    if (e instanceof VirshError && e.kind === 'domain-not-found') return { config: flags.config ? false : null, live: null };
    throw e;
  }
}

/** One virsh call for one hostdev. */
export async function changeHostdev(virsh: Virsh, op: 'attach' | 'detach', guest: string, xml: string, flags: HostdevFlags): Promise<void> {
  if (op === 'attach') await virsh.attachDevice(guest, xml, flags);
  else await virsh.detachDevice(guest, xml, flags);
}

/**
 * How long a live unplug may take to show in the live definition. libvirt's detach-device --live asks QEMU
 * to unplug, waits 5 s for the guest to let go and then returns success either way; the device leaves the
 * live definition only when the guest OS has acknowledged the unplug (Linux's pciehp alone waits 5 s after
 * the attention button before it powers the slot off, and a slow guest takes longer).
 */
export const LIVE_UNPLUG_WAIT_MS = 60_000;

/**
 * Read the flagged definitions back and throw `verify-failed` unless the hostdev is `want` in each. A live
 * removal is waited for (up to `waitMs`, default LIVE_UNPLUG_WAIT_MS): libvirt reports it before the
 * guest has released the device.
 */
export async function verifyHostdev(
  virsh: Virsh, guest: string, address: string, flags: HostdevFlags, want: 'present' | 'absent',
  opts: { waitMs?: number; pollMs?: number } = {},
): Promise<void> {
  const waitMs = want === 'absent' && flags.live ? opts.waitMs ?? LIVE_UNPLUG_WAIT_MS : 0;
  const deadline = Date.now() + waitMs;
  for (;;) {
    const now = await hostdevPresence(virsh, guest, address, flags);
    const wrong = ([['persistent', now.config], ['live', now.live]] as const).find(([, present]) => present !== null && present !== (want === 'present'));
    if (!wrong) return;
    const [where, present] = wrong;
    if (where === 'live' && present && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, opts.pollMs ?? 500));
      continue;
    }
    const unplug = where === 'live' && present && want === 'absent';
    throw new VfioctlError('verify-failed', `${address} is ${present ? 'still' : 'not'} in the ${where} definition of ${guest}${unplug ? ` ${Math.round(waitMs / 1000)} s after the unplug request` : ''}`, {
      remedy: unplug
        ? `the guest has not released the device: a live unplug needs the guest OS to acknowledge it (PCIe hotplug or ACPI hotplug support, not paused, not still booting); check with \`virsh dumpxml ${guest}\`, or shut the guest down and use --config`
        : 'check the guest with `vfioctl guests` and `virsh dumpxml`',
    });
  }
}

/**
 * Idempotent: make the hostdev `want` in the flagged definitions, changing only the definitions where it
 * is not (a definition already in that state is left alone), then verify. Used by rollback and recover,
 * where a step may or may not have been made before the run stopped.
 */
export async function ensureHostdev(virsh: Virsh, guest: string, address: string, xml: string, flags: HostdevFlags, want: 'present' | 'absent'): Promise<'unchanged' | 'changed'> {
  const now = await hostdevPresence(virsh, guest, address, flags);
  const wrong = (p: boolean | null) => p !== null && p !== (want === 'present');
  const todo: HostdevFlags = { config: wrong(now.config), live: wrong(now.live) };
  if (!todo.config && !todo.live) return 'unchanged';
  await changeHostdev(virsh, want === 'present' ? 'attach' : 'detach', guest, xml, todo);
  await verifyHostdev(virsh, guest, address, todo, want);
  return 'changed';
}

/** Unmanaged hostdevs removed from a guest go back to the host driver; a failure is a warning. */
export async function reattachHostdevs(virsh: Virsh, addresses: PciAddressString[], log: (line: string) => void = () => {}): Promise<{ reattached: PciAddressString[]; warnings: string[] }> {
  const reattached: PciAddressString[] = [];
  const warnings: string[] = [];
  for (const a of addresses) {
    log(`reattach ${a} to the host`);
    try {
      await virsh.nodedevReattach(formatNodedevName(pciAddressOf(a)));
      reattached.push(a);
    } catch (e) {
      warnings.push(`${a} stays detached from the host: ${e instanceof VirshError ? `${e.libvirtMessage} (${e.remedy ?? ''})` : String(e)}`);
    }
  }
  return { reattached, warnings };
}

/** The URI to record for a later `recover`: --connect, else LIBVIRT_DEFAULT_URI, else null (libvirt's default). */
export function connectionUri(virsh: Virsh): string | null {
  const u = virsh.effectiveUri;
  return virsh.uri ?? (u === '(libvirt default)' ? null : u);
}
