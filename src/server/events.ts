/**
 * The event stream (`GET /api/v1/events`, Server-Sent Events): `host-changed`, `step` and `operation`
 * events to every connected dashboard, a comment line every 15 s so proxies keep the connection open.
 */
import type { ServerResponse } from 'node:http';

export const MAX_STREAMS = 64;

export class EventHub {
  private readonly clients = new Set<ServerResponse>();
  private readonly timer: NodeJS.Timeout;
  private seq = 0;

  constructor(heartbeatMs = 15_000) {
    this.timer = setInterval(() => {
      for (const c of this.clients) c.write(': keep-alive\n\n');
    }, heartbeatMs);
    this.timer.unref();
  }

  get size(): number {
    return this.clients.size;
  }

  /** Take over a response as an event stream (the caller has written the headers). */
  add(res: ServerResponse): void {
    this.clients.add(res);
    res.write(`retry: 2000\n: connected\n\n`);
    const drop = (): void => void this.clients.delete(res);
    res.on('close', drop);
    res.on('error', drop);
  }

  publish(event: 'host-changed' | 'step' | 'operation', data: object): void {
    // one line of JSON: no newline can end the data field early
    const text = `id: ${++this.seq}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const c of this.clients) c.write(text);
  }

  close(): void {
    clearInterval(this.timer);
    for (const c of this.clients) c.end();
    this.clients.clear();
  }
}
