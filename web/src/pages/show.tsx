// Function detail: identity, driver, group, capabilities, reset, ROM, power, SR-IOV, topology, and what the
// host would lose if the function were taken (the plan's host-impact findings).
import { api } from '../api.js';
import { Badge, DriverChip, ErrorBox, Findings, Loading } from '../common.js';
import { acsLabel, resetLabel, shortName, sriovLabel } from '../facts.js';
import { go, toggleSelected, useLoad } from '../state.js';

export function Show({ address }: { address: string }) {
  const doc = useLoad(() => api.show(address), [address], { key: `show:${address}` });
  // what the host loses: the plan of this function, once it is known to be an assignable endpoint
  const assignable = Boolean(doc.data && !doc.data.function.isBridge && doc.data.group);
  const plan = useLoad(() => (assignable ? api.plan({ addresses: [address] }) : Promise.resolve(null)), [address, assignable]);
  if (!doc.data) return doc.error ? <ErrorBox error={doc.error} title={`${address} could not be read`} /> : <Loading what={address} />;
  const { function: f, group, topology } = doc.data;
  const reset = resetLabel(f);
  const acs = acsLabel(f);
  const sriov = sriovLabel(f);
  const c = f.capabilities;
  const unknownList = f.unknown.map((u) => `${u.fact}: ${u.reason}`);
  return (
    <section aria-labelledby="show-title">
      <p>
        <a href="#/groups">← IOMMU groups</a>
      </p>
      <h1 id="show-title">
        {f.address} <span class="muted">{shortName(f.names.device, `device ${f.deviceId}`)}</span>
      </h1>
      <div class="chips">
        <DriverChip driver={f.driver} unknown={f.unknown.some((u) => u.fact === 'driver')} />
        {f.isBridge ? <Badge kind="info">bridge</Badge> : <Badge kind="info">endpoint</Badge>}
        <span class={`chip chip-${reset.kind}`}>{reset.text}</span>
        {acs ? <span class={`chip chip-${acs.kind}`}>{acs.text}</span> : null}
        {sriov ? <span class="chip chip-info">{sriov}</span> : null}
        {f.bootVga ? <Badge kind="warn">boot VGA (console)</Badge> : null}
        <button type="button" class="small" onClick={() => { toggleSelected(group ? group.members.filter((m) => m.role === 'endpoint').map((m) => m.address) : [f.address], true); go('plan'); }} disabled={f.isBridge}>
          Plan passthrough of this {group && group.members.length > 1 ? 'group' : 'function'}
        </button>
      </div>
      <div class="grid2">
        <section class="card" aria-label="identity">
          <h2>Identity</h2>
          <dl class="kv">
            <dt>Vendor</dt>
            <dd>{f.names.vendor ?? '?'} [{f.vendorId}]</dd>
            <dt>Device</dt>
            <dd>{f.names.device ?? '?'} [{f.deviceId}]</dd>
            <dt>Subsystem</dt>
            <dd>{f.subsystemVendorId && f.subsystemDeviceId ? `${f.subsystemVendorId}:${f.subsystemDeviceId}` : 'unknown'}{f.names.subsystem ? ` ${f.names.subsystem}` : ''}</dd>
            <dt>Class</dt>
            <dd>{[f.names.className, f.names.subclassName, f.names.progIfName].filter(Boolean).join(' / ') || '?'} [{f.class}]</dd>
            <dt>Revision</dt>
            <dd>{f.revision ?? 'unknown'}</dd>
            <dt>Driver override</dt>
            <dd>{f.driverOverride ?? 'none'}</dd>
            <dt>NUMA node</dt>
            <dd>{f.numaNode ?? 'unknown'}</dd>
            <dt>Multifunction</dt>
            <dd>{f.multifunction === null ? 'unknown' : f.multifunction ? 'yes' : 'no'}</dd>
          </dl>
        </section>
        <section class="card" aria-label="reset, ROM and power">
          <h2>Reset, ROM and power</h2>
          <dl class="kv">
            <dt>Reset methods</dt>
            <dd>{f.resetMethods ? f.resetMethods.join(', ') || 'none' : f.missing.includes('reset_method') ? 'not listed by this kernel' : 'unknown'}</dd>
            <dt>Function-level reset</dt>
            <dd>{f.unknown.some((u) => u.fact === 'flr') ? 'unknown' : f.flr ? 'yes' : 'no'}</dd>
            <dt>Expansion ROM</dt>
            <dd>{f.unknown.some((u) => u.fact === 'hasRom') ? 'unknown' : f.hasRom ? 'present' : 'none'}</dd>
            <dt>Power state</dt>
            <dd>{f.powerState ?? 'unknown'}</dd>
            <dt>D3cold allowed</dt>
            <dd>{f.d3coldAllowed === null ? 'unknown' : f.d3coldAllowed ? 'yes' : 'no'}</dd>
            <dt>Power management</dt>
            <dd>{c.pm ? `PM ${c.pm.version}, ${c.pm.powerState}${c.pm.d1 ? ', D1' : ''}${c.pm.d2 ? ', D2' : ''}, ${c.pm.noSoftReset ? 'keeps state in D3hot (NoSoftRst+)' : 'resets in D3hot→D0 (NoSoftRst-)'}` : 'no PM capability'}</dd>
          </dl>
        </section>
        <section class="card" aria-label="IOMMU group">
          <h2>IOMMU group {group ? group.id : '—'}</h2>
          {group ? (
            <ul class="plain">
              {group.members.map((m) => (
                <li key={m.address}>
                  {m.address === f.address ? <strong>{m.address}</strong> : <a href={`#/show/${m.address}`}>{m.address}</a>} <span class="muted">{m.role}</span> <DriverChip driver={m.driver} />
                </li>
              ))}
              {group.hostCritical.map((h) => (
                <li key={`c-${h.address}`}>
                  <Badge kind="fail">host: {h.reason}</Badge> <span class="muted">{h.address}</span>
                </li>
              ))}
            </ul>
          ) : (
            <p>No IOMMU group: this function cannot be assigned.</p>
          )}
        </section>
        <section class="card" aria-label="topology">
          <h2>Topology</h2>
          <ol class="topology">
            <li>{topology.rootBus ?? 'root bus unknown'}</li>
            {topology.path.map((h) => (
              <li key={h.address}>
                {h.address === f.address ? <strong>{h.address}</strong> : <a href={`#/show/${h.address}`}>{h.address}</a>} <span class="muted">{h.portType ?? 'conventional'}</span>{' '}
                {h.acs === null ? (h.unknown.length ? <span class="chip chip-unknown">ACS unknown</span> : null) : h.acs ? <span class="chip chip-ok">ACS</span> : <span class="chip chip-warn">no ACS isolation</span>}
                <div class="muted small-text">{shortName(h.name, '')}</div>
              </li>
            ))}
          </ol>
        </section>
      </div>
      <section class="card" aria-label="capabilities">
        <h2>Capabilities</h2>
        <p class="muted">
          config space {c.configSize} bytes{c.pcie ? ` · PCIe ${c.pcie.version} ${c.pcie.portType ?? ''} · link ${c.pcie.linkSpeed ?? '?'} x${c.pcie.linkWidth ?? '?'} (max ${c.pcie.maxLinkSpeed ?? '?'} x${c.pcie.maxLinkWidth ?? '?'})` : ''}
          {c.msix ? ` · MSI-X ${c.msix.tableSize} vectors` : ''}
          {c.sriov ? ` · SR-IOV ${c.sriov.numVfs}/${c.sriov.totalVfs} (VF device ${c.sriov.vfDeviceId})` : ''}
          {c.rebar ? ` · Resizable BAR ${c.rebar.bars.map((b) => `BAR${b.bar} ${b.current}`).join(', ')}` : ''}
        </p>
        {c.list.length ? (
          <table>
            <thead>
              <tr>
                <th scope="col">Capability</th>
                <th scope="col">ID</th>
                <th scope="col">Offset</th>
                <th scope="col">Space</th>
              </tr>
            </thead>
            <tbody>
              {c.list.map((cap, i) => (
                <tr key={i}>
                  <td>{cap.name}</td>
                  <td>0x{cap.id.toString(16).padStart(2, '0')}</td>
                  <td>0x{cap.offset.toString(16)}</td>
                  <td>{cap.extended ? 'extended' : 'standard'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : (
          <p class="muted">{c.standardReadable ? 'no capabilities' : 'capabilities not read (config space unreadable)'}</p>
        )}
        {c.acs ? (
          <p>
            ACS control: {Object.entries(c.acs.control).map(([k, v]) => `${k.toUpperCase()}${v ? '+' : '-'}`).join(' ')}
          </p>
        ) : null}
        {unknownList.length ? (
          <details>
            <summary>{unknownList.length} facts not read</summary>
            <ul>{unknownList.map((u) => <li key={u}>{u}</li>)}</ul>
          </details>
        ) : null}
      </section>
      {assignable ? (
        <section class="card" aria-label="if the host gives it up">
          <h2>If this function is taken from the host</h2>
          {plan.data ? (
            <>
              <p>
                Plan verdict: <Badge kind={plan.data.verdict === 'ok' ? 'ok' : plan.data.verdict === 'warn' ? 'warn' : 'fail'}>{plan.data.verdict}</Badge> · moves {plan.data.claim.join(', ')}
              </p>
              <Findings findings={plan.data.findings.filter((x) => x.severity !== 'ok')} empty="Nothing the host loses." />
            </>
          ) : plan.error ? (
            <ErrorBox error={plan.error} title="No plan" />
          ) : (
            <Loading what="the plan" />
          )}
        </section>
      ) : null}
    </section>
  );
}
