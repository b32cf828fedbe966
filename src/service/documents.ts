/**
 * The read-only documents of the commands, by name, for every front end: what `vfioctl ls --json`,
 * `groups`, `show`, `doctor`, `status`, `guests`, `lint`, `explain`, `plan` and `render` print is
 * `jsonDocument(report)` of the report returned here (the web server sends exactly that text).
 */
import type { Session, PlanInput } from './session.js';
import { guestsDocument } from './views.js';
import { UsageError } from '../model/errors.js';

export type ReadRequest =
  | { route: 'ls' }
  | { route: 'groups' }
  | { route: 'doctor'; addresses?: string[] }
  | { route: 'show'; address: string }
  | { route: 'status'; history?: boolean }
  | { route: 'guests' }
  | { route: 'lint'; guest: string }
  | { route: 'explain'; text: string }
  | { route: 'explain-list' }
  | { route: 'plan'; input: PlanInput }
  | { route: 'render'; input: PlanInput; format: string; machine?: string };

/** The report of one read (the CLI's --json document without its envelope). */
export async function readReport(session: Session, req: ReadRequest): Promise<object> {
  switch (req.route) {
    case 'ls':
      return session.inventoryReport();
    case 'groups':
      return session.groupsReport();
    case 'show':
      return session.show(req.address);
    case 'doctor':
      return session.doctor({ addresses: req.addresses ?? [], deviceFocus: false, libvirt: true });
    case 'status':
      return session.status({ history: !!req.history });
    case 'guests':
      return guestsDocument(await session.guestsReport());
    case 'lint':
      return session.lint(req.guest);
    case 'explain':
      if (!req.text.trim()) throw new UsageError('no-message', 'no message to explain', 'pass the error text: /api/v1/explain/<url-encoded message>');
      return session.explain(req.text, true);
    case 'explain-list':
      return { version: 1, known: (await import('../core/explain.js')).knownMessages() };
    case 'plan':
      return session.planReport(await session.plan(req.input));
    case 'render':
      return renderReport(session, req.input, req.format, req.machine ?? 'q35');
  }
}

/** `render FORMAT --json`: the text a plan needs in one format (blocked plans still render). */
export async function renderReport(session: Session, input: PlanInput, format: string, machine: string) {
  const { RENDER_FORMATS, isRenderFormat, renderPlan } = await import('../adapters/render/index.js');
  if (!isRenderFormat(format)) throw new UsageError('bad-format', `unknown format ${JSON.stringify(format)}`, `use one of: ${RENDER_FORMATS.join(', ')}`);
  if (machine !== 'q35' && machine !== 'pc') throw new UsageError('bad-machine', `machine ${machine} is not q35 or pc`, 'use q35 or pc');
  const plan = await session.plan(format === 'qemu-nested' ? { ...input, nested: true } : input);
  const boot = session.inventory().source.kind === 'sysfs' ? session.bootTooling() : undefined;
  const text = renderPlan(format, plan, { machine, ...(boot ? { boot } : {}) });
  return { version: 1 as const, format, verdict: plan.verdict, claim: plan.claim, findings: plan.findings, text };
}
