/// <reference lib="dom" />
/**
 * Shared set-up of the browser suites: Debian's Chromium driven by playwright-core (never a downloaded
 * browser), the real `vfioctl serve` server started in-process on 127.0.0.1:0 against a directory tree,
 * and the page's console watched for errors. Not a test file on its own.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startServer, type RunningServer } from '../../../src/server/server.js';
import type { SessionOptions, SessionRuntime } from '../../../src/service/session.js';

export const CHROMIUM = process.env.VFIOCTL_CHROMIUM ?? '/usr/bin/chromium';
export const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const webDir = path.join(repo, 'dist', 'web');

/** Why this machine cannot run the browser suites, or null. */
export function skipReason(): string | null {
  if (!fs.existsSync(CHROMIUM)) return `${CHROMIUM} is missing (Debian package chromium, listed in test/e2e/browser/packages.txt)`;
  return null;
}

/** The built front end, built now when it is missing or older than its sources. */
export function ensureWebBuild(): void {
  const newest = (dir: string): number => {
    let t = 0;
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      t = Math.max(t, e.isDirectory() ? newest(p) : fs.statSync(p).mtimeMs);
    }
    return t;
  };
  const index = path.join(webDir, 'index.html');
  if (fs.existsSync(index) && fs.statSync(index).mtimeMs >= newest(path.join(repo, 'web'))) return;
  const r = spawnSync(process.execPath, [path.join(repo, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--config', 'web/vite.config.ts'], { cwd: repo, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`the front end did not build:\n${r.stdout}\n${r.stderr}`);
}

export const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export interface Browsing {
  context: BrowserContext;
  close(): Promise<void>;
}

/** Chromium with a fresh, empty profile directory (removed on close). */
export async function launch(opts: { colorScheme?: 'light' | 'dark' } = {}): Promise<Browsing> {
  const { chromium } = await import('playwright-core');
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'vfioctl-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_FLAGS,
    viewport: { width: 1280, height: 860 },
    colorScheme: opts.colorScheme ?? 'light',
    acceptDownloads: true,
  });
  return {
    context,
    close: async () => {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

export type { Browser, Page };

export interface Served {
  server: RunningServer;
  close(): Promise<void>;
}

export async function serve(session: SessionOptions, opts: { runtime?: SessionRuntime; readOnly?: boolean; scanIntervalMs?: number } = {}): Promise<Served> {
  const server = await startServer({
    session,
    host: '127.0.0.1',
    port: 0,
    webDir,
    readOnly: opts.readOnly ?? false,
    scanIntervalMs: opts.scanIntervalMs ?? 500,
    ...(opts.runtime ? { runtime: opts.runtime } : {}),
  });
  return { server, close: () => server.close() };
}

/** Everything the page said that is an error: console errors, uncaught exceptions, failed requests. */
export function watchConsole(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') errors.push(`console.${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('requestfailed', (r) => {
    // a request the browser cancelled because the test navigated away (ERR_ABORTED), or the event stream
    // torn down with its page, is not a failure of the page
    if (!r.url().endsWith('/api/v1/events') && r.failure()?.errorText !== 'net::ERR_ABORTED') errors.push(`requestfailed: ${r.url()} ${r.failure()?.errorText ?? ''}`);
  });
  return errors;
}

/** Opens the tokened URL the server printed; the page lands on / with the session cookie. */
export async function signIn(page: Page, served: Served): Promise<void> {
  await page.goto(served.server.url);
  await page.waitForSelector('header.top');
}

const axeSource = (): string => fs.readFileSync(path.join(repo, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[] }[];
}

/**
 * axe-core's WCAG 2 A/AA checks on the current page. The script goes in through the DevTools protocol
 * (page.evaluate), not a <script> tag, so the page's CSP (default-src 'self') stays as it is.
 */
export async function axe(page: Page): Promise<AxeViolation[]> {
  await page.evaluate(axeSource());
  return page.evaluate(async () => {
    const w = window as unknown as { axe: { run(ctx: Document, o: object): Promise<{ violations: AxeViolation[] }> } };
    const r = await w.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] }, resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 5).map((n) => ({ target: n.target })) }));
  });
}

export function serious(vs: AxeViolation[]): AxeViolation[] {
  return vs.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

/** Presses Tab (Shift+Tab with `back`) until the focused element matches `selector`; returns the presses. */
export async function tabUntil(page: Page, selector: string, opts: { max?: number; back?: boolean } = {}): Promise<number> {
  const max = opts.max ?? 80;
  for (let i = 1; i <= max; i++) {
    await page.keyboard.press(opts.back ? 'Shift+Tab' : 'Tab');
    if (await page.evaluate((sel) => Boolean(document.activeElement?.matches(sel)), selector)) return i;
  }
  throw new Error(`no element matching ${selector} got the focus within ${max} Tab presses`);
}

/** Where screenshots go when VFIOCTL_SCREENSHOTS names a directory (docs/screenshots is regenerated so). */
export function screenshotDir(): string | null {
  const d = process.env.VFIOCTL_SCREENSHOTS;
  if (!d) return null;
  fs.mkdirSync(d, { recursive: true });
  return d;
}
