// Typed clients from schema.graphql: @graphql-codegen/cli generates
// TypeScript types and typed documents for the playground's operations, and
// `tsc --noEmit` compiles code that uses them (typed-usage.ts).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

const here = new URL('.', import.meta.url).pathname;

function run(command, args) {
  const result = spawnSync(command, args, { cwd: here, encoding: 'utf8' });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

test('codegen output for the playground operations compiles', () => {
  const generated = run('npx', ['graphql-codegen', '--config', 'codegen.ts']);
  assert.equal(generated.status, 0, generated.output);
  const compiled = run('npx', ['tsc', '-p', 'tsconfig.json']);
  assert.equal(compiled.status, 0, compiled.output);
});
