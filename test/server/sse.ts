/** A small Server-Sent Events reader for the API tests: events as they arrive, with a wait for one. */
export interface SseEvent {
  event: string;
  data: unknown;
}

export class SseReader {
  readonly events: SseEvent[] = [];
  private waiters: { test: (e: SseEvent) => boolean; resolve: (e: SseEvent) => void }[] = [];
  private readonly abort = new AbortController();
  readonly ready: Promise<void>;

  constructor(url: string, token: string) {
    this.ready = (async () => {
      const r = await fetch(url, { headers: { authorization: `Bearer ${token}` }, signal: this.abort.signal });
      if (r.status !== 200) throw new Error(`event stream: ${r.status}`);
      const reader = r.body!.getReader();
      const decoder = new TextDecoder();
      let buf = '';
      void (async () => {
        try {
          for (;;) {
            const { value, done } = await reader.read();
            if (done) return;
            buf += decoder.decode(value, { stream: true });
            let i: number;
            while ((i = buf.indexOf('\n\n')) >= 0) {
              const block = buf.slice(0, i);
              buf = buf.slice(i + 2);
              const ev = /^event: (.*)$/m.exec(block)?.[1];
              const data = /^data: (.*)$/m.exec(block)?.[1];
              if (ev && data !== undefined) this.push({ event: ev, data: JSON.parse(data) });
            }
          }
        } catch {
          // aborted
        }
      })();
    })();
  }

  private push(e: SseEvent): void {
    this.events.push(e);
    this.waiters = this.waiters.filter((w) => {
      if (!w.test(e)) return true;
      w.resolve(e);
      return false;
    });
  }

  /** The first event (already received or coming) that passes `test`, or a rejection after `ms`. */
  waitFor(test: (e: SseEvent) => boolean, ms = 10_000): Promise<SseEvent> {
    const seen = this.events.find(test);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no matching event within ${ms} ms; got ${JSON.stringify(this.events.map((x) => x.event))}`)), ms);
      this.waiters.push({ test, resolve: (e) => { clearTimeout(t); resolve(e); } });
    });
  }

  close(): void {
    this.abort.abort();
  }
}
