// Readiness: the doctor's checklist, by category, with evidence, remedies and copy buttons.
import { api } from '../api.js';
import { CopyButton, ErrorBox, FindingView, Loading, SeverityBadge } from '../common.js';
import { useLoad } from '../state.js';
import type { Finding } from '../api.js';

const ORDER = ['fail', 'warn', 'info', 'ok'];

export function Readiness() {
  const doc = useLoad(() => api.doctor(), [], { key: 'doctor' });
  if (!doc.data) return doc.error ? <ErrorBox error={doc.error} title="Readiness could not be read" /> : <Loading what="the host's readiness" />;
  const d = doc.data;
  const byCat = new Map<string, Finding[]>();
  for (const f of d.findings) {
    const c = (f as Finding & { category?: string }).category ?? 'other';
    byCat.set(c, [...(byCat.get(c) ?? []), f]);
  }
  const remedies = d.findings.map((f) => (f as Finding & { remedy?: string }).remedy).filter((r): r is string => Boolean(r));
  return (
    <section aria-labelledby="readiness-title">
      <h1 id="readiness-title">Readiness</h1>
      {doc.error ? <ErrorBox error={doc.error} title="Refreshing failed" /> : null}
      <div class={`verdict verdict-${d.verdict}`} data-verdict={d.verdict}>
        <SeverityBadge severity={d.verdict === 'ready' ? 'ok' : d.verdict === 'not-ready' ? 'fail' : 'warn'} />{' '}
        <strong>This host is {String(d.verdict).replace(/-/g, ' ')} for passthrough.</strong>{' '}
        <span class="muted">
          {d.summary.ok} ok · {d.summary.info} info · {d.summary.warn} warnings · {d.summary.fail} failures
        </span>
        {remedies.length ? (
          <span class="spacer-left">
            <CopyButton text={remedies.join('\n')} label={`Copy all ${remedies.length} remedies`} />
          </span>
        ) : null}
      </div>
      {[...byCat.entries()].map(([cat, fs]) => (
        <section key={cat} class="card" aria-label={`${cat} checks`}>
          <h2>{cat}</h2>
          <ul class="findings">
            {[...fs].sort((a, b) => ORDER.indexOf(a.severity) - ORDER.indexOf(b.severity)).map((f, i) => (
              <FindingView key={`${f.id}-${i}`} f={f} open={f.severity === 'fail' || f.severity === 'warn'} />
            ))}
          </ul>
        </section>
      ))}
      {d.devices.length ? (
        <section class="card" aria-label="devices">
          <h2>Devices</h2>
          <table>
            <thead>
              <tr>
                <th scope="col">Function</th>
                <th scope="col">Verdict</th>
                <th scope="col">Checks</th>
              </tr>
            </thead>
            <tbody>
              {d.devices.map((x) => (
                <tr key={x.address}>
                  <td>
                    <a href={`#/show/${x.address}`}>{x.address}</a>
                  </td>
                  <td>{x.verdict}</td>
                  <td class="muted">
                    {x.summary.ok} ok · {x.summary.warn} warn · {x.summary.fail} fail
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      ) : null}
    </section>
  );
}
