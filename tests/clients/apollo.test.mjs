// Folio through Apollo Client 4 in Node, the way a frontend uses it:
// a normalized cache, cursor pagination with a merging field policy and
// with relayStylePagination, automatic persisted queries (POST, and GET for
// hashed queries), batching, subscriptions over graphql-ws (alone and split
// from HTTP), error codes surfaced to the caller, and the error-link token
// refresh. readmeApollo is the client the README's Apollo section shows.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import WebSocket from 'ws';
import { createClient } from 'graphql-ws';
import { OperationTypeNode } from 'graphql';
import { from as fromPromise, switchMap } from 'rxjs';
import {
  ApolloClient,
  ApolloLink,
  CombinedGraphQLErrors,
  HttpLink,
  InMemoryCache,
  ServerError,
  gql,
} from '@apollo/client';
import { BatchHttpLink } from '@apollo/client/link/batch-http';
import { SetContextLink } from '@apollo/client/link/context';
import { ErrorLink } from '@apollo/client/link/error';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { relayStylePagination } from '@apollo/client/utilities';
import {
  FOLIO_URL,
  addComment,
  expiredToken,
  graphql,
  publishArticle,
  recordingFetch,
  register,
  tamperedToken,
  withTimeout,
} from './helpers.mjs';

function authorization(token) {
  return token ? { authorization: `Bearer ${token}` } : {};
}

/** Merges `articles` pages into one list, as an infinite feed does. */
const articlesPolicy = {
  keyArgs: ['filter', 'orderBy'],
  merge(existing, incoming, { args }) {
    if (!existing || !args?.after) return incoming;
    return { ...incoming, edges: [...existing.edges, ...incoming.edges] };
  },
};

function client({ link, token } = {}) {
  return new ApolloClient({
    cache: new InMemoryCache({
      typePolicies: { Query: { fields: { articles: articlesPolicy } } },
    }),
    link: link ?? new HttpLink({ uri: `${FOLIO_URL}/graphql`, headers: authorization(token) }),
  });
}

const ARTICLES = gql`
  query Articles($first: Int!, $after: String, $tag: String) {
    articles(first: $first, after: $after, filter: { tag: $tag }) {
      edges { cursor node { id title } }
      pageInfo { hasNextPage endCursor }
    }
  }
`;

test('a mutation result updates the cached list item it normalizes to', async () => {
  const author = await register('apollo');
  const tag = `norm${Date.now()}`;
  const article = await publishArticleTagged(author.token, 'Before', tag);
  const apollo = client({ token: author.token });
  const { data } = await apollo.query({ query: ARTICLES, variables: { first: 5, tag } });
  assert.equal(data.articles.edges[0].node.title, 'Before');

  await apollo.mutate({
    mutation: gql`mutation Rename($id: ID!) {
      updateArticle(id: $id, input: { title: "After" }) { id title }
    }`,
    variables: { id: article.id },
  });
  // No refetch: the list reads the object the mutation returned.
  const cached = apollo.readQuery({ query: ARTICLES, variables: { first: 5, tag } });
  assert.equal(cached.articles.edges[0].node.title, 'After');
  assert.equal(apollo.cache.extract()[`Article:${article.id}`]?.title, 'After');
});

test('cursor pages merge into one list through a field policy', async () => {
  const author = await register('pager');
  const tag = `page${Date.now()}`;
  for (let i = 0; i < 5; i += 1) {
    await publishArticleTagged(author.token, `Page item ${i}`, tag);
  }
  const apollo = client();
  const watch = apollo.watchQuery({ query: ARTICLES, variables: { first: 2, tag } });
  const result = await firstResult(watch);
  const titles = new Set();
  let pageInfo = result.data.articles.pageInfo;
  while (pageInfo.hasNextPage) {
    const more = await watch.fetchMore({ variables: { after: pageInfo.endCursor } });
    pageInfo = more.data.articles.pageInfo;
  }
  const merged = apollo.readQuery({ query: ARTICLES, variables: { first: 2, tag } });
  for (const edge of merged.articles.edges) titles.add(edge.node.title);
  assert.equal(merged.articles.edges.length, 5);
  assert.equal(titles.size, 5, 'no page repeated or lost');
});

test('automatic persisted queries: hash first, the text once, then GET by hash', async () => {
  const { sent, fetcher } = recordingFetch();
  const sha256 = (text) => createHash('sha256').update(text).digest('hex');
  const link = new PersistedQueryLink({ sha256, useGETForHashedQueries: true }).concat(
    new HttpLink({ uri: `${FOLIO_URL}/graphql`, fetch: fetcher }),
  );
  const query = gql`query PersistedTags${Date.now()} { tags(first: 3) { totalCount } }`;
  const first = await client({ link }).query({ query });
  assert.equal(typeof first.data.tags.totalCount, 'number');
  // GET with only the hash, PersistedQueryNotFound, then POST with the text.
  assert.deepEqual(sent.map((request) => request.method), ['GET', 'POST']);
  assert.ok(!decodeURIComponent(sent[0].url).includes('totalCount'), 'the first try sends no text');
  assert.ok(JSON.parse(sent[1].body).query.includes('totalCount'));

  // A new client (empty cache) now gets it by hash alone.
  await client({ link }).query({ query });
  assert.equal(sent.length, 3);
  assert.equal(sent[2].method, 'GET');
  assert.ok(!decodeURIComponent(sent[2].url).includes('totalCount'));
});

test('automatic persisted queries over POST alone', async () => {
  const { sent, fetcher } = recordingFetch();
  const sha256 = (text) => createHash('sha256').update(text).digest('hex');
  const link = new PersistedQueryLink({ sha256 }).concat(
    new HttpLink({ uri: `${FOLIO_URL}/graphql`, fetch: fetcher }),
  );
  const query = gql`query PostedTags${Date.now()} { tags(first: 2) { totalCount } }`;
  await client({ link }).query({ query });
  await client({ link }).query({ query });
  const bodies = sent.map((request) => JSON.parse(request.body));
  assert.deepEqual(sent.map((request) => request.method), ['POST', 'POST', 'POST']);
  assert.deepEqual(
    bodies.map((body) => Boolean(body.query)),
    [false, true, false],
    'hash, then the text once, then the hash alone',
  );
  assert.ok(bodies.every((body) => body.extensions.persistedQuery.sha256Hash));
});

test('BatchHttpLink sends concurrent operations in one request', async () => {
  const { sent, fetcher } = recordingFetch();
  const link = new BatchHttpLink({ uri: `${FOLIO_URL}/graphql`, fetch: fetcher, batchMax: 10, batchInterval: 20 });
  const apollo = client({ link });
  const [tags, articles] = await Promise.all([
    apollo.query({ query: gql`query BatchedTags { tags(first: 1) { totalCount } }` }),
    apollo.query({ query: gql`query BatchedArticles { articles(first: 1) { totalCount } }` }),
  ]);
  assert.equal(typeof tags.data.tags.totalCount, 'number');
  assert.equal(typeof articles.data.articles.totalCount, 'number');
  assert.equal(sent.length, 1, 'one HTTP request');
  assert.equal(JSON.parse(sent[0].body).length, 2, 'holding both operations');
});

test('subscriptions arrive through GraphQLWsLink', async () => {
  const author = await register('live');
  const article = await publishArticle(author.token, `Watched ${Date.now()}`);
  const wsClient = createClient({
    url: `${FOLIO_URL.replace(/^http/, 'ws')}/graphql/ws`,
    webSocketImpl: WebSocket,
    connectionParams: authorization(author.token),
  });
  const apollo = client({ link: new GraphQLWsLink(wsClient) });
  const body = `through graphql-ws ${Date.now()}`;
  const received = new Promise((resolve, reject) => {
    const subscription = apollo
      .subscribe({
        query: gql`subscription Watch($id: ID!) {
          commentAdded(articleId: $id) { id body author { username } }
        }`,
        variables: { id: article.id },
      })
      .subscribe({
        next: (result) => {
          if (result.data?.commentAdded.body === body) {
            subscription.unsubscribe();
            resolve(result.data.commentAdded);
          }
        },
        error: reject,
      });
  });
  // Comment until the subscription (opened asynchronously) sees one.
  let comment;
  const timer = setInterval(() => addComment(author.token, article.id, body), 300);
  try {
    comment = await withTimeout(received, 10_000);
  } finally {
    clearInterval(timer);
    await wsClient.dispose();
  }
  assert.equal(comment.author.username, author.username);
});

test('GraphQL errors reach the caller with their codes', async () => {
  const anonymous = client();
  await assert.rejects(
    anonymous.mutate({
      mutation: gql`mutation { addComment(articleId: "QXJ0aWNsZTox", body: "hi") { id } }`,
    }),
    (error) => {
      assert.ok(CombinedGraphQLErrors.is(error), `${error}`);
      assert.equal(error.errors[0].extensions.code, 'UNAUTHENTICATED');
      return true;
    },
  );
  const result = await anonymous.query({
    query: gql`query Bad { articles(first: 1, after: "not a cursor") { totalCount } }`,
    errorPolicy: 'all',
  });
  assert.ok(CombinedGraphQLErrors.is(result.error));
  assert.equal(result.error.errors[0].extensions.code, 'BAD_USER_INPUT');
});

const REFRESH = gql`
  mutation Refresh($refreshToken: String!) {
    refreshSession(refreshToken: $refreshToken) { accessToken refreshToken }
  }
`;

/**
 * One client as the README's Apollo section builds it: relayStylePagination
 * for `articles`, subscriptions over graphql-ws and everything else over
 * HTTP (split by operation type), the token added by a SetContextLink, and
 * the usual refresh: an ErrorLink that, on UNAUTHENTICATED, runs
 * refreshSession through the same client (so with the stale token in its
 * header), keeps the new tokens and retries with forward(operation).
 */
function readmeApollo(initial, fetcher) {
  const state = { token: initial.token, refreshToken: initial.refreshToken, refreshes: 0 };
  const authLink = new SetContextLink(({ headers }) => ({
    headers: { ...headers, ...(state.token ? { authorization: `Bearer ${state.token}` } : {}) },
  }));
  const errorLink = new ErrorLink(({ error, operation, forward }) => {
    const unauthenticated =
      (CombinedGraphQLErrors.is(error) && error.errors.some((e) => e.extensions?.code === 'UNAUTHENTICATED')) ||
      (ServerError.is(error) && error.statusCode === 401);
    if (!unauthenticated || operation.operationName === 'Refresh') return;
    state.refreshes += 1;
    return fromPromise(
      operation.client.mutate({ mutation: REFRESH, variables: { refreshToken: state.refreshToken } }),
    ).pipe(
      switchMap(({ data }) => {
        state.token = data.refreshSession.accessToken;
        state.refreshToken = data.refreshSession.refreshToken;
        return forward(operation);
      }),
    );
  });
  const wsClient = createClient({
    url: `${FOLIO_URL.replace(/^http/, 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: () => (state.token ? { authorization: `Bearer ${state.token}` } : {}),
  });
  const apollo = new ApolloClient({
    cache: new InMemoryCache({
      typePolicies: { Query: { fields: { articles: relayStylePagination(['filter', 'orderBy']) } } },
    }),
    link: ApolloLink.split(
      ({ operationType }) => operationType === OperationTypeNode.SUBSCRIPTION,
      new GraphQLWsLink(wsClient),
      ApolloLink.from([errorLink, authLink, new HttpLink({ uri: `${FOLIO_URL}/graphql`, fetch: fetcher })]),
    ),
  });
  return { apollo, state, dispose: () => wsClient.dispose() };
}

for (const stale of [expiredToken, tamperedToken]) {
  test(`the error-link refresh recipe with ${stale === expiredToken ? 'an expired' : 'a tampered'} access token refreshes and retries`, async () => {
    const user = await register(`apolloref${stale.name.slice(0, 4)}`);
    const staleToken = stale(user.token);
    const { sent, fetcher } = recordingFetch();
    const { apollo, state, dispose } = readmeApollo({ token: staleToken, refreshToken: user.refreshToken }, fetcher);
    try {
      const { data } = await apollo.query({ query: gql`query Me { viewer { id username } }` });
      assert.equal(data.viewer.username, user.username);
      assert.equal(state.refreshes, 1);
      assert.notEqual(state.refreshToken, user.refreshToken, 'the refresh token rotated');
      assert.deepEqual(
        sent.map((request) => [JSON.parse(request.body).operationName, request.headers.authorization]),
        [
          ['Me', `Bearer ${staleToken}`],
          ['Refresh', `Bearer ${staleToken}`],
          ['Me', `Bearer ${state.token}`],
        ],
      );
      // A mutation afterwards goes with the new token, no second refresh.
      const updated = await apollo.mutate({
        mutation: gql`mutation Bio { updateViewer(input: { bio: "refreshed by Apollo" }) { id bio } }`,
      });
      assert.equal(updated.data.updateViewer.bio, 'refreshed by Apollo');
      assert.equal(state.refreshes, 1);
    } finally {
      await dispose();
    }
  });
}

test('the error-link recipe: a mutation refused for its stale token runs once, after the refresh', async () => {
  const user = await register('apollorefmut');
  const article = await publishArticle(user.token, `Apollo refresh ${Date.now()}`);
  const { apollo, state, dispose } = readmeApollo({ token: expiredToken(user.token), refreshToken: user.refreshToken });
  try {
    const { data } = await apollo.mutate({
      mutation: gql`mutation Comment($id: ID!) { addComment(articleId: $id, body: "after a refresh") { id body } }`,
      variables: { id: article.id },
    });
    assert.equal(data.addComment.body, 'after a refresh');
    assert.equal(state.refreshes, 1);
  } finally {
    await dispose();
  }
  const stored = await graphql(
    `query($id: ID!) { node(id: $id) { ... on Article { comments(first: 5) { nodes { body } } } } }`,
    { id: article.id },
  );
  assert.deepEqual(stored.node.comments.nodes, [{ body: 'after a refresh' }]);
});

test('the error-link recipe: a spent refresh token fails the operation with its UNAUTHENTICATED error', async () => {
  const user = await register('apollorefout');
  await graphql(`mutation($t: String!) { refreshSession(refreshToken: $t) { accessToken } }`, { t: user.refreshToken });
  const { apollo, state, dispose } = readmeApollo({ token: expiredToken(user.token), refreshToken: user.refreshToken });
  try {
    await assert.rejects(apollo.query({ query: gql`query Me { viewer { id } }` }), (error) => {
      assert.ok(CombinedGraphQLErrors.is(error), `${error}`);
      assert.deepEqual(error.errors[0].path, ['refreshSession']);
      assert.equal(error.errors[0].extensions.code, 'UNAUTHENTICATED');
      return true;
    });
    assert.equal(state.refreshes, 1, 'no refresh loop');
  } finally {
    await dispose();
  }
});

test("the README's client: relayStylePagination pages, and a subscription over the split link", async () => {
  const author = await register('apolloreadme');
  const tag = `readme${Date.now()}`;
  for (let i = 0; i < 3; i += 1) await publishArticleTagged(author.token, `Readme ${i}`, tag);
  const { apollo, dispose } = readmeApollo({ token: author.token, refreshToken: author.refreshToken });
  try {
    const PAGE = gql`
      query ReadmePage($tag: String!, $after: String) {
        articles(first: 2, after: $after, filter: { tag: $tag }) {
          edges { cursor node { id title } }
          pageInfo { hasNextPage endCursor }
        }
      }
    `;
    const watch = apollo.watchQuery({ query: PAGE, variables: { tag } });
    const first = await firstResult(watch);
    assert.equal(first.data.articles.edges.length, 2);
    await watch.fetchMore({ variables: { after: first.data.articles.pageInfo.endCursor } });
    const merged = apollo.readQuery({ query: PAGE, variables: { tag } });
    assert.deepEqual(
      merged.articles.edges.map((edge) => edge.node.title),
      ['Readme 2', 'Readme 1', 'Readme 0'],
      'both pages, newest first, once each',
    );
    assert.equal(merged.articles.pageInfo.hasNextPage, false);

    const article = (await apollo.query({ query: PAGE, variables: { tag } })).data.articles.edges[0].node;
    const body = `split link ${Date.now()}`;
    let subscription;
    const received = new Promise((resolve, reject) => {
      subscription = apollo
        .subscribe({
          query: gql`subscription ReadmeWatch($id: ID!) { commentAdded(articleId: $id) { id body } }`,
          variables: { id: article.id },
        })
        .subscribe({
          next: (result) => result.data?.commentAdded.body === body && resolve(result.data.commentAdded),
          error: reject,
        });
    });
    const timer = setInterval(() => addComment(author.token, article.id, body).catch(() => {}), 300);
    try {
      assert.equal((await withTimeout(received, 10_000)).body, body);
    } finally {
      clearInterval(timer);
      subscription?.unsubscribe();
    }
  } finally {
    await dispose();
  }
});

test('a refused access token reaches Apollo as a GraphQL error with code UNAUTHENTICATED', async () => {
  // Apollo reads a non-2xx answer as GraphQL errors only when it comes as
  // application/graphql-response+json (which Apollo asks for first);
  // as application/json it is a ServerError without the code.
  const user = await register('apollo401');
  const apollo = client({ token: expiredToken(user.token) });
  await assert.rejects(apollo.query({ query: gql`query Stale { viewer { id } }` }), (error) => {
    assert.ok(
      CombinedGraphQLErrors.is(error),
      `a ${error.constructor.name} (HTTP ${error.statusCode}, ${error.response?.headers.get('content-type')}), not CombinedGraphQLErrors`,
    );
    assert.equal(error.errors[0].extensions.code, 'UNAUTHENTICATED');
    return true;
  });
});

async function publishArticleTagged(token, title, tag) {
  const response = await fetch(`${FOLIO_URL}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...authorization(token) },
    body: JSON.stringify({
      query: `mutation($input: CreateArticleInput!) { createArticle(input: $input) { id } }`,
      variables: { input: { title, description: 'd', body: 'b', tags: [tag], publish: true } },
    }),
  });
  const body = await response.json();
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data.createArticle;
}

function firstResult(observable) {
  return new Promise((resolve, reject) => {
    const subscription = observable.subscribe({
      next: (result) => {
        if (result.data) {
          subscription.unsubscribe();
          resolve(result);
        }
      },
      error: reject,
    });
  });
}
