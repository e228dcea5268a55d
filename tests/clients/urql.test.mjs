// Folio through urql 6 in Node, configured as urql's own docs configure it:
// the default Client (queries as GET, no Content-Type), graphcache with
// relayPagination and `keys` for the types without an id, subscriptions
// through subscriptionExchange over graphql-ws, and @urql/exchange-auth's
// token refresh recipe.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { createClient as createWSClient } from 'graphql-ws';
import {
  Client,
  cacheExchange,
  fetchExchange,
  gql,
  subscriptionExchange,
} from '@urql/core';
import { cacheExchange as graphcacheExchange } from '@urql/exchange-graphcache';
import { relayPagination } from '@urql/exchange-graphcache/extras';
import { authExchange } from '@urql/exchange-auth';
import { persistedExchange } from '@urql/exchange-persisted';
import {
  FOLIO_URL,
  FOLIO_WS_URL,
  addComment,
  expiredToken,
  graphql,
  publishArticle,
  register,
  tamperedToken,
  withTimeout,
} from './helpers.mjs';

const url = `${FOLIO_URL}/graphql`;

/**
 * Records what urql's fetchExchange sends while `body` runs, without
 * configuring the client: urql calls the global `fetch` when given none.
 */
async function recordingGlobalFetch(body) {
  const original = globalThis.fetch;
  const sent = [];
  globalThis.fetch = async (input, init = {}) => {
    sent.push({
      url: String(input),
      method: init.method ?? 'GET',
      headers: Object.fromEntries(new Headers(init.headers ?? {}).entries()),
      body: init.body,
    });
    return original(input, init);
  };
  try {
    return await body(sent);
  } finally {
    globalThis.fetch = original;
  }
}

/** Fails with the error's message alone (urql's errors print the whole Response). */
function assertNoError(result) {
  if (result.error) assert.fail(`${result.error.message} (HTTP ${result.error.response?.status})`);
}

/** The operationName urql sent, in the URL (GET) or the body (POST). */
function operationName(request) {
  return request.method === 'GET'
    ? new URL(request.url).searchParams.get('operationName')
    : JSON.parse(request.body).operationName;
}

/** Captures console.warn (graphcache's warnings) while `body` runs. */
async function capturingWarnings(body) {
  const original = console.warn;
  const warnings = [];
  console.warn = (...args) => warnings.push(args.map(String).join(' '));
  try {
    await body(warnings);
  } finally {
    console.warn = original;
  }
  return warnings;
}

const VIEWER = gql`
  query Viewer {
    viewer { id username }
  }
`;

const ARTICLES = gql`
  query TaggedArticles($tag: String!, $first: Int!, $after: String) {
    articles(first: $first, after: $after, filter: { tag: $tag }) {
      edges { cursor node { id title author { id username } } }
      pageInfo { hasNextPage endCursor }
      totalCount
    }
  }
`;

async function publishTagged(token, tag, count) {
  const created = [];
  for (let i = 0; i < count; i += 1) {
    const data = await graphql(
      `mutation($input: CreateArticleInput!) { createArticle(input: $input) { id title } }`,
      { input: { title: `${tag} ${i}`, description: 'd', body: 'b', tags: [tag], publish: true } },
      token,
    );
    created.push(data.createArticle);
  }
  return created;
}

test("urql's default Client: queries go as GET without Content-Type, anonymous and logged in", async () => {
  const author = await register('urqldefault');
  const tag = `urqlget${Date.now()}`;
  await publishTagged(author.token, tag, 2);

  await recordingGlobalFetch(async (sent) => {
    // Nothing but the url and the default exchanges.
    const anonymous = new Client({ url, exchanges: [cacheExchange, fetchExchange] });
    const listed = await anonymous.query(ARTICLES, { tag, first: 5 }).toPromise();
    assertNoError(listed);
    assert.equal(listed.data.articles.totalCount, 2);
    assert.deepEqual(
      listed.data.articles.edges.map((edge) => edge.node.author.username),
      [author.username, author.username],
    );
    const viewer = await anonymous.query(VIEWER, {}).toPromise();
    assertNoError(viewer);
    assert.equal(viewer.data.viewer, null, 'anonymous: no viewer');

    // Logged in: the token in fetchOptions, as urql's docs show.
    const loggedIn = new Client({
      url,
      exchanges: [cacheExchange, fetchExchange],
      fetchOptions: { headers: { authorization: `Bearer ${author.token}` } },
    });
    const me = await loggedIn.query(VIEWER, {}).toPromise();
    assertNoError(me);
    assert.equal(me.data.viewer.username, author.username);

    assert.equal(sent.length, 3);
    for (const request of sent) {
      assert.equal(request.method, 'GET', 'urql sends queries as GET by default');
      assert.equal(request.headers['content-type'], undefined, 'and without a Content-Type');
      assert.ok(new URL(request.url).searchParams.get('query'), 'the query is in the URL');
    }
    assert.equal(sent[2].headers.authorization, `Bearer ${author.token}`);
  });
});

test("urql's default Client sends mutations as POST, and they work", async () => {
  const author = await register('urqlmutate');
  const article = await publishArticle(author.token, `urql mutation ${Date.now()}`);
  await recordingGlobalFetch(async (sent) => {
    const client = new Client({
      url,
      exchanges: [cacheExchange, fetchExchange],
      fetchOptions: { headers: { authorization: `Bearer ${author.token}` } },
    });
    const result = await client
      .mutation(
        gql`mutation Comment($id: ID!, $body: String!) {
          addComment(articleId: $id, body: $body) { id body author { username } }
        }`,
        { id: article.id, body: 'posted through urql' },
      )
      .toPromise();
    assertNoError(result);
    assert.equal(result.data.addComment.body, 'posted through urql');
    assert.equal(result.data.addComment.author.username, author.username);
    assert.deepEqual(sent.map((request) => request.method), ['POST']);
    assert.equal(sent[0].headers['content-type'], 'application/json');
  });
  // Stored once.
  const stored = await graphql(
    `query($id: ID!) { node(id: $id) { ... on Article { comments(first: 5) { totalCount } } } }`,
    { id: article.id },
  );
  assert.equal(stored.node.comments.totalCount, 1);
});

test('a mutation over GET stays refused with 405, whatever headers it carries', async () => {
  const author = await register('urqlget405');
  const query = encodeURIComponent('mutation { updateViewer(input: { bio: "over GET" }) { bio } }');
  for (const headers of [
    {},
    { 'content-type': 'application/json' },
    { 'apollo-require-preflight': 'true', authorization: `Bearer ${author.token}` },
  ]) {
    const response = await fetch(`${url}?query=${query}`, { headers });
    assert.equal(response.status, 405, JSON.stringify(headers));
    await response.arrayBuffer();
  }
  const viewer = await graphql('{ viewer { bio } }', {}, author.token);
  assert.notEqual(viewer.viewer.bio, 'over GET');
});

/**
 * graphcache's `keys` for the types of schema.graphql without an `id`:
 * Tag alone needs one (its name is unique). graphcache embeds types named
 * `…Connection`, `…Edge` and `PageInfo` in their parent without asking,
 * and AuthPayload comes only from mutations, whose results it does not
 * ask keys for.
 */
const KEYS = {
  Tag: (tag) => tag.name,
};

const TAGS = gql`
  query Tags {
    tags(first: 5) { edges { node { name articleCount } } pageInfo { hasNextPage endCursor } }
  }
`;

const LOGIN = gql`
  mutation Login($email: String!, $password: String!) {
    login(input: { email: $email, password: $password }) { accessToken user { id username } }
  }
`;

function graphcacheClient(options) {
  return new Client({ url, exchanges: [graphcacheExchange(options), fetchExchange] });
}

test('graphcache: relayPagination merges cursor pages into one list; keys for the id-less types', async () => {
  const author = await register('urqlpages');
  const tag = `urqlpage${Date.now()}`;
  await publishTagged(author.token, tag, 5);
  // The order Folio itself gives, fetched in one page.
  const expected = (
    await graphql(
      `query($tag: String!) { articles(first: 5, filter: { tag: $tag }) { nodes { id } } }`,
      { tag },
    )
  ).articles.nodes.map((node) => node.id);

  const warnings = await capturingWarnings(async () => {
    const client = graphcacheClient({ keys: KEYS, resolvers: { Query: { articles: relayPagination() } } });
    const first = await client.query(ARTICLES, { tag, first: 2 }).toPromise();
    assertNoError(first);
    assert.equal(first.data.articles.edges.length, 2);
    assert.equal(first.data.articles.pageInfo.hasNextPage, true);

    const second = await client
      .query(ARTICLES, { tag, first: 2, after: first.data.articles.pageInfo.endCursor })
      .toPromise();
    assertNoError(second);
    const ids = second.data.articles.edges.map((edge) => edge.node.id);
    assert.deepEqual(ids, expected.slice(0, 4), 'both pages, in order, none repeated');
    assert.equal(new Set(ids).size, 4);
    assert.equal(second.data.articles.pageInfo.hasNextPage, true);

    const third = await client
      .query(ARTICLES, { tag, first: 2, after: second.data.articles.pageInfo.endCursor })
      .toPromise();
    assertNoError(third);
    assert.deepEqual(third.data.articles.edges.map((edge) => edge.node.id), expected);
    assert.equal(third.data.articles.pageInfo.hasNextPage, false);
    assert.equal(third.data.articles.totalCount, 5);

    // The other id-less types: Tag (keyed by name), AuthPayload.
    const tags = await client.query(TAGS, {}).toPromise();
    assertNoError(tags);
    assert.ok(tags.data.tags.edges.some((edge) => edge.node.name === tag));
    const login = await client
      .mutation(LOGIN, { email: `${author.username}@example.com`, password: 'correct horse battery staple' })
      .toPromise();
    assertNoError(login);
    assert.equal(login.data.login.user.username, author.username);
  });
  assert.deepEqual(warnings, [], 'graphcache printed no warning');
});

test('without `keys` graphcache warns about Tag (so the check above can fail), and only Tag', async () => {
  const author = await register('urqlnokeys');
  await publishTagged(author.token, `urqlnokeys${Date.now()}`, 1);
  const warnings = await capturingWarnings(async () => {
    const client = graphcacheClient({});
    assertNoError(await client.query(TAGS, {}).toPromise());
    assertNoError(
      await client
        .mutation(LOGIN, { email: `${author.username}@example.com`, password: 'correct horse battery staple' })
        .toPromise(),
    );
  });
  const missing = new Set(warnings.map((warning) => warning.match(/custom `keys` config for `(\w+)`/)?.[1]));
  assert.deepEqual([...missing], ['Tag'], JSON.stringify(warnings));
});

test('automatic persisted queries through @urql/exchange-persisted: the hash, the text once, then the hash alone', async () => {
  const query = gql`query PersistedUrqlTags${Date.now()} { tags(first: 2) { totalCount } }`;
  const persistedClient = () =>
    new Client({ url, exchanges: [cacheExchange, persistedExchange(), fetchExchange] });
  await recordingGlobalFetch(async (sent) => {
    const first = await persistedClient().query(query, {}).toPromise();
    assertNoError(first);
    assert.equal(typeof first.data.tags.totalCount, 'number');
    // A new client (empty cache) gets it by hash alone.
    const again = await persistedClient().query(query, {}).toPromise();
    assertNoError(again);
    assert.equal(again.data.tags.totalCount, first.data.tags.totalCount);

    const requests = sent.map((request) => {
      const params = new URL(request.url).searchParams;
      return {
        method: request.method,
        hashed: Boolean(JSON.parse(params.get('extensions') ?? '{}').persistedQuery?.sha256Hash),
        text: params.has('query'),
      };
    });
    assert.deepEqual(requests, [
      { method: 'GET', hashed: true, text: false }, // PersistedQueryNotFound
      { method: 'GET', hashed: true, text: true }, // registers it
      { method: 'GET', hashed: true, text: false }, // served by hash
    ]);
  });
});

test("subscriptions through urql's subscriptionExchange over graphql-ws", async () => {
  const author = await register('urqllive');
  const article = await publishArticle(author.token, `urql watched ${Date.now()}`);
  const wsClient = createWSClient({
    url: FOLIO_WS_URL,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${author.token}` },
  });
  const client = new Client({
    url,
    exchanges: [
      cacheExchange,
      fetchExchange,
      subscriptionExchange({
        forwardSubscription(request) {
          const input = { ...request, query: request.query || '' };
          return {
            subscribe(sink) {
              const unsubscribe = wsClient.subscribe(input, sink);
              return { unsubscribe };
            },
          };
        },
      }),
    ],
  });
  const body = `through urql ${Date.now()}`;
  let subscription;
  const received = new Promise((resolve, reject) => {
    subscription = client
      .subscription(
        gql`subscription Watch($id: ID!) {
          commentAdded(articleId: $id) { id body author { username } }
        }`,
        { id: article.id },
      )
      .subscribe((result) => {
        if (result.error) reject(result.error);
        else if (result.data?.commentAdded.body === body) resolve(result.data.commentAdded);
      });
  });
  // Comment until the subscription (opened asynchronously) sees one.
  const timer = setInterval(() => addComment(author.token, article.id, body).catch(() => {}), 300);
  let comment;
  try {
    comment = await withTimeout(received, 10_000, 'comment');
  } finally {
    clearInterval(timer);
    subscription?.unsubscribe();
    await wsClient.dispose();
  }
  assert.equal(comment.author.username, author.username);
  assert.match(comment.id, /\S/);
});

// `__typename` by hand: utils.mutate sends this past graphcache, which adds
// it to every other document, and graphcache warns when writing a result
// without it.
const REFRESH = gql`
  mutation Refresh($refreshToken: String!) {
    refreshSession(refreshToken: $refreshToken) { __typename accessToken refreshToken }
  }
`;

/**
 * @urql/exchange-auth as its README sets it up: the tokens in storage
 * (here two variables), the header added to every operation, an auth error
 * detected by code or status, and refreshAuth calling the refresh mutation
 * through utils.mutate (which sends the stale token too).
 */
function refreshingClient(initial) {
  const state = { token: initial.token, refreshToken: initial.refreshToken, refreshes: 0, loggedOut: false };
  const client = new Client({
    url,
    exchanges: [
      cacheExchange,
      authExchange(async (utils) => ({
        addAuthToOperation(operation) {
          if (state.token) {
            return utils.appendHeaders(operation, { Authorization: `Bearer ${state.token}` });
          }
          return operation;
        },
        willAuthError(_operation) {
          return !state.token;
        },
        didAuthError(error, _operation) {
          return (
            error.graphQLErrors.some((e) => e.extensions?.code === 'UNAUTHENTICATED') ||
            error.response?.status === 401
          );
        },
        async refreshAuth() {
          state.refreshes += 1;
          const result = await utils.mutate(REFRESH, { refreshToken: state.refreshToken });
          if (result.data?.refreshSession) {
            state.token = result.data.refreshSession.accessToken;
            state.refreshToken = result.data.refreshSession.refreshToken;
          } else {
            // The README's branch: clear storage and log out.
            state.token = null;
            state.refreshToken = null;
            state.loggedOut = true;
            state.refreshError = result.error;
          }
        },
      })),
      fetchExchange,
    ],
  });
  return { client, state };
}

for (const [kind, stale] of [
  ['an expired', expiredToken],
  ['a tampered', tamperedToken],
]) {
  test(`@urql/exchange-auth's refresh recipe with ${kind} access token refreshes and retries`, async () => {
    const user = await register(`urqlauth${stale.name.slice(0, 4)}`);
    const staleToken = stale(user.token);
    await recordingGlobalFetch(async (sent) => {
      const { client, state } = refreshingClient({ token: staleToken, refreshToken: user.refreshToken });
      const result = await withTimeout(client.query(VIEWER, {}).toPromise(), 10_000, 'viewer');
      assert.equal(state.loggedOut, false, `logged out instead of refreshed: ${state.refreshError}`);
      assertNoError(result);
      assert.equal(result.data.viewer.username, user.username);
      assert.equal(state.refreshes, 1);
      assert.notEqual(state.token, staleToken);
      assert.notEqual(state.refreshToken, user.refreshToken, 'the refresh token rotated');

      // What went over the wire: the query refused, the refresh sent with
      // the stale token in its header (the recipe does not remove it), the
      // query again with the new token.
      const operations = sent.map((request) => ({
        name: operationName(request),
        authorization: request.headers.authorization,
      }));
      assert.deepEqual(operations, [
        { name: 'Viewer', authorization: `Bearer ${staleToken}` },
        { name: 'Refresh', authorization: `Bearer ${staleToken}` },
        { name: 'Viewer', authorization: `Bearer ${state.token}` },
      ]);

      // A mutation afterwards uses the new token without another refresh.
      const updated = await client
        .mutation(gql`mutation Bio($bio: String!) { updateViewer(input: { bio: $bio }) { bio } }`, {
          bio: `refreshed by urql (${stale.name})`,
        })
        .toPromise();
      assertNoError(updated);
      assert.equal(updated.data.updateViewer.bio, `refreshed by urql (${stale.name})`);
      assert.equal(state.refreshes, 1);
    });
  });
}

test('@urql/exchange-auth: a mutation refused for its stale token runs once, after the refresh', async () => {
  const user = await register('urqlauthmut');
  const article = await publishArticle(user.token, `urql refresh ${Date.now()}`);
  const { client, state } = refreshingClient({ token: expiredToken(user.token), refreshToken: user.refreshToken });
  const result = await withTimeout(
    client
      .mutation(
        gql`mutation Comment($id: ID!, $body: String!) { addComment(articleId: $id, body: $body) { id body } }`,
        { id: article.id, body: 'after a refresh' },
      )
      .toPromise(),
    10_000,
    'comment',
  );
  assert.equal(state.loggedOut, false, `logged out instead of refreshed: ${state.refreshError}`);
  assertNoError(result);
  assert.equal(result.data.addComment.body, 'after a refresh');
  assert.equal(state.refreshes, 1);
  const stored = await graphql(
    `query($id: ID!) { node(id: $id) { ... on Article { comments(first: 5) { nodes { body } } } } }`,
    { id: article.id },
  );
  assert.deepEqual(stored.node.comments.nodes, [{ body: 'after a refresh' }], 'the refused attempt wrote nothing');
});

test('@urql/exchange-auth: a refresh token that no longer works logs out, as the recipe intends', async () => {
  const user = await register('urqlauthout');
  // Rotate it once, so the one the client holds is spent.
  await graphql(`mutation($t: String!) { refreshSession(refreshToken: $t) { accessToken } }`, {
    t: user.refreshToken,
  });
  const { client, state } = refreshingClient({ token: expiredToken(user.token), refreshToken: user.refreshToken });
  const result = await withTimeout(client.query(VIEWER, {}).toPromise(), 10_000, 'viewer');
  assert.equal(state.refreshes, 1);
  assert.equal(state.loggedOut, true);
  assert.equal(state.refreshError.graphQLErrors[0].extensions.code, 'UNAUTHENTICATED');
  // The query went on anonymously (no token left): no viewer.
  assert.equal(result.data?.viewer ?? null, null);
});

/** The README's urql client: graphcache, exchange-auth, APQ, graphql-ws. */
function readmeUrql(state) {
  const wsClient = createWSClient({
    url: FOLIO_WS_URL,
    webSocketImpl: WebSocket,
    connectionParams: () => (state.token ? { authorization: `Bearer ${state.token}` } : {}),
  });
  const client = new Client({
    url,
    exchanges: [
      graphcacheExchange({
        keys: { Tag: (tag) => tag.name },
        resolvers: { Query: { articles: relayPagination() } },
      }),
      authExchange(async (utils) => ({
        addAuthToOperation(operation) {
          if (!state.token) return operation;
          return utils.appendHeaders(operation, { Authorization: `Bearer ${state.token}` });
        },
        // No willAuthError: without a token a request runs anonymously.
        didAuthError(error) {
          return (
            error.graphQLErrors.some((e) => e.extensions?.code === 'UNAUTHENTICATED') ||
            error.response?.status === 401
          );
        },
        async refreshAuth() {
          state.refreshes += 1;
          const result = await utils.mutate(REFRESH, { refreshToken: state.refreshToken });
          if (result.data?.refreshSession) {
            state.token = result.data.refreshSession.accessToken;
            state.refreshToken = result.data.refreshSession.refreshToken;
          } else {
            state.token = state.refreshToken = null; // log out
          }
        },
      })),
      persistedExchange(),
      fetchExchange,
      subscriptionExchange({
        forwardSubscription(request) {
          const input = { ...request, query: request.query || '' };
          return {
            subscribe(sink) {
              const unsubscribe = wsClient.subscribe(input, sink);
              return { unsubscribe };
            },
          };
        },
      }),
    ],
  });
  return { client, dispose: () => wsClient.dispose() };
}

test("the README's urql client: a stale token refreshed, pages merged, persisted GETs, a subscription", async () => {
  const author = await register('urqlreadme');
  const tag = `urqlreadme${Date.now()}`;
  await publishTagged(author.token, tag, 3);
  const state = { token: expiredToken(author.token), refreshToken: author.refreshToken, refreshes: 0 };
  const { client, dispose } = readmeUrql(state);
  try {
    await recordingGlobalFetch(async (sent) => {
      const warnings = await capturingWarnings(async () => {
        const first = await withTimeout(client.query(ARTICLES, { tag, first: 2 }).toPromise(), 10_000, 'page');
        assertNoError(first);
        assert.equal(state.refreshes, 1, 'refreshed once');
        assert.ok(state.token, 'and still logged in');
        const second = await client
          .query(ARTICLES, { tag, first: 2, after: first.data.articles.pageInfo.endCursor })
          .toPromise();
        assertNoError(second);
        assert.deepEqual(
          second.data.articles.edges.map((edge) => edge.node.title),
          [`${tag} 2`, `${tag} 1`, `${tag} 0`],
        );
      });
      assert.deepEqual(warnings, []);
      const queries = sent.filter((request) => request.method === 'GET');
      assert.ok(
        queries.every((request) => new URL(request.url).searchParams.get('extensions')?.includes('sha256Hash')),
        'queries went as persisted GETs',
      );
    });

    const article = await publishArticle(author.token, `urql readme live ${Date.now()}`);
    const body = `readme urql ${Date.now()}`;
    let subscription;
    const received = new Promise((resolve, reject) => {
      subscription = client
        .subscription(gql`subscription ReadmeWatch($id: ID!) { commentAdded(articleId: $id) { id body } }`, {
          id: article.id,
        })
        .subscribe((result) => {
          if (result.error) reject(result.error);
          else if (result.data?.commentAdded.body === body) resolve(result.data.commentAdded);
        });
    });
    const timer = setInterval(() => addComment(author.token, article.id, body).catch(() => {}), 300);
    try {
      assert.equal((await withTimeout(received, 10_000, 'comment')).body, body);
    } finally {
      clearInterval(timer);
      subscription?.unsubscribe();
    }
  } finally {
    await dispose();
  }
});
