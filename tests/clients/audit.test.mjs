// The GraphQL over HTTP audit of the graphql-http package, run against
// Folio: every MUST passes; every SHOULD passes or is listed below (and in
// the README) with the reason. MAYs are optional and only printed.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverAudits } from 'graphql-http';
import { FOLIO_URL } from './helpers.mjs';

/** SHOULDs Folio does not follow, by audit id, with the reason. */
export const DEVIATIONS = {};

test('every MUST of GraphQL over HTTP holds, and every SHOULD or a known deviation', async () => {
  const audits = serverAudits({ url: `${FOLIO_URL}/graphql`, fetchFn: fetch });
  const failures = [];
  const results = [];
  for (const audit of audits) {
    const result = await audit.fn();
    results.push({ id: audit.id, name: audit.name, status: result.status, reason: result.reason });
    const must = audit.name.startsWith('MUST');
    const may = audit.name.startsWith('MAY');
    if (result.status === 'ok' || may) continue;
    if (!must && DEVIATIONS[audit.id]) continue;
    failures.push(`${audit.id} ${audit.name}: ${result.status} ${result.reason ?? ''}`);
  }
  const counts = {};
  for (const { name, status } of results) {
    const key = `${name.split(' ')[0]} ${status}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  console.log('audit results:', JSON.stringify(counts));
  console.log('not ok:', JSON.stringify(results.filter((r) => r.status !== 'ok')));
  assert.deepEqual(failures, []);
  for (const id of Object.keys(DEVIATIONS)) {
    assert.ok(
      results.some((r) => r.id === id && r.status !== 'ok'),
      `${id} passes now: remove it from DEVIATIONS and the README`,
    );
  }
});
