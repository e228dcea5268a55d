// Folio through Apollo Client 4 in Node, the way a frontend uses it:
// a normalized cache, cursor pagination with a merging field policy,
// automatic persisted queries (POST, and GET for hashed queries), batching,
// subscriptions over graphql-ws, and error codes surfaced to the caller.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import WebSocket from 'ws';
import { createClient } from 'graphql-ws';
import {
  ApolloClient,
  ApolloLink,
  CombinedGraphQLErrors,
  HttpLink,
  InMemoryCache,
  gql,
} from '@apollo/client';
import { BatchHttpLink } from '@apollo/client/link/batch-http';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { FOLIO_URL, addComment, publishArticle, register } from './helpers.mjs';

/** `fetch` that records what went over the wire. */
function recordingFetch() {
  const sent = [];
  const fetcher = async (url, init) => {
    sent.push({ url: String(url), method: init?.method ?? 'GET', body: init?.body });
    return fetch(url, init);
  };
  return { sent, fetcher };
}

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

function withTimeout(promise, ms) {
  return Promise.race([
    promise,
    new Promise((_, reject) => setTimeout(() => reject(new Error(`no result in ${ms} ms`)), ms)),
  ]);
}
