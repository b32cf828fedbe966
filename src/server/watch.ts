/**
 * Host changes without a reload: every few seconds the read worker takes the cheap host signature
 * (src/service/host-watch.ts); when it differs from the last one, the kept documents are dropped and
 * `host-changed` names the sections that changed. Kept documents are therefore at most one interval old.
 * The scan backs off to ten times its own duration on a slow (large) host, so it never takes more than a
 * tenth of the worker's time.
 */
import type { EventHub } from './events.js';
import type { ReadService } from './reads.js';
import { changedSections, type HostSignature } from '../service/host-watch.js';

export class HostWatch {
  private last: HostSignature | null = null;
  private timer: NodeJS.Timeout | null = null;
  private running = false;

  constructor(private readonly reads: ReadService, private readonly hub: EventHub, private intervalMs: number) {}

  start(): void {
    if (this.intervalMs <= 0 || this.timer || this.running) return;
    if (this.last === null) void this.rebaseline();
    this.schedule(this.intervalMs);
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.intervalMs = 0;
  }

  private schedule(ms: number): void {
    this.timer = setTimeout(() => void this.tick(), ms);
    this.timer.unref();
  }

  /** Take the current signature as the known state (after the server itself changed the host). */
  async rebaseline(): Promise<void> {
    try {
      this.last = await this.reads.signature();
    } catch {
      // the next tick tries again
    }
  }

  private async tick(): Promise<void> {
    this.timer = null;
    if (this.intervalMs <= 0) return;
    this.running = true;
    let scanMs = 0;
    try {
      const now = await this.reads.signature();
      scanMs = now.scanMs;
      const changed = this.last ? changedSections(this.last, now) : [];
      this.last = now;
      if (changed.length) {
        this.reads.bump();
        this.hub.publish('host-changed', { sections: changed, at: new Date().toISOString() });
      }
    } catch {
      // a scan that fails (a root being replaced) is retried
    } finally {
      this.running = false;
    }
    if (this.intervalMs > 0) this.schedule(Math.max(this.intervalMs, 10 * scanMs));
  }
}
