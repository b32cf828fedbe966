/**
 * Generates docs/openapi.json (OpenAPI 3.1) for the `vfioctl serve` API (docs/server.md) from the same
 * JSON Schemas the CLI's --json output is checked against (schemas/*.schema.json, generated from
 * src/model/reports.ts): every definition moves under components/schemas (one component per name; a name
 * two schemas define differently is prefixed with its document), every $ref is rewritten to point there.
 * The few documents only the server has (session, preview, operation, apply, events) are described here.
 *   npm run openapi            write docs/openapi.json
 *   npm run openapi -- --check exit 1 when docs/openapi.json is not what the schemas give
 * test/server/openapi.test.ts runs the same comparison.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const OPENAPI_FILE = path.join(REPO, 'docs', 'openapi.json');

type Json = Record<string, unknown>;

/** An OpenAPI component name for a definition name (`JsonDocument<LsReport>` -> `JsonDocument_LsReport`). */
function componentName(def: string): string {
  return def.replace(/[<>,\s]+/g, '_').replace(/_+$/, '').replace(/[^A-Za-z0-9._-]/g, '_');
}

function rewriteRefs(v: unknown, map: (def: string) => string): unknown {
  if (Array.isArray(v)) return v.map((x) => rewriteRefs(x, map));
  if (v && typeof v === 'object') {
    const out: Json = {};
    for (const [k, x] of Object.entries(v)) {
      if (k === '$ref' && typeof x === 'string' && x.startsWith('#/definitions/')) out[k] = `#/components/schemas/${map(decodeURIComponent(x.slice('#/definitions/'.length)))}`;
      else out[k] = rewriteRefs(x, map);
    }
    return out;
  }
  return v;
}

/** schemas/*.schema.json -> components, and the component of each document (by schema name). */
function components(): { schemas: Record<string, unknown>; documents: Record<string, string> } {
  const dir = path.join(REPO, 'schemas');
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.schema.json')).sort();
  const loaded = files.map((f) => ({ name: f.replace(/\.schema\.json$/, ''), schema: JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as { $ref: string; definitions: Record<string, unknown> } }));
  // one component per definition name unless two schemas disagree on it
  const texts = new Map<string, Set<string>>();
  for (const { schema } of loaded) for (const [def, body] of Object.entries(schema.definitions)) (texts.get(def) ?? texts.set(def, new Set()).get(def)!).add(JSON.stringify(body));
  const nameIn = (doc: string) => (def: string): string => (texts.get(def)!.size > 1 ? `${doc}.${componentName(def)}` : componentName(def));
  const schemas: Record<string, unknown> = {};
  const documents: Record<string, string> = {};
  for (const { name, schema } of loaded) {
    const map = nameIn(name);
    for (const [def, body] of Object.entries(schema.definitions)) schemas[map(def)] = rewriteRefs(body, map);
    documents[name] = map(decodeURIComponent(schema.$ref.slice('#/definitions/'.length)));
  }
  return { schemas: Object.fromEntries(Object.entries(schemas).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))), documents };
}

const ref = (c: string): Json => ({ $ref: `#/components/schemas/${c}` });
const json = (schema: Json, description: string): Json => ({ description, content: { 'application/json': { schema } } });

const PLAN_REQUEST: Json = {
  type: 'object',
  additionalProperties: false,
  required: ['addresses'],
  properties: {
    addresses: { type: 'array', maxItems: 4096, items: { type: 'string', maxLength: 64 }, description: 'PCI functions: 01:00.0, 0000:01:00.0 or pci_0000_01_00_0' },
    guest: { type: 'string', maxLength: 200 },
    force: { type: 'boolean' },
    exact: { type: 'boolean' },
    singleFunction: { type: 'boolean' },
    romBar: { enum: ['auto', 'on', 'off'] },
    nested: { type: 'boolean' },
    allowUnsafeInterrupts: { type: 'boolean' },
    byId: { type: 'boolean' },
    perAddress: { type: 'boolean' },
    persistBy: { enum: ['address', 'id'] },
  },
};

const SERVER_SCHEMAS: Record<string, Json> = {
  ServeSession: {
    type: 'object',
    additionalProperties: false,
    required: ['schemaVersion', 'kind', 'readOnly', 'host', 'version', 'connect', 'libvirt'],
    properties: {
      schemaVersion: { const: 1 },
      kind: { const: 'serve-session' },
      readOnly: { type: 'boolean' },
      host: { type: 'object', additionalProperties: false, required: ['label', 'live', 'source'], properties: { label: { type: 'string' }, live: { type: 'boolean' }, source: { enum: ['sample', 'root', 'snapshot', 'listing'] } } },
      version: { type: 'string' },
      connect: { type: ['string', 'null'] },
      libvirt: { type: 'boolean', description: 'a libvirt connection was given, or virsh is on PATH' },
    },
  },
  PlanRequest: PLAN_REQUEST,
  RenderRequest: {
    ...PLAN_REQUEST,
    required: ['addresses', 'target'],
    properties: { ...(PLAN_REQUEST.properties as Json), target: { type: 'string', description: 'libvirt, libvirt-domain, virsh, virt-install, qemu, qemu-nested, host-config, modprobe, kubevirt' }, machine: { enum: ['q35', 'pc'] } },
  },
  PreviewRequest: {
    type: 'object',
    additionalProperties: false,
    required: ['action'],
    properties: {
      action: { enum: ['bind', 'release', 'persist', 'unpersist', 'enable-iommu', 'disable-iommu', 'attach', 'detach', 'recover'] },
      addresses: { type: 'array', maxItems: 4096, items: { type: 'string', maxLength: 64 } },
      guest: { type: 'string', description: 'attach and detach' },
      options: {
        type: 'object',
        description: 'per action: bind {force, persist, singleFunction, timeoutMs}; persist {byId, force, singleFunction, regenerate}; unpersist {all, regenerate}; enable-iommu {vendor, pt, allowUnsafeInterrupts, regenerate}; disable-iommu {regenerate}; attach {live, config, exact, force, romBar, singleFunction}; detach {live, config, exact}; release {all, to, timeoutMs}; recover {timeoutMs}',
      },
    },
  },
  PreviewStep: {
    type: 'object',
    required: ['id', 'title', 'kind', 'needsReboot', 'effects'],
    properties: {
      id: { type: 'string' },
      title: { type: 'string' },
      kind: { type: 'string' },
      needsReboot: { type: 'boolean' },
      action: { type: 'object', description: 'the plan step action (absent for release and recover steps)' },
      effects: { type: 'array', items: { type: 'object', description: 'a plan step effect (sysfs-write, file, command, libvirt); file effects also carry `diff`, a unified diff' } },
      lines: { type: 'array', items: { type: 'string' }, description: 'release and recover: the writes as a person would type them' },
    },
  },
  Preview: {
    type: 'object',
    required: ['schemaVersion', 'kind', 'planId', 'expiresAt', 'applicable', 'action', 'command', 'verdict', 'blocked', 'blockers', 'warnings', 'findings', 'claim', 'steps', 'notes', 'needsReboot', 'diff'],
    properties: {
      schemaVersion: { const: 1 },
      kind: { const: 'preview' },
      planId: { type: 'string' },
      expiresAt: { type: 'string', format: 'date-time' },
      applicable: { type: 'boolean', description: 'false under --read-only, on a recorded host, or when blocked' },
      action: { type: 'string' },
      command: { type: 'string' },
      verdict: { enum: ['ok', 'warn', 'blocked'] },
      blocked: { type: 'boolean' },
      blockers: { type: 'array', items: { type: 'object' } },
      warnings: { type: 'array', items: { type: 'object' } },
      findings: { type: 'array', items: { type: 'object' } },
      claim: { type: 'array', items: { type: 'string' } },
      steps: { type: 'array', items: ref('PreviewStep') },
      notes: { type: 'array', items: { type: 'string' } },
      needsReboot: { type: 'boolean' },
      diff: { type: ['string', 'null'], description: 'every file change as one unified diff' },
      release: { type: 'object', description: 'release: the release preview (as `vfioctl release --dry-run --json` preview)' },
      recover: { type: 'object', description: 'recover: what `vfioctl recover --dry-run --json` shows' },
    },
  },
  ApplyRequest: { type: 'object', additionalProperties: false, required: ['planId'], properties: { planId: { type: 'string' }, force: { type: 'boolean' } } },
  ApplyAccepted: { type: 'object', additionalProperties: false, required: ['operationId', 'state'], properties: { operationId: { type: 'string' }, state: { const: 'queued' } } },
  StepEvent: {
    type: 'object',
    additionalProperties: false,
    required: ['operationId', 'index', 'run', 'title', 'phase', 'at'],
    properties: {
      operationId: { type: 'string' },
      index: { type: 'integer', description: 'the step journal sequence number within its run' },
      run: { type: 'integer', description: 'which journaled run of the operation (bind with persist has two)' },
      title: { type: 'string' },
      phase: { enum: ['started', 'verified', 'failed', 'rolled-back'] },
      at: { type: 'string', format: 'date-time' },
    },
  },
  Operation: {
    type: 'object',
    required: ['schemaVersion', 'kind', 'operationId', 'planId', 'action', 'state', 'startedAt', 'finishedAt', 'events', 'result'],
    properties: {
      schemaVersion: { const: 1 },
      kind: { const: 'operation' },
      operationId: { type: 'string' },
      planId: { type: 'string' },
      action: { type: 'string' },
      state: { enum: ['queued', 'running', 'done', 'failed', 'rolled-back'] },
      startedAt: { type: 'string', format: 'date-time' },
      finishedAt: { type: ['string', 'null'], format: 'date-time' },
      events: { type: 'array', items: ref('StepEvent') },
      result: { description: "the CLI's --json document of the command (bind, release, config, attach, detach, recover schemas), or its error document; null until it ends", type: ['object', 'null'] },
    },
  },
};

export function generateOpenApi(): string {
  const { schemas, documents } = components();
  const render = structuredClone(schemas[componentName('JsonDocument<RenderReport>')]) as Json & { properties: Json; required?: string[] };
  render.properties = { ...render.properties, kind: { const: 'render' }, target: { type: 'string' }, filename: { type: 'string' } };
  render.required = [...(render.required ?? []), 'kind', 'target', 'filename'];
  const all: Record<string, unknown> = { ...schemas, ...SERVER_SCHEMAS, RenderResponse: render };
  const errors: Json = {
    '400': json(ref(documents.error!), 'bad request (a malformed address, an unknown field)'),
    '401': json(ref(documents.error!), 'no valid token: says nothing about the host'),
    '404': json(ref(documents.error!), 'no such function, guest, plan or resource'),
    '500': json(ref(documents.error!), 'an error with its code and remedy (never a stack trace)'),
  };
  const get = (summary: string, doc: string, params: Json[] = []): Json => ({ get: { summary, parameters: params, responses: { '200': json(ref(documents[doc]!), `the \`vfioctl ${summary}\` document`), ...errors } } });
  const pathParam = (name: string, description: string): Json => ({ name, in: 'path', required: true, schema: { type: 'string' }, description });
  const spec = {
    openapi: '3.1.0',
    info: {
      title: 'vfioctl serve',
      version: '1',
      description: "The dashboard API of `vfioctl serve` (docs/server.md). Every read returns byte for byte the CLI's --json document for the same host; the document schemas are the CLI's (schemas/*.schema.json). Generated by `npm run openapi`; do not edit.",
    },
    servers: [{ url: 'http://127.0.0.1:7386' }],
    security: [{ bearer: [] }, { cookie: [] }],
    paths: {
      '/api/v1/session': { get: { summary: 'the server and the host it serves', responses: { '200': json(ref('ServeSession'), 'the session'), '401': errors['401'] } } },
      '/api/v1/ls': get('ls --json', 'ls'),
      '/api/v1/groups': get('groups --json', 'groups'),
      '/api/v1/doctor': get('doctor [ADDR...] --json', 'doctor', [{ name: 'address', in: 'query', required: false, schema: { type: 'array', items: { type: 'string' } }, style: 'form', explode: true, description: 'also judge these functions' }]),
      '/api/v1/show/{address}': get('show ADDR --json', 'show', [pathParam('address', 'a PCI address')]),
      '/api/v1/status': get('status [--history] --json', 'status', [{ name: 'history', in: 'query', required: false, schema: { enum: ['1', 'true'] } }]),
      '/api/v1/guests': get('guests --json', 'guests'),
      '/api/v1/lint/{guest}': get('lint GUEST --json', 'lint', [pathParam('guest', 'a libvirt guest name')]),
      '/api/v1/explain': get('explain --list --json', 'explain'),
      '/api/v1/explain/{message}': get('explain MESSAGE --json', 'explain', [pathParam('message', 'the error message, URL-encoded')]),
      '/api/v1/plan': { post: { summary: 'plan ADDR... --json (a read)', requestBody: { required: true, content: { 'application/json': { schema: ref('PlanRequest') } } }, responses: { '200': json(ref(documents.plan!), 'the `vfioctl plan --json` document'), ...errors } } },
      '/api/v1/render': { post: { summary: 'render TARGET ADDR... --json (a read)', requestBody: { required: true, content: { 'application/json': { schema: ref('RenderRequest') } } }, responses: { '200': json(ref('RenderResponse'), 'the `vfioctl render --json` document with kind, target and filename'), ...errors } } },
      '/api/v1/preview': { post: { summary: 'what a change would do, kept under a plan id (a read)', requestBody: { required: true, content: { 'application/json': { schema: ref('PreviewRequest') } } }, responses: { '200': json(ref('Preview'), 'the preview'), ...errors } } },
      '/api/v1/apply': {
        post: {
          summary: 'apply a preview by its plan id (a mutation: same Origin or Bearer; not under --read-only)',
          requestBody: { required: true, content: { 'application/json': { schema: ref('ApplyRequest') } } },
          responses: {
            '202': json(ref('ApplyAccepted'), 'started; follow GET /api/v1/operations/{id} or the event stream'),
            '403': json(ref(documents.error!), 'bad-origin, or read-only'),
            '409': json(ref(documents.error!), 'busy (another change runs), or blocked'),
            '410': json(ref(documents.error!), 'plan-expired, or plan-changed (the host changed since the preview): re-preview'),
            ...errors,
          },
        },
      },
      '/api/v1/operations/{id}': { get: { summary: 'one operation: state, step events, result', parameters: [pathParam('id', 'the operation id')], responses: { '200': json(ref('Operation'), 'the operation'), ...errors } } },
      '/api/v1/events': {
        get: {
          summary: 'Server-Sent Events: host-changed {sections, at}, step (StepEvent), operation {operationId, action, state, result?}',
          responses: { '200': { description: 'text/event-stream', content: { 'text/event-stream': { schema: { type: 'string' } } } }, '401': errors['401'] },
        },
      },
    },
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'the token vfioctl serve printed' },
        cookie: { type: 'apiKey', in: 'cookie', name: 'vfioctl_session', description: 'set by opening the printed URL (HttpOnly, SameSite=Strict)' },
      },
      schemas: Object.fromEntries(Object.entries(all).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
    },
  };
  return `${JSON.stringify(spec, null, 2)}\n`;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const text = generateOpenApi();
  if (process.argv.includes('--check')) {
    const now = fs.existsSync(OPENAPI_FILE) ? fs.readFileSync(OPENAPI_FILE, 'utf8') : '';
    if (now !== text) {
      console.error('docs/openapi.json is stale: run `npm run openapi`');
      process.exit(1);
    }
  } else {
    fs.writeFileSync(OPENAPI_FILE, text);
    console.log(`wrote ${path.relative(REPO, OPENAPI_FILE)}`);
  }
}
