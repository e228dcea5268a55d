// graphql-transport-ws as its PROTOCOL.md (in the graphql-ws package)
// writes it: the close codes a server must use, seen by a raw WebSocket
// and by the graphql-ws client.
//
// - `subscribe` with an id that is already active: 4409
//   `Subscriber for <id> already exists`; an id is free again once its
//   operation completed.
// - `subscribe` before the connection is acknowledged: 4401 `Unauthorized`.
// - a message of a type or format the protocol does not specify: 4400.
// - a message other than `subscribe` for an unknown id: ignored.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { createClient } from 'graphql-ws';
import { FOLIO_WS_URL, publishArticle, register, withTimeout } from './helpers.mjs';

const PUBLISHED = 'subscription { articlePublished { id title } }';

/** A raw graphql-transport-ws socket with a queue of what it received. */
async function open({ init = true } = {}) {
  const socket = new WebSocket(FOLIO_WS_URL, 'graphql-transport-ws');
  const messages = [];
  const waiters = [];
  socket.on('message', (data) => {
    const message = JSON.parse(String(data));
    messages.push(message);
    for (const waiter of [...waiters]) waiter();
  });
  const closed = new Promise((resolve) => {
    socket.on('close', (code, reason) => {
      resolve({ code, reason: String(reason) });
      for (const waiter of [...waiters]) waiter();
    });
  });
  await new Promise((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  });
  assert.equal(socket.protocol, 'graphql-transport-ws');
  const raw = {
    socket,
    messages,
    closed,
    send: (message) => socket.send(typeof message === 'string' ? message : JSON.stringify(message)),
    /** The first received message matching `predicate`, within 5 s. */
    next(predicate, what = 'message') {
      return withTimeout(
        new Promise((resolve, reject) => {
          const check = () => {
            const found = messages.find(predicate);
            if (found) {
              waiters.splice(waiters.indexOf(check), 1);
              resolve(found);
            } else if (socket.readyState === WebSocket.CLOSED) {
              waiters.splice(waiters.indexOf(check), 1);
              closed.then(({ code, reason }) => reject(new Error(`closed with ${code} ${reason} before ${what}`)));
            }
          };
          waiters.push(check);
          check();
        }),
        5000,
        what,
      );
    },
    /** The close code and reason, within 5 s. */
    closedWith: () => withTimeout(closed, 5000, 'close'),
    /** Proves the socket is still open and read: a ping gets its pong. */
    async stillOpen() {
      const from = messages.length;
      raw.send({ type: 'ping' });
      await raw.next((m, index) => index >= from && m.type === 'pong', 'pong');
    },
    close: () => {
      socket.close(1000);
      return closed;
    },
  };
  if (init) {
    raw.send({ type: 'connection_init', payload: {} });
    await raw.next((m) => m.type === 'connection_ack', 'connection_ack');
  }
  return raw;
}

test('raw: subscribe with an id already active closes with 4409 Subscriber for <id> already exists', async () => {
  const raw = await open();
  try {
    raw.send({ id: 'dup', type: 'subscribe', payload: { query: PUBLISHED } });
    raw.send({ id: 'dup', type: 'subscribe', payload: { query: PUBLISHED } });
    assert.deepEqual(await raw.closedWith(), { code: 4409, reason: 'Subscriber for dup already exists' });
  } finally {
    raw.socket.terminate();
  }
});

test('raw: 4409 also when the duplicate comes later, with another operation', async () => {
  const raw = await open();
  try {
    raw.send({ id: 'first', type: 'subscribe', payload: { query: PUBLISHED } });
    raw.send({ id: 'other', type: 'subscribe', payload: { query: '{ tags(first: 1) { totalCount } }' } });
    await raw.next((m) => m.id === 'other' && m.type === 'complete', 'the query to complete');
    raw.send({ id: 'first', type: 'subscribe', payload: { query: '{ tags(first: 1) { totalCount } }' } });
    assert.deepEqual(await raw.closedWith(), { code: 4409, reason: 'Subscriber for first already exists' });
  } finally {
    raw.socket.terminate();
  }
});

test('raw: an id is free again once its operation completed, and the new subscription works', async () => {
  const author = await register('wsreuse');
  const raw = await open();
  try {
    // A query completes by itself; its id may be used again.
    raw.send({ id: 'q', type: 'subscribe', payload: { query: '{ tags(first: 1) { totalCount } }' } });
    await raw.next((m) => m.id === 'q' && m.type === 'complete', 'complete');
    raw.send({ id: 'q', type: 'subscribe', payload: { query: '{ articles(first: 1) { totalCount } }' } });
    const next = await raw.next((m) => m.id === 'q' && m.type === 'next' && m.payload.data?.articles, 'next');
    assert.equal(typeof next.payload.data.articles.totalCount, 'number');

    // A subscription the client completed frees its id too.
    raw.send({ id: 's', type: 'subscribe', payload: { query: PUBLISHED } });
    await raw.stillOpen();
    raw.send({ id: 's', type: 'complete' });
    raw.send({ id: 's', type: 'subscribe', payload: { query: PUBLISHED } });
    const title = `ws reuse ${Date.now()}`;
    const timer = setInterval(() => publishArticle(author.token, title).catch(() => {}), 300);
    try {
      const event = await raw.next(
        (m) => m.id === 's' && m.type === 'next' && m.payload.data?.articlePublished.title === title,
        'the article on the reused id',
      );
      assert.equal(event.payload.data.articlePublished.title, title);
    } finally {
      clearInterval(timer);
    }
    await raw.stillOpen();
  } finally {
    raw.socket.terminate();
  }
});

test('raw: subscribe before connection_init closes with 4401 Unauthorized', async () => {
  const raw = await open({ init: false });
  try {
    raw.send({ id: '1', type: 'subscribe', payload: { query: PUBLISHED } });
    assert.deepEqual(await raw.closedWith(), { code: 4401, reason: 'Unauthorized' });
    assert.deepEqual(raw.messages, [], 'no connection_ack, no result');
  } finally {
    raw.socket.terminate();
  }
});

for (const [what, message] of [
  ['not JSON', '{"type": "subscribe", '],
  ['a JSON string', '"subscribe"'],
  ['a JSON array', '[{"type":"ping"}]'],
  ['an object without a type', { id: '1', payload: { query: PUBLISHED } }],
  ['an unknown type', { type: 'nope' }],
  ['a type that is not a string', { type: 7 }],
  ['subscribe without an id', { type: 'subscribe', payload: { query: PUBLISHED } }],
  ['subscribe without a payload', { id: '1', type: 'subscribe' }],
  ['subscribe whose query is not a string', { id: '1', type: 'subscribe', payload: { query: 42 } }],
  // The legacy protocol's messages are not graphql-transport-ws messages.
  ['the legacy start', { id: '1', type: 'start', payload: { query: '{ tags(first: 1) { totalCount } }' } }],
  ['the legacy stop', { id: '1', type: 'stop' }],
  ['the legacy connection_terminate', { type: 'connection_terminate' }],
]) {
  test(`raw: ${what} closes with 4400`, async () => {
    const raw = await open();
    try {
      raw.send(message);
      const { code, reason } = await raw.closedWith();
      assert.equal(code, 4400, `closed with ${code} ${reason}`);
      assert.ok(reason.length > 0 && Buffer.byteLength(reason) <= 123, `a short reason: ${reason}`);
      assert.ok(!raw.messages.some((m) => m.type === 'next'), 'nothing ran');
    } finally {
      raw.socket.terminate();
    }
  });
}

test('raw: complete for an unknown id, and ping/pong, are not errors', async () => {
  const raw = await open();
  try {
    raw.send({ id: 'never-started', type: 'complete' });
    raw.send({ type: 'pong' });
    await raw.stillOpen();
    raw.send({ id: 'later', type: 'subscribe', payload: { query: '{ tags(first: 1) { totalCount } }' } });
    await raw.next((m) => m.id === 'later' && m.type === 'next', 'next');
  } finally {
    await raw.close();
  }
});

/** A graphql-ws client that reports its close events. */
function client(options = {}) {
  const closes = [];
  const ws = createClient({
    url: FOLIO_WS_URL,
    webSocketImpl: options.webSocketImpl ?? WebSocket,
    lazy: true,
    retryAttempts: 0,
    on: { closed: (event) => closes.push({ code: event.code, reason: event.reason }) },
    ...options,
  });
  return { ws, closes };
}

/** Subscribes; resolves with the error the sink gets (the close event), rejects on complete. */
function failure(ws, query) {
  return new Promise((resolve, reject) => {
    ws.subscribe({ query }, {
      next: () => {},
      error: (error) => resolve(error),
      complete: () => reject(new Error('completed without an error')),
    });
  });
}

test('graphql-ws client: two subscriptions with one id get 4409, reported as fatal', async () => {
  const { ws, closes } = client({ generateID: () => 'same-id' });
  try {
    const errors = await withTimeout(
      Promise.all([failure(ws, PUBLISHED), failure(ws, PUBLISHED)]),
      5000,
      'the close',
    );
    for (const error of errors) {
      assert.equal(error.code, 4409, `got ${error.code} ${error.reason}`);
      assert.equal(error.reason, 'Subscriber for same-id already exists');
    }
    assert.deepEqual(closes, [{ code: 4409, reason: 'Subscriber for same-id already exists' }]);
  } finally {
    await ws.dispose();
  }
});

test('graphql-ws client: a malformed message on its socket gets 4400', async () => {
  // The client writes only valid messages; this socket breaks its subscribe.
  class BreakingSocket extends WebSocket {
    send(data) {
      super.send(String(data).includes('"subscribe"') ? '{"id":"1","type":"subscribe","payload":' : data);
    }
  }
  const { ws, closes } = client({ webSocketImpl: BreakingSocket });
  try {
    const error = await withTimeout(failure(ws, PUBLISHED), 5000, 'close');
    assert.equal(error.code, 4400, `got ${error.code} ${error.reason}`);
    assert.equal(closes[0].code, 4400);
  } finally {
    await ws.dispose();
  }
});

test('graphql-ws client: a subscribe ahead of its connection_init gets 4401 Unauthorized', async () => {
  // The client waits for connection_ack; this socket sends a subscribe first.
  class EagerSocket extends WebSocket {
    send(data) {
      if (String(data).includes('"connection_init"')) {
        super.send(JSON.stringify({ id: 'early', type: 'subscribe', payload: { query: PUBLISHED } }));
      }
      super.send(data);
    }
  }
  const { ws, closes } = client({ webSocketImpl: EagerSocket });
  try {
    const error = await withTimeout(failure(ws, PUBLISHED), 5000, 'close');
    assert.equal(error.code, 4401, `got ${error.code} ${error.reason}`);
    assert.equal(error.reason, 'Unauthorized');
    assert.deepEqual(closes, [{ code: 4401, reason: 'Unauthorized' }]);
  } finally {
    await ws.dispose();
  }
});

test('graphql-ws client: after one subscription completes, its id serves the next one', async () => {
  const { ws, closes } = client({ generateID: () => 'reused', lazyCloseTimeout: 10_000 });
  try {
    for (let i = 0; i < 2; i += 1) {
      const result = await withTimeout(
        new Promise((resolve, reject) => {
          let data;
          ws.subscribe({ query: '{ tags(first: 1) { totalCount } }' }, {
            next: (value) => {
              data = value;
            },
            error: reject,
            complete: () => resolve(data),
          });
        }),
        5000,
        'result',
      );
      assert.equal(typeof result.data.tags.totalCount, 'number');
    }
    assert.deepEqual(closes, [], 'the socket stayed open');
  } finally {
    await ws.dispose();
  }
});
