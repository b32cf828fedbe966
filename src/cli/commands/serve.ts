/**
 * `vfioctl serve [--listen HOST:PORT] [--read-only] [--tls-cert F --tls-key F | --tls-self-signed]`: the
 * web dashboard and its JSON API (docs/server.md) over the same session as every command. Prints one line
 * with the URL (real port, access token) and how to reach it with ssh -L; runs until SIGINT or SIGTERM.
 */
import { hostname } from 'node:os';
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { action, withFrom } from '../command.js';
import { withConnect } from './shared.js';
import { UsageError } from '../../model/errors.js';
import { readInputFile } from '../../host/read-input.js';
import type { SessionOptions } from '../../service/session.js';

interface ServeCliOptions {
  listen?: string;
  readOnly?: boolean;
  tlsCert?: string;
  tlsKey?: string;
  tlsSelfSigned?: boolean;
  from?: string;
  connect?: string;
}

export function register(program: Command, ctx: CliContext): void {
  withConnect(withFrom(program.command('serve')))
    .description('serve the web dashboard and its JSON API (docs/server.md): prints the URL with a fresh access token')
    .option('--listen <host:port>', 'address to listen on (default 127.0.0.1:7386; port 0 picks a free one; other than loopback needs TLS)')
    .option('--read-only', 'refuse every change (previews still show what would change)')
    .option('--tls-cert <file>', 'TLS certificate (PEM), with --tls-key')
    .option('--tls-key <file>', 'TLS private key (PEM), with --tls-cert')
    .option('--tls-self-signed', 'make a self-signed certificate for this run (its SHA-256 fingerprint is printed)')
    .action(
      action<[]>(ctx, async (opts) => {
        const o = opts as ServeCliOptions;
        const { DEFAULT_PORT, checkListen, isLoopback, parseListen, startServer } = await import('../../server/server.js');
        const { host, port } = parseListen(o.listen ?? `127.0.0.1:${DEFAULT_PORT}`);
        if ((o.tlsCert === undefined) !== (o.tlsKey === undefined)) throw new UsageError('bad-options', '--tls-cert and --tls-key go together', 'give both files, or --tls-self-signed');
        if (o.tlsCert !== undefined && o.tlsSelfSigned) throw new UsageError('bad-options', '--tls-self-signed and --tls-cert both give a certificate', 'use one of them');
        const wantTls = o.tlsCert !== undefined || !!o.tlsSelfSigned;
        checkListen(host, wantTls);
        const tlsMod = await import('../../server/tls.js');
        const tls = o.tlsCert !== undefined ? tlsMod.tlsFromFiles(o.tlsCert, o.tlsKey!) : o.tlsSelfSigned ? await tlsMod.selfSignedTls(host, ctx.io.env) : null;
        // the session as every command opens it; the listing is read here (stdin too), the worker gets its text
        const { runtime, log: _log, ...base } = ctx.session().options;
        const session: SessionOptions = {
          ...base,
          ...(o.from !== undefined ? { from: { text: readInputFile(o.from), name: o.from === '-' ? 'stdin' : o.from } } : {}),
          ...(o.readOnly ? { readOnly: true } : {}),
        };
        const server = await startServer({ session, host, port, readOnly: !!o.readOnly, tls, ...(runtime ? { runtime } : {}) });
        const shown = host === '0.0.0.0' || host === '::' ? server.url.replace(/\/\/[^/]+\//, `//${hostname()}:${server.port}/`) : server.url;
        if (ctx.json) {
          ctx.out(`${JSON.stringify({ schemaVersion: 1, kind: 'serve-started', url: shown, port: server.port, token: server.token, tls: tls ? { fingerprint: tls.fingerprint, selfSigned: tls.selfSigned } : null, readOnly: !!o.readOnly, reads: server.reads.where })}\n`);
        } else {
          const reach = tls && !isLoopback(host) ? `TLS certificate SHA-256 ${tls.fingerprint}` : `from another machine: ssh -L ${server.port}:127.0.0.1:${server.port} ${hostname()}, then open the same URL`;
          ctx.out(`vfioctl serve: ${shown}  (${reach})\n`);
          if (tls && isLoopback(host)) ctx.out(`  TLS certificate SHA-256 ${tls.fingerprint}\n`);
          if (o.readOnly) ctx.out('  read-only: previews are shown, nothing is applied\n');
        }
        await new Promise<void>((resolve) => {
          const stop = (): void => {
            process.off('SIGINT', stop);
            process.off('SIGTERM', stop);
            void server.close().then(resolve, resolve);
          };
          process.on('SIGINT', stop);
          process.on('SIGTERM', stop);
        });
        return 0;
      }),
    );
}

