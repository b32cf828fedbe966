/**
 * Host-impact facts: what the running host uses its PCI functions for, so a plan can say what the host
 * would lose. Pure data, produced by src/host/read-host-impact.ts and judged by src/core/host-impact.ts.
 * Every device here names the PCI functions above it (`pciAncestors`, root first, canonical addresses),
 * taken from the sysfs topology path of the device.
 */
import type { PciAddressString } from './pci-address.js';
import type { KernelCmdline } from './kernel-cmdline.js';

export interface MountFact {
  /** Mount point as the kernel shows it (octal escapes decoded), e.g. "/", "/boot/efi". */
  mountPoint: string;
  fsType: string;
  /** Mount source, e.g. "/dev/nvme0n1p2". */
  source: string;
}

export interface BlockDeviceFact {
  /** Kernel name of the whole disk or partition, e.g. "sda", "nvme0n1p2", "dm-0". */
  name: string;
  /** PCI functions this block device depends on (through partitions, dm/md slaves), root first. */
  pciAncestors: PciAddressString[];
  /** Filesystems mounted from it (directly or through a device-mapper / md device stacked on it). */
  mounts: MountFact[];
  /** Active swap on it (proc/swaps). */
  swap: boolean;
}

export interface NetInterfaceFact {
  name: string;
  /** The PCI functions under this interface: its own device, or those of its lower devices (bridge ports, bond slaves, VLAN parents). */
  pciAncestors: PciAddressString[];
  /** The PCI function that is the interface's own device (null for virtual interfaces). */
  device: PciAddressString | null;
  /** This interface (or one stacked on it) carries an IPv4 or IPv6 default route. */
  defaultRoute: boolean;
  /** Addresses configured on it or on an interface stacked on it (IPv4 from fib_trie + route, IPv6 from if_inet6). */
  addresses: string[];
  /** The interfaces stacked on this one (bridge, bond, VLAN) whose routes/addresses were counted. */
  upper: string[];
}

export interface FramebufferFact {
  /** "fb0" */
  name: string;
  /** Driver name as proc/fb shows it, e.g. "EFI VGA", "simple", "i915drmfb", "amdgpudrmfb". */
  driver: string;
  /** PCI function owning the framebuffer memory or device, when known. */
  pci: PciAddressString | null;
  /** How the owner was found: the fb device link, or the firmware framebuffer's memory region in proc/iomem. */
  via: 'device-link' | 'iomem' | null;
}

/**
 * What an input device is, decided the way udev's input_id builtin does from the capability bitmaps
 * (never from the name): keyboard (EV_KEY with every key from KEY_ESC to KEY_S, the first word of a
 * keyboard's key map), key (other keys), mouse (REL_X+REL_Y or absolute coordinates with BTN_LEFT),
 * touchpad (absolute coordinates with BTN_TOOL_FINGER and no pen, not a direct device), touchscreen
 * (absolute coordinates with BTN_TOUCH or INPUT_PROP_DIRECT), tablet (absolute coordinates with
 * BTN_TOOL_PEN or BTN_STYLUS), joystick (joystick/gamepad buttons, or absolute axes of one).
 */
export type InputClass = 'keyboard' | 'key' | 'mouse' | 'touchpad' | 'touchscreen' | 'tablet' | 'joystick';

export interface InputDeviceFact {
  /** "input3" */
  id: string;
  /** Device name, e.g. "Logitech USB Keyboard". */
  name: string;
  /** keyboard: a full keyboard; pointer: mouse, touchpad, touchscreen or tablet; other: the rest. */
  kind: 'keyboard' | 'pointer' | 'other';
  pciAncestors: PciAddressString[];
  /** The classes the capability bitmaps give (absent: no bitmaps were readable, kind came from the handlers). */
  classes?: InputClass[];
  /** The PCI function the device hangs off (the last of pciAncestors, e.g. its USB controller); null: none. */
  controller?: PciAddressString | null;
}

/** The capability bitmaps of an input device, as bit sets (EV=, KEY=, REL=, ABS=, PROP=). */
export interface InputCapabilities {
  ev: ReadonlySet<number>;
  key: ReadonlySet<number>;
  rel: ReadonlySet<number>;
  abs: ReadonlySet<number>;
  prop: ReadonlySet<number>;
}

/**
 * A kernel bitmap as /proc/bus/input/devices (B: lines) and sys/class/input/inputN/capabilities/* print
 * it: hex words of `long` size, most significant first, separated by spaces. `wordBits` is the kernel's
 * long size (64 on the 64-bit hosts vfioctl supports). null: not a bitmap.
 */
export function parseInputBitmap(text: string, wordBits = 64): Set<number> | null {
  const words = text.trim().split(/\s+/).filter(Boolean);
  if (!words.length || words.length > 64 || words.some((w) => !/^[0-9a-fA-F]{1,16}$/.test(w))) return null;
  const out = new Set<number>();
  words.reverse().forEach((w, i) => {
    let v = BigInt(`0x${w}`);
    for (let b = 0; v > 0n; b++, v >>= 1n) if (v & 1n) out.add(i * wordBits + b);
  });
  return out;
}

// Bit numbers from the kernel's include/uapi/linux/input-event-codes.h
const EV_KEY = 0x01;
const EV_REL = 0x02;
const EV_ABS = 0x03;
const KEY_ESC = 1;
const KEY_S = 31;
const BTN_MISC = 0x100;
const BTN_LEFT = 0x110;
const BTN_JOYSTICK = 0x120;
const BTN_THUMBR = 0x13e;
const BTN_TOOL_PEN = 0x140;
const BTN_TOOL_FINGER = 0x145;
const BTN_TOUCH = 0x14a;
const BTN_STYLUS = 0x14b;
const KEY_OK = 0x160;
const BTN_TRIGGER_HAPPY = 0x2c0;
const BTN_TRIGGER_HAPPY40 = 0x2e7;
const REL_X = 0x00;
const REL_Y = 0x01;
const ABS_X = 0x00;
const ABS_Y = 0x01;
/** ABS_RX, ABS_RY, ABS_THROTTLE, ABS_RUDDER, ABS_WHEEL, ABS_GAS, ABS_BRAKE: axes only sticks and pads have */
const JOYSTICK_AXES = [0x03, 0x04, 0x06, 0x07, 0x08, 0x09, 0x0a];
const ABS_MT_POSITION_X = 0x35;
const ABS_MT_POSITION_Y = 0x36;
const INPUT_PROP_DIRECT = 0x01;

function range(set: ReadonlySet<number>, from: number, to: number): boolean {
  for (const b of set) if (b >= from && b <= to) return true;
  return false;
}

/** The udev input classes of a device from its capability bitmaps (see InputClass). */
export function classifyInput(c: InputCapabilities): InputClass[] {
  const out = new Set<InputClass>();
  const hasKeyEv = c.ev.has(EV_KEY) || c.key.size > 0;
  if (hasKeyEv) {
    let full = true;
    for (let k = KEY_ESC; k <= KEY_S; k++) if (!c.key.has(k)) full = false;
    if (full) out.add('keyboard');
    if (range(c.key, KEY_ESC, BTN_MISC - 1) || range(c.key, KEY_OK, BTN_TRIGGER_HAPPY - 1)) out.add('key');
  }
  const absXY = (c.ev.has(EV_ABS) || c.abs.size > 0) && c.abs.has(ABS_X) && c.abs.has(ABS_Y);
  const mtXY = c.abs.has(ABS_MT_POSITION_X) && c.abs.has(ABS_MT_POSITION_Y);
  const relXY = (c.ev.has(EV_REL) || c.rel.size > 0) && c.rel.has(REL_X) && c.rel.has(REL_Y);
  const pen = c.key.has(BTN_TOOL_PEN) || c.key.has(BTN_STYLUS);
  const fingerOnly = c.key.has(BTN_TOOL_FINGER) && !c.key.has(BTN_TOOL_PEN);
  const leftButton = c.key.has(BTN_LEFT);
  const direct = c.prop.has(INPUT_PROP_DIRECT);
  const stickButtons = range(c.key, BTN_JOYSTICK, BTN_THUMBR) || range(c.key, BTN_TRIGGER_HAPPY, BTN_TRIGGER_HAPPY40);
  const stickAxes = JOYSTICK_AXES.some((a) => c.abs.has(a));
  if (absXY || mtXY) {
    if (pen) out.add('tablet');
    else if (fingerOnly && !direct) out.add('touchpad');
    else if (leftButton) out.add('mouse');
    else if (c.key.has(BTN_TOUCH) || direct) out.add('touchscreen');
    else if (stickButtons || stickAxes) out.add('joystick');
  } else if (stickButtons) {
    out.add('joystick');
  }
  if (relXY && leftButton) out.add('mouse');
  return [...out];
}

/** keyboard, pointer or other, from the udev classes. */
export function inputKindOf(classes: readonly InputClass[]): InputDeviceFact['kind'] {
  if (classes.includes('keyboard')) return 'keyboard';
  if (classes.some((k) => k === 'mouse' || k === 'touchpad' || k === 'touchscreen' || k === 'tablet')) return 'pointer';
  return 'other';
}

import type { CpuVendor } from './host-facts.js';
export type { CpuVendor };

export interface HostImpactFacts {
  block: BlockDeviceFact[];
  net: NetInterfaceFact[];
  framebuffers: FramebufferFact[];
  /** Input devices behind a PCI function. */
  inputs: InputDeviceFact[];
  /**
   * Input devices not behind any PCI function (the i8042 keyboard of a laptop, ACPI buttons), without
   * virtual ones (uinput): they stay with the host whatever a plan claims. Absent: not read.
   */
  platformInputs?: InputDeviceFact[];
  cpuVendor: CpuVendor | null;
  kernel: {
    release: string | null;
    /** vfio-pci is built into the kernel (modules.builtin lists it): modprobe.d options are ignored. */
    vfioPciBuiltin: boolean | null;
    /** The running kernel command line (proc/cmdline), parsed by the one parser (src/model/kernel-cmdline.ts). */
    cmdline: KernelCmdline | null;
  };
  /** Which facts could be read; a missing source makes the analysis say it could not check. */
  sources: { mounts: boolean; block: boolean; routes: boolean; framebuffers: boolean; inputs: boolean };
  problems: { path: string; code: string; message: string }[];
}

export function emptyHostImpactFacts(): HostImpactFacts {
  return {
    block: [],
    net: [],
    framebuffers: [],
    inputs: [],
    platformInputs: [],
    cpuVendor: null,
    kernel: { release: null, vfioPciBuiltin: null, cmdline: null },
    sources: { mounts: false, block: false, routes: false, framebuffers: false, inputs: false },
    problems: [],
  };
}
