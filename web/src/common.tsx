// Pieces every page uses: copy buttons, error boxes, findings, code blocks, diffs.
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { createTwoFilesPatch } from 'diff';
import type { ApiError, Finding, StepEffect } from './api.js';

export function CopyButton({ text, label = 'Copy' }: { text: string; label?: string }) {
  const [done, setDone] = useState<'idle' | 'ok' | 'fail'>('idle');
  const copy = async (): Promise<void> => {
    try {
      await navigator.clipboard.writeText(text);
      setDone('ok');
    } catch {
      // no clipboard permission (plain http from another machine): select the text for the person instead
      setDone('fail');
    }
    setTimeout(() => setDone('idle'), 1500);
  };
  return (
    <button type="button" class="small" onClick={copy} aria-live="polite">
      {done === 'ok' ? 'Copied' : done === 'fail' ? 'Select and copy' : label}
    </button>
  );
}

export function DownloadButton({ text, filename }: { text: string; filename: string }) {
  const download = (): void => {
    const url = URL.createObjectURL(new Blob([text], { type: 'text/plain' }));
    const a = document.createElement('a');
    a.href = url;
    a.download = filename;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  };
  return (
    <button type="button" class="small" onClick={download}>
      Download {filename}
    </button>
  );
}

export function Code({ text, label, filename }: { text: string; label: string; filename?: string }) {
  return (
    <div class="code">
      <div class="code-bar">
        <span class="muted">{label}</span>
        <span class="spacer" />
        <CopyButton text={text} label={`Copy ${label}`} />
        {filename ? <DownloadButton text={text} filename={filename} /> : null}
      </div>
      <pre tabIndex={0} aria-label={label}>
        {text}
      </pre>
    </div>
  );
}

export function ErrorBox({ error, title }: { error: ApiError; title?: string }) {
  return (
    <div class="error" role="alert">
      <strong>{title ?? 'The server refused'}</strong>: {error.body.message}
      {error.body.remedy ? <div class="remedy">What to do: {error.body.remedy}</div> : null}
      <div class="muted small-text">code {error.body.code}{error.status ? ` · HTTP ${error.status}` : ''}</div>
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="muted" role="status">
      Reading {what}…
    </p>
  );
}

const SEVERITY_LABEL: Record<string, string> = { ok: 'OK', info: 'Info', warn: 'Warning', fail: 'Fail', blocked: 'Blocked', ready: 'Ready' };

export function Badge({ kind, children, title }: { kind: string; children: ComponentChildren; title?: string }) {
  return (
    <span class={`badge badge-${kind}`} title={title}>
      {children}
    </span>
  );
}

export function SeverityBadge({ severity }: { severity: string }) {
  return <Badge kind={severity}>{SEVERITY_LABEL[severity] ?? severity}</Badge>;
}

export function FindingView({ f, open = false }: { f: Finding; open?: boolean }) {
  const remedy = (f as Finding & { remedy?: string }).remedy;
  const hasMore = Boolean(f.detail || f.evidence.length || remedy);
  return (
    <li class={`finding sev-${f.severity}`} data-finding={f.id}>
      <details open={open}>
        <summary>
          <SeverityBadge severity={f.severity} /> <span class="finding-summary">{f.summary}</span>
        </summary>
        {hasMore ? (
          <div class="finding-body">
            {f.detail ? <p>{f.detail}</p> : null}
            {f.evidence.length ? (
              <dl class="evidence">
                {f.evidence.map((e, i) => (
                  <div key={i}>
                    <dt>{e.source}</dt>
                    <dd>
                      <code>{e.value}</code>
                    </dd>
                  </div>
                ))}
              </dl>
            ) : null}
            {remedy ? (
              <div class="remedy-row">
                <span>Remedy:</span> <code class="remedy-text">{remedy}</code> <CopyButton text={remedy} label="Copy remedy" />
              </div>
            ) : null}
            <div class="muted small-text">id {f.id}</div>
          </div>
        ) : null}
      </details>
    </li>
  );
}

export function Findings({ findings, empty }: { findings: Finding[]; empty?: string }) {
  if (!findings.length) return <p class="muted">{empty ?? 'No findings.'}</p>;
  return (
    <ul class="findings">
      {findings.map((f, i) => (
        <FindingView key={`${f.id}-${i}`} f={f} open={f.severity === 'fail'} />
      ))}
    </ul>
  );
}

export function Diff({ text }: { text: string }) {
  return (
    <pre class="diff" tabIndex={0} aria-label="file diff">
      {text.split('\n').map((l, i) => (
        <span key={i} class={l.startsWith('+') && !l.startsWith('+++') ? 'add' : l.startsWith('-') && !l.startsWith('---') ? 'del' : l.startsWith('@@') ? 'hunk' : ''}>
          {l}
          {'\n'}
        </span>
      ))}
    </pre>
  );
}

/** A step's effect as a person reads it: the sysfs write, the file diff, the command, the libvirt call. */
export function EffectView({ e }: { e: StepEffect & { diff?: string | null } }) {
  switch (e.type) {
    case 'sysfs-write':
      return (
        <div class="effect">
          <code>
            echo {e.value} &gt; {e.path}
          </code>
        </div>
      );
    case 'file': {
      const diff = e.diff ?? createTwoFilesPatch(e.before === null ? '/dev/null' : e.path, e.after === null ? '/dev/null' : e.path, e.before ?? '', e.after ?? '', '', '', { context: 3 });
      return (
        <div class="effect">
          <div>
            {e.before === null ? 'create' : e.after === null ? 'remove' : 'edit'} <code>{e.path}</code>
          </div>
          <Diff text={diff} />
        </div>
      );
    }
    case 'command':
      return (
        <div class="effect">
          run <code>{e.argv.join(' ')}</code> <span class="muted">({e.why})</span>
        </div>
      );
    case 'libvirt':
      return (
        <div class="effect">
          libvirt {e.call} {e.address} on <strong>{e.guest}</strong> ({[e.live ? 'live' : null, e.config ? 'config' : null].filter(Boolean).join(' + ')})
          {e.xml ? <pre>{e.xml}</pre> : null}
        </div>
      );
    default:
      return <pre class="effect">{JSON.stringify(e, null, 2)}</pre>;
  }
}

export function driverKind(driver: string | null): string {
  if (!driver) return 'none';
  if (driver === 'vfio-pci' || driver.endsWith('-vfio-pci') || driver.endsWith('_vfio_pci')) return 'vfio';
  return 'host';
}

export function DriverChip({ driver, unknown }: { driver: string | null; unknown?: boolean }) {
  if (unknown) return <span class="chip chip-unknown">driver unknown</span>;
  const k = driverKind(driver);
  return <span class={`chip chip-${k}`}>{driver ?? 'no driver'}</span>;
}
