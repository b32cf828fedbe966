/**
 * docs/openapi.json is what `npm run openapi` makes from schemas/*.schema.json (the CLI's JSON schemas),
 * every $ref in it resolves, every path it documents is a route of the server, and real answers of the
 * server validate against the components it names.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { Ajv } from 'ajv';
import { OPENAPI_FILE, generateOpenApi } from '../../scripts/gen-openapi.js';
import { serve, postJson, type TestServer } from './helpers.js';

type Spec = { paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: { $ref?: string } }> }> }>>; components: { schemas: Record<string, unknown> } };

describe('OpenAPI', () => {
  const text = generateOpenApi();
  const spec = JSON.parse(text) as Spec;
  let s: TestServer;
  before(async () => {
    s = await serve({ sample: true });
  });
  after(() => s.close());

  it('docs/openapi.json is current (npm run openapi)', () => {
    assert.equal(fs.readFileSync(OPENAPI_FILE, 'utf8'), text, 'run `npm run openapi` and commit docs/openapi.json');
  });

  it('every $ref points at a component', () => {
    const refs = [...text.matchAll(/"\$ref": "([^"]+)"/g)].map((m) => m[1]!);
    assert.ok(refs.length > 50);
    for (const r of new Set(refs)) {
      assert.match(r, /^#\/components\/schemas\//);
      assert.ok(r.slice('#/components/schemas/'.length) in spec.components.schemas, r);
    }
  });

  it('every documented path is a route of the server, and every API route is documented', () => {
    const documented = new Set<string>();
    for (const [p, methods] of Object.entries(spec.paths)) {
      for (const m of Object.keys(methods)) {
        const url = p.replace(/\{(\w+)\}/g, ':$1');
        documented.add(`${m.toUpperCase()} ${url}`);
        assert.ok(s.server.app.hasRoute({ method: m.toUpperCase() as 'GET', url: url.replace(':message', ':text') }), `${m} ${p}`);
      }
    }
    assert.ok(s.server.routes.length >= 16, s.server.routes.join(', '));
    for (const r of s.server.routes) assert.ok([...documented].some((d) => d.replace(':message', ':text') === r), `${r} is not in docs/openapi.json`);
  });

  it('real answers validate against the documented response schemas', async () => {
    const ajv = new Ajv({ strict: false, validateFormats: false, allErrors: true });
    ajv.addSchema({ $id: 'openapi', components: spec.components } as object);
    const check = async (method: 'get' | 'post', p: string, url: string, body?: unknown): Promise<void> => {
      const r = await s.api(url, body === undefined ? {} : postJson(body));
      assert.equal(r.status, 200, url);
      const schema = spec.paths[p]![method]!.responses['200']!.content!['application/json']!.schema;
      const validate = ajv.compile({ $ref: `openapi${schema.$ref}` });
      assert.ok(validate(await r.json()), `${url}: ${JSON.stringify(validate.errors?.slice(0, 3))}`);
    };
    await check('get', '/api/v1/session', '/api/v1/session');
    await check('get', '/api/v1/groups', '/api/v1/groups');
    await check('get', '/api/v1/ls', '/api/v1/ls');
    await check('get', '/api/v1/show/{address}', '/api/v1/show/02:00.0');
    await check('get', '/api/v1/doctor', '/api/v1/doctor');
    await check('post', '/api/v1/plan', '/api/v1/plan', { addresses: ['02:00.0'] });
    await check('post', '/api/v1/render', '/api/v1/render', { addresses: ['02:00.0'], target: 'qemu' });
    await check('post', '/api/v1/preview', '/api/v1/preview', { action: 'bind', addresses: ['02:00.0'] });
  });
});
