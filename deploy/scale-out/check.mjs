// The scale-out checks: two Folio instances behind nginx, started by ./run,
// which passes where everything is through the environment:
//
//   FOLIO_PROXY_URL                  nginx, e.g. http://127.0.0.1:PORT
//   FOLIO_1_URL, FOLIO_1_PID, FOLIO_1_LOG   the first instance: its own
//   FOLIO_2_URL, FOLIO_2_PID, FOLIO_2_LOG   port, process id and JSON log
//   FOLIO_NGINX_LOG                  nginx's access log (JSON lines)
//   FOLIO_SUMMARY                    where to write the counts (JSON)
//
// Instances are told apart by their logs: every request logs one `finished`
// line with its request id, and nginx passes the X-Request-Id we send.

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run deploy/scale-out/run`);
  return value;
};

const PROXY = env('FOLIO_PROXY_URL');
const INSTANCES = [1, 2].map((n) => ({
  name: `folio-${n}`,
  url: env(`FOLIO_${n}_URL`),
  pid: Number(env(`FOLIO_${n}_PID`)),
  log: env(`FOLIO_${n}_LOG`),
}));
const RUN = `so${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
const summary = {};

// --- HTTP and logs ----------------------------------------------------------

/** POST a GraphQL request (JSON, as every client should send). */
async function post(base, query, variables = {}, { token, requestId, timeout = 5000 } = {}) {
  const response = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(requestId ? { 'x-request-id': requestId } : {}),
    },
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(timeout),
  });
  const text = await response.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = { raw: text };
  }
  return { status: response.status, requestId: response.headers.get('x-request-id'), body };
}

/** Like post, but the data or a thrown error. */
async function data(base, query, variables, options) {
  const { status, body } = await post(base, query, variables, options);
  if (status !== 200 || body.errors || !body.data) {
    throw new Error(`HTTP ${status}: ${JSON.stringify(body)}`);
  }
  return body.data;
}

/** The request ids of an instance's `finished` lines, each with its count. */
function servedIds(instance) {
  const ids = new Map();
  for (const line of readFileSync(instance.log, 'utf8').split('\n')) {
    if (!line.startsWith('{')) continue;
    let event;
    try {
      event = JSON.parse(line);
    } catch {
      continue;
    }
    if (event.fields?.message !== 'finished') continue;
    const id = event.span?.request_id ?? event.spans?.find((s) => s.request_id)?.request_id;
    if (id) ids.set(id, (ids.get(id) ?? 0) + 1);
  }
  return ids;
}

/**
 * Which instances logged each id, waiting (briefly) until every id is found:
 * a line is written as the response leaves, so it may trail the response.
 */
async function whereServed(ids, { within = 3000 } = {}) {
  const deadline = Date.now() + within;
  for (;;) {
    const logs = INSTANCES.map((instance) => servedIds(instance));
    const found = new Map(
      ids.map((id) => [
        id,
        INSTANCES.flatMap((instance, i) => Array(logs[i].get(id) ?? 0).fill(instance.name)),
      ]),
    );
    if ([...found.values()].every((where) => where.length > 0) || Date.now() > deadline) {
      return found;
    }
    await sleep(100);
  }
}

/** Alive and not a zombie (the run script reaps it). */
function running(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

// --- Fixtures ---------------------------------------------------------------

let users = 0;
async function register(prefix) {
  users += 1;
  const username = `${prefix}${users}-${RUN}`.slice(0, 32);
  const { register } = await data(
    PROXY,
    `mutation($input: RegisterInput!) { register(input: $input) { accessToken user { id } } }`,
    { input: { username, email: `${username}@example.com`, password: 'correct horse battery staple' } },
  );
  return register.accessToken;
}

async function publishArticle(token, title) {
  const { createArticle } = await data(
    PROXY,
    `mutation($input: CreateArticleInput!) { createArticle(input: $input) { id slug } }`,
    { input: { title, description: 'scale-out test', body: 'Body', tags: ['scale-out'], publish: true } },
    { token },
  );
  return createArticle;
}

const ADD_COMMENT = `mutation AddComment($id: ID!, $body: String!) { addComment(articleId: $id, body: $body) { id body } }`;

/** A WebSocket that sends our X-Request-Id with its handshake. */
function webSocketWithRequestId(requestId) {
  return class extends WebSocket {
    constructor(url, protocols) {
      super(url, protocols, { headers: { 'x-request-id': requestId } });
    }
  };
}

const other = (name) => INSTANCES.find((instance) => instance.name !== name);

// --- a. Round robin ---------------------------------------------------------

test('a. nginx spreads requests over both instances, one instance per request', async () => {
  const ids = Array.from({ length: 20 }, (_, i) => `${RUN}-rr-${i}`);
  for (const id of ids) {
    const response = await post(PROXY, 'query RoundRobin { __typename }', {}, { requestId: id });
    assert.equal(response.status, 200, JSON.stringify(response.body));
    assert.equal(response.requestId, id, 'X-Request-Id passes through nginx and back');
  }
  const where = await whereServed(ids);
  const counts = Object.fromEntries(INSTANCES.map((instance) => [instance.name, 0]));
  for (const [id, served] of where) {
    assert.equal(served.length, 1, `${id} was logged ${served.length} times (${served})`);
    counts[served[0]] += 1;
  }
  summary.roundRobin = counts;
  console.log(`round robin over ${ids.length} requests: ${JSON.stringify(counts)}`);
  for (const [name, count] of Object.entries(counts)) {
    assert.ok(count >= ids.length * 0.4, `${name} served ${count} of ${ids.length}: not round robin`);
  }

  // Without an X-Request-Id, nginx makes one up; Folio logs and returns it.
  const anonymous = await post(PROXY, 'query NoId { __typename }');
  assert.equal(anonymous.status, 200);
  assert.match(anonymous.requestId ?? '', /^[0-9a-f]{32}$/, 'nginx $request_id');
  const generated = await whereServed([anonymous.requestId]);
  assert.equal(generated.get(anonymous.requestId).length, 1, 'the generated id reaches one instance');
});

test('nginx refuses bodies over 1 MiB itself, with the request id, and keeps /metrics private', async () => {
  const requestId = `${RUN}-too-large`;
  const response = await fetch(`${PROXY}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-request-id': requestId },
    body: JSON.stringify({ query: `{ __typename }`, padding: 'x'.repeat(1024 * 1024) }),
  });
  assert.equal(response.status, 413);
  assert.equal(response.headers.get('x-request-id'), requestId);
  const where = await whereServed([requestId], { within: 300 });
  assert.deepEqual(where.get(requestId), [], 'refused by nginx, not passed on');
  const metrics = await fetch(`${PROXY}/metrics`);
  assert.equal(metrics.status, 404);
});

// --- b. Subscriptions across instances --------------------------------------

for (const path of ['/graphql', '/graphql/ws']) {
  test(`b. a subscription on ${path} through nginx receives a comment written on the other instance`, async () => {
    const token = await register('sub');
    const article = await publishArticle(token, `Watched ${RUN} ${path}`);

    const handshakeId = `${RUN}-ws${path.replaceAll('/', '-')}`;
    let connected;
    let failed;
    const connection = new Promise((resolve, reject) => {
      connected = resolve;
      failed = (why) => reject(new Error(`the WebSocket through nginx on ${path} failed: ${why}`));
    });
    const client = createClient({
      url: `${PROXY.replace(/^http/, 'ws')}${path}`,
      webSocketImpl: webSocketWithRequestId(handshakeId),
      connectionParams: { authorization: `Bearer ${token}` },
      retryAttempts: 0,
      lazy: false,
      onNonLazyError: (error) => failed(error?.message ?? `closed with ${error?.code} ${error?.reason ?? ''}`),
      on: {
        connected: () => connected(),
        error: (error) => failed(error?.message ?? String(error)),
        closed: (event) => failed(`closed with ${event?.code} ${event?.reason ?? ''}`),
      },
    });
    const events = [];
    let failure;
    const unsubscribe = client.subscribe(
      {
        query: `subscription Watch($id: ID!) { commentAdded(articleId: $id) { id body } }`,
        variables: { id: article.id },
      },
      {
        next: (result) => events.push(result),
        error: (error) => (failure = error),
        complete: () => {},
      },
    );
    try {
      await Promise.race([
        connection,
        sleep(5000).then(() => {
          throw new Error(`no connection_ack through nginx on ${path} within 5 s`);
        }),
      ]);
      // The handshake's request id names the instance holding the socket.
      const handshake = (await whereServed([handshakeId])).get(handshakeId);
      assert.equal(handshake.length, 1, `the WebSocket handshake was logged by ${handshake}`);
      const holder = handshake[0];
      const writer = other(holder);

      // Comment on the other instance, straight to its port, until the
      // subscription (started asynchronously) sees one.
      const sent = new Map();
      let received;
      const deadline = Date.now() + 10_000;
      for (let k = 0; !received && Date.now() < deadline; k++) {
        const requestId = `${RUN}-b${path.replaceAll('/', '-')}-${k}`;
        const body = `across instances ${RUN} ${path} #${k}`;
        sent.set(body, requestId);
        await data(writer.url, ADD_COMMENT, { id: article.id, body }, { token, requestId });
        for (let wait = 0; wait < 6 && !received; wait++) {
          assert.equal(failure, undefined, `subscription error: ${JSON.stringify(failure)}`);
          received = events.map((event) => event.data?.commentAdded).find((c) => sent.has(c?.body));
          if (!received) await sleep(50);
        }
      }
      assert.ok(received, `no commentAdded event on ${holder} for comments written on ${writer.name}`);
      const mutationId = sent.get(received.body);
      const mutation = (await whereServed([mutationId])).get(mutationId);
      assert.deepEqual(mutation, [writer.name], `the mutation was served by ${writer.name} only`);
      summary[`subscription ${path}`] = { socketOn: holder, mutationOn: writer.name };
      console.log(`subscription on ${path}: socket on ${holder}, comment written on ${writer.name}, event received`);
    } finally {
      unsubscribe();
      await client.dispose();
    }
  });
}

// --- c. Stopping an instance under writes -----------------------------------

test('c. SIGTERM to one instance under writes: no successful write lost or doubled, the other keeps serving', async () => {
  const token = await register('writer');
  const article = await publishArticle(token, `Written ${RUN}`);
  const [survivor, victim] = INSTANCES;
  assert.ok(running(victim.pid), `${victim.name} (pid ${victim.pid}) is running`);

  const WRITERS = 4;
  const DURATION = 6000;
  const STOP_AT = 2000;
  const started = Date.now();
  let stoppedAt;
  let exitedAt;
  const attempts = [];

  const stopper = (async () => {
    await sleep(STOP_AT);
    stoppedAt = Date.now();
    process.kill(victim.pid, 'SIGTERM');
    // Folio gives WebSockets 10 s to close; nothing here should take that long.
    while (running(victim.pid) && Date.now() - stoppedAt < 15_000) await sleep(20);
    if (!running(victim.pid)) exitedAt = Date.now();
  })();

  const writer = async (w) => {
    for (let n = 0; Date.now() - started < DURATION; n++) {
      const attempt = {
        body: `stop test ${RUN} writer ${w} #${n}`,
        requestId: `${RUN}-c-${w}-${n}`,
        start: Date.now(),
      };
      try {
        const response = await post(
          PROXY,
          ADD_COMMENT,
          { id: article.id, body: attempt.body },
          { token, requestId: attempt.requestId },
        );
        attempt.status = response.status;
        const comment = response.body.data?.addComment;
        if (response.status === 200 && !response.body.errors && comment?.body === attempt.body) {
          attempt.id = comment.id;
        } else {
          const errors = response.body.errors?.map((e) => e.extensions?.code ?? e.message);
          attempt.error = `HTTP ${response.status}${errors ? ` ${errors.join(',')}` : ''}`;
        }
      } catch (error) {
        attempt.error = String(error);
      }
      attempt.end = Date.now();
      attempts.push(attempt);
    }
  };
  await Promise.all([...Array.from({ length: WRITERS }, (_, w) => writer(w)), stopper]);
  assert.ok(exitedAt, `${victim.name} did not exit after SIGTERM`);

  const succeeded = attempts.filter((a) => a.id);
  const failed = attempts.filter((a) => !a.id);
  const afterExit = attempts.filter((a) => a.start > exitedAt);

  // Both instances took writes before the stop, only the survivor after it.
  const where = await whereServed(succeeded.map((a) => a.requestId));
  const servedBy = (name, list) => list.filter((a) => where.get(a.requestId)?.includes(name)).length;
  const beforeStop = succeeded.filter((a) => a.end < stoppedAt);

  // The other instance keeps serving: afterwards, every request succeeds
  // and lands on it.
  const laterIds = Array.from({ length: 10 }, (_, i) => `${RUN}-after-${i}`);
  const later = [];
  for (const id of laterIds) {
    later.push(await post(PROXY, 'query AfterStop { __typename }', {}, { requestId: id }));
  }
  const laterWhere = await whereServed(laterIds);

  // Every successful write is stored exactly once (read back through nginx).
  const stored = new Map();
  let totalCount;
  for (let after = null; ; ) {
    const page = await data(
      PROXY,
      `query Comments($slug: String!, $after: String) {
        article(slug: $slug) { comments(first: 100, after: $after) {
          totalCount nodes { id body } pageInfo { hasNextPage endCursor } } } }`,
      { slug: article.slug, after },
      { token },
    );
    const comments = page.article.comments;
    totalCount = comments.totalCount;
    for (const comment of comments.nodes) {
      stored.set(comment.body, [...(stored.get(comment.body) ?? []), comment.id]);
    }
    if (!comments.pageInfo.hasNextPage) break;
    after = comments.pageInfo.endCursor;
  }
  const failedButStored = failed.filter((a) => stored.has(a.body)).length;
  // Requests nginx passed on to the other instance after a refused
  // connection (its log names both upstreams).
  const attemptIds = new Set(attempts.map((a) => a.requestId));
  const passedOn = readFileSync(env('FOLIO_NGINX_LOG'), 'utf8')
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line))
    .filter((entry) => attemptIds.has(entry.request_id) && entry.upstream.includes(',')).length;

  summary.stop = {
    writers: WRITERS,
    attempts: attempts.length,
    succeeded: succeeded.length,
    failed: failed.length,
    failedButStored,
    passedOnByNginx: passedOn,
    failureStatuses: [...new Set(failed.map((a) => a.error.split(' ').slice(0, 2).join(' ')))],
    failures: failed.slice(0, 20).map((a) => ({
      requestId: a.requestId,
      error: a.error,
      sentMsAfterSigterm: a.start - stoppedAt,
      answeredMsAfterSigterm: a.end - stoppedAt,
    })),
    stoppedAtMs: stoppedAt - started,
    exitedAfterMs: exitedAt - stoppedAt,
    requestsAfterExit: afterExit.length,
    servedBeforeStop: { [survivor.name]: servedBy(survivor.name, beforeStop), [victim.name]: servedBy(victim.name, beforeStop) },
    storedComments: totalCount,
  };
  const { failures, ...counts } = summary.stop;
  console.log(`stop under writes: ${JSON.stringify(counts)}`);
  for (const failure of failures) console.log(`  failed during the stop: ${JSON.stringify(failure)}`);

  assert.ok(succeeded.length > 20, `only ${succeeded.length} writes succeeded`);
  for (const attempt of succeeded) {
    const served = where.get(attempt.requestId);
    assert.equal(served.length, 1, `${attempt.requestId} logged by ${served.length} instances (${served})`);
  }
  assert.ok(servedBy(victim.name, beforeStop) > 0, `${victim.name} served no write before its stop`);
  assert.ok(servedBy(survivor.name, beforeStop) > 0, `${survivor.name} served no write before the stop`);
  assert.ok(afterExit.length > 0, 'some writes were sent after the instance was gone');
  const failedAfterExit = afterExit.filter((a) => !a.id);
  assert.deepEqual(failedAfterExit.map((a) => a.error), [], 'writes after the stop all succeed');
  for (const attempt of afterExit) {
    assert.deepEqual(where.get(attempt.requestId), [survivor.name], `${attempt.requestId} after the stop`);
  }
  for (const [i, response] of later.entries()) {
    assert.equal(response.status, 200, `request ${i} after the stop: ${JSON.stringify(response.body)}`);
    assert.deepEqual(laterWhere.get(laterIds[i]), [survivor.name], `${laterIds[i]} served by the survivor`);
  }
  for (const attempt of succeeded) {
    assert.deepEqual(stored.get(attempt.body), [attempt.id], `"${attempt.body}" stored exactly once`);
  }
  for (const [body, ids] of stored) {
    assert.equal(ids.length, 1, `"${body}" stored ${ids.length} times`);
  }
  assert.equal(totalCount, stored.size, 'totalCount matches the comments read');
});

test.after(() => {
  if (process.env.FOLIO_SUMMARY) writeFileSync(process.env.FOLIO_SUMMARY, JSON.stringify(summary, null, 2));
});
