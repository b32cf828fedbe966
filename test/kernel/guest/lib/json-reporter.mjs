// node:test reporter that writes one JSON document: every test's name, file, nesting, outcome and
// error, plus counts. The host side (test/kernel/kernel.test.ts) asserts on it.
function errorText(err) {
  if (!err) return null;
  // node:test wraps the test's own error in err.cause
  const inner = err.cause ?? err;
  const msg = inner && typeof inner === 'object' && 'message' in inner ? String(inner.message) : String(inner);
  return msg.length > 4000 ? msg.slice(0, 4000) + '…' : msg;
}

export default async function* jsonReporter(source) {
  const tests = [];
  const diagnostics = [];
  for await (const event of source) {
    if (event.type === 'test:pass' || event.type === 'test:fail') {
      const d = event.data;
      // the per-file wrapper test node:test creates for each file is not a test of ours
      if (d.details?.type === 'suite' && d.nesting === 0 && d.file && d.name === d.file) continue;
      tests.push({
        name: d.name,
        file: d.file ? d.file.split('/').pop() : null,
        nesting: d.nesting,
        status: event.type === 'test:fail' ? 'fail' : d.skip !== undefined && d.skip !== false ? 'skip' : d.todo !== undefined && d.todo !== false ? 'todo' : 'pass',
        skipReason: typeof d.skip === 'string' ? d.skip : null,
        durationMs: d.details?.duration_ms ?? null,
        error: event.type === 'test:fail' ? errorText(d.details?.error) : null,
      });
    } else if (event.type === 'test:diagnostic') {
      diagnostics.push(event.data.message);
    }
  }
  const count = (s) => tests.filter((t) => t.status === s).length;
  yield JSON.stringify({ passed: count('pass'), failed: count('fail'), skipped: count('skip'), todo: count('todo'), tests, diagnostics }, null, 2) + '\n';
}
