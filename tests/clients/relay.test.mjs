// Folio through Relay (relay-runtime, with relay-compiler's artifacts for
// relay/operations.js, which ./run generates into relay/__generated__/ before
// the tests): a network layer posting JSON with the Authorization header,
// @connection pagination through the @refetchable fragment's query,
// node(id:) refetch, nodes(ids:) with a malformed id, @appendNode and
// @deleteEdge mutations, a subscription over graphql-ws, and a token
// refresh in the network layer.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { createClient } from 'graphql-ws';
import {
  ConnectionHandler,
  Environment,
  Network,
  Observable,
  RecordSource,
  Store,
  commitMutation,
  createOperationDescriptor,
  fetchQuery,
  getRequest,
  getSelector,
  requestSubscription,
} from 'relay-runtime';
import ArticlesQuery from './relay/__generated__/operationsArticlesQuery.graphql.js';
import ArticlesPaginationQuery from './relay/__generated__/operationsArticlesPaginationQuery.graphql.js';
import ArticlesFragment from './relay/__generated__/operations_articles.graphql.js';
import ArticleQuery from './relay/__generated__/operationsArticleQuery.graphql.js';
import ArticleRefetchQuery from './relay/__generated__/operationsArticleRefetchQuery.graphql.js';
import ArticleFragment from './relay/__generated__/operations_article.graphql.js';
import NodesQuery from './relay/__generated__/operationsNodesQuery.graphql.js';
import AddCommentMutation from './relay/__generated__/operationsAddCommentMutation.graphql.js';
import DeleteCommentMutation from './relay/__generated__/operationsDeleteCommentMutation.graphql.js';
import CommentAddedSubscription from './relay/__generated__/operationsCommentAddedSubscription.graphql.js';
import {
  FOLIO_URL,
  FOLIO_WS_URL,
  addComment,
  expiredToken,
  graphql,
  publishArticle,
  register,
  withTimeout,
} from './helpers.mjs';

const REFRESH = `
  mutation Refresh($refreshToken: String!) {
    refreshSession(refreshToken: $refreshToken) { accessToken refreshToken }
  }
`;

/**
 * A Relay environment on Folio, as the README's Relay section builds it:
 * queries and mutations POSTed as JSON with the token (on a 401, one
 * refreshSession and the request again), subscriptions over graphql-ws
 * (the token in connection_init). `responses` records what the network
 * layer got.
 */
function relayEnvironment(auth = {}) {
  const responses = [];
  const state = { token: auth.token, refreshToken: auth.refreshToken, refreshes: 0 };
  function post(body) {
    return fetch(`${FOLIO_URL}/graphql`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(state.token ? { authorization: `Bearer ${state.token}` } : {}),
      },
      body: JSON.stringify(body),
    });
  }
  async function fetchFn(params, variables) {
    const body = { query: params.text, operationName: params.name, variables };
    let response = await post(body);
    if (response.status === 401 && state.refreshToken) {
      state.refreshes += 1;
      const refreshed = await (await post({ query: REFRESH, variables: { refreshToken: state.refreshToken } })).json();
      ({ accessToken: state.token, refreshToken: state.refreshToken } = refreshed.data?.refreshSession ?? {});
      response = await post(body);
    }
    const json = await response.json();
    responses.push({ name: params.name, status: response.status, json });
    return json;
  }
  const wsClient = createClient({
    url: FOLIO_WS_URL,
    webSocketImpl: WebSocket,
    connectionParams: () => (state.token ? { authorization: `Bearer ${state.token}` } : {}),
  });
  function subscribeFn(operation, variables) {
    return Observable.create((sink) =>
      wsClient.subscribe({ operationName: operation.name, query: operation.text, variables }, sink),
    );
  }
  const environment = new Environment({
    network: Network.create(fetchFn, subscribeFn),
    store: new Store(new RecordSource()),
  });
  return { environment, responses, state, dispose: () => wsClient.dispose() };
}

/** fetchQuery, keeping the result in the store (as a mounted component would). */
async function query(environment, request, variables) {
  const data = await fetchQuery(environment, request, variables).toPromise();
  environment.retain(createOperationDescriptor(getRequest(request), variables));
  return data;
}

/** Reads a fragment from the store, as useFragment does. */
function readFragment(environment, fragment, ref) {
  return environment.lookup(getSelector(fragment, ref)).data;
}

function mutate(environment, mutation, variables) {
  return new Promise((resolve, reject) => {
    commitMutation(environment, {
      mutation,
      variables,
      onCompleted: (response, errors) => (errors ? reject(new Error(JSON.stringify(errors))) : resolve(response)),
      onError: reject,
    });
  });
}

/** Captures console.warn and console.error (Relay's warnings) while `body` runs. */
async function capturingWarnings(body) {
  const { warn, error } = console;
  const warnings = [];
  console.warn = (...args) => warnings.push(args.map(String).join(' '));
  console.error = console.warn;
  try {
    await body();
  } finally {
    Object.assign(console, { warn, error });
  }
  return warnings;
}

async function publishTagged(token, tag, count) {
  for (let i = 0; i < count; i += 1) {
    await graphql(
      `mutation($input: CreateArticleInput!) { createArticle(input: $input) { id } }`,
      { input: { title: `${tag} ${i}`, description: 'd', body: 'b', tags: [tag], publish: true } },
      token,
    );
  }
}

test('@connection pagination: the refetchable fragment query loads the next page into the same connection', async () => {
  const author = await register('relaypages');
  const tag = `relaypage${Date.now()}`;
  await publishTagged(author.token, tag, 5);
  const expected = (
    await graphql(`query($tag: String!) { articles(first: 5, filter: { tag: $tag }) { nodes { id } } }`, { tag })
  ).articles.nodes.map((node) => node.id);

  const { environment, responses, dispose } = relayEnvironment({ token: author.token });
  try {
    const warnings = await capturingWarnings(async () => {
      const data = await query(environment, ArticlesQuery, { tag, count: 2 });
      let connection = readFragment(environment, ArticlesFragment, data).articles;
      assert.deepEqual(connection.edges.map((edge) => edge.node.id), expected.slice(0, 2));
      assert.equal(connection.totalCount, 5);

      // What usePaginationFragment's loadNext does: the fragment's
      // @refetchable query with the cursor, merged by the connection handler.
      while (connection.pageInfo.hasNextPage) {
        await query(environment, ArticlesPaginationQuery, {
          tag,
          count: 2,
          cursor: connection.pageInfo.endCursor,
        });
        connection = readFragment(environment, ArticlesFragment, data).articles;
      }
      assert.deepEqual(connection.edges.map((edge) => edge.node.id), expected, 'every page once, in order');
    });
    assert.deepEqual(warnings, [], 'Relay warned of nothing (an unexpected cursor would be warned)');
    assert.deepEqual(
      responses.map((response) => response.name),
      ['operationsArticlesQuery', 'operationsArticlesPaginationQuery', 'operationsArticlesPaginationQuery'],
    );
  } finally {
    await dispose();
  }
});

test('node(id:) refetch through the @refetchable fragment updates the record in the store', async () => {
  const author = await register('relaynode');
  const article = await publishArticle(author.token, `Relay before ${Date.now()}`);
  const { environment, responses, dispose } = relayEnvironment({ token: author.token });
  try {
    const data = await query(environment, ArticleQuery, { slug: article.slug });
    assert.equal(data.article.id, article.id);
    assert.equal(readFragment(environment, ArticleFragment, data.article).title, article.title);

    await graphql(
      `mutation($id: ID!) { updateArticle(id: $id, input: { title: "Relay after" }) { id } }`,
      { id: article.id },
      author.token,
    );
    await graphql(`mutation($id: ID!) { favoriteArticle(id: $id) { id } }`, { id: article.id }, author.token);
    await query(environment, ArticleRefetchQuery, { id: article.id });
    assert.equal(responses.at(-1).json.data.node.id, article.id, 'refetched with node(id:)');
    const refreshed = readFragment(environment, ArticleFragment, data.article);
    assert.equal(refreshed.title, 'Relay after');
    assert.equal(refreshed.favoritesCount, 1);
  } finally {
    await dispose();
  }
});

test('nodes(ids:) with a malformed id: that slot is null, the others are returned, fetchQuery succeeds', async () => {
  const author = await register('relaynodes');
  const article = await publishArticle(author.token, `Relay nodes ${Date.now()}`);
  const { environment, responses, dispose } = relayEnvironment();
  try {
    const ids = [article.id, 'not-a-global-id', author.id];
    // Relay fails a query whose response has no data ("No data returned").
    const data = await fetchQuery(environment, NodesQuery, { ids }).toPromise();
    assert.equal(data.nodes.length, 3);
    assert.equal(data.nodes[0].id, article.id);
    assert.equal(data.nodes[0].__typename, 'Article');
    assert.equal(data.nodes[0].title, article.title);
    assert.equal(data.nodes[1], null);
    assert.equal(data.nodes[2].__typename, 'User');
    assert.equal(data.nodes[2].username, author.username);

    // Relay keeps no error for a null list item, so check the response.
    const { json } = responses.at(-1);
    assert.equal(json.errors.length, 1, JSON.stringify(json.errors));
    assert.deepEqual(json.errors[0].path, ['nodes', 1]);
    assert.equal(json.errors[0].extensions.code, 'BAD_USER_INPUT');
  } finally {
    await dispose();
  }
});

test('@appendNode and @deleteEdge mutations update the comments connection in the store', async () => {
  const author = await register('relaymut');
  const article = await publishArticle(author.token, `Relay mutations ${Date.now()}`);
  await addComment(author.token, article.id, 'already there');
  const { environment, dispose } = relayEnvironment({ token: author.token });
  try {
    const variables = { slug: article.slug };
    const data = await query(environment, ArticleQuery, variables);
    assert.deepEqual(data.article.comments.edges.map((edge) => edge.node.body), ['already there']);
    const connections = [ConnectionHandler.getConnectionID(article.id, 'operations_comments')];

    const added = await mutate(environment, AddCommentMutation, {
      articleId: article.id,
      body: 'appended by Relay',
      connections,
    });
    const read = () =>
      environment.lookup(createOperationDescriptor(getRequest(ArticleQuery), variables).fragment).data.article
        .comments.edges.map((edge) => edge.node.body);
    assert.deepEqual(read(), ['already there', 'appended by Relay'], 'appended without a refetch');

    const deleted = await mutate(environment, DeleteCommentMutation, { id: added.addComment.id, connections });
    assert.equal(deleted.deleteComment, added.addComment.id);
    assert.deepEqual(read(), ['already there'], 'its edge removed without a refetch');

    // And on the server.
    const stored = await graphql(
      `query($slug: String!) { article(slug: $slug) { comments(first: 10) { nodes { body } } } }`,
      variables,
    );
    assert.deepEqual(stored.article.comments.nodes, [{ body: 'already there' }]);
  } finally {
    await dispose();
  }
});

test('a subscription over graphql-ws through the network layer appends to the connection', async () => {
  const author = await register('relaylive');
  const article = await publishArticle(author.token, `Relay live ${Date.now()}`);
  const { environment, dispose } = relayEnvironment({ token: author.token });
  const variables = { slug: article.slug };
  const body = `live through Relay ${Date.now()}`;
  let subscription;
  const timer = setInterval(() => addComment(author.token, article.id, body).catch(() => {}), 300);
  try {
    await query(environment, ArticleQuery, variables);
    const received = new Promise((resolve, reject) => {
      subscription = requestSubscription(environment, {
        subscription: CommentAddedSubscription,
        variables: {
          articleId: article.id,
          connections: [ConnectionHandler.getConnectionID(article.id, 'operations_comments')],
        },
        onNext: (response) => {
          if (response?.commentAdded.body === body) resolve(response.commentAdded);
        },
        onError: reject,
      });
    });
    const comment = await withTimeout(received, 10_000, 'comment');
    assert.equal(comment.author.username, author.username);
    const bodies = environment
      .lookup(createOperationDescriptor(getRequest(ArticleQuery), variables).fragment)
      .data.article.comments.edges.map((edge) => edge.node.body);
    assert.ok(bodies.includes(body), `the connection holds the comment: ${JSON.stringify(bodies)}`);
  } finally {
    clearInterval(timer);
    subscription?.dispose();
    await dispose();
  }
});

test('the network layer refreshes a stale token on its 401 and sends the request again', async () => {
  const author = await register('relayrefresh');
  const article = await publishArticle(author.token, `Relay refresh ${Date.now()}`);
  const { environment, responses, state, dispose } = relayEnvironment({
    token: expiredToken(author.token),
    refreshToken: author.refreshToken,
  });
  try {
    const added = await mutate(environment, AddCommentMutation, {
      articleId: article.id,
      body: 'after a Relay refresh',
      connections: [],
    });
    assert.equal(added.addComment.body, 'after a Relay refresh');
    assert.equal(state.refreshes, 1);
    assert.notEqual(state.refreshToken, author.refreshToken, 'rotated');
    assert.deepEqual(responses.map((response) => response.status), [200]);
    // The new token serves the socket too.
    const body = `Relay refreshed live ${Date.now()}`;
    let subscription;
    const received = new Promise((resolve, reject) => {
      subscription = requestSubscription(environment, {
        subscription: CommentAddedSubscription,
        variables: { articleId: article.id, connections: [] },
        onNext: (response) => response?.commentAdded.body === body && resolve(response.commentAdded),
        onError: reject,
      });
    });
    const timer = setInterval(() => addComment(author.token, article.id, body).catch(() => {}), 300);
    try {
      assert.equal((await withTimeout(received, 10_000, 'comment')).body, body);
    } finally {
      clearInterval(timer);
      subscription?.dispose();
    }
  } finally {
    await dispose();
  }
  const stored = await graphql(
    `query($id: ID!) { node(id: $id) { ... on Article { comments(first: 5) { nodes { body } } } } }`,
    { id: article.id },
  );
  assert.equal(stored.node.comments.nodes.filter((c) => c.body === 'after a Relay refresh').length, 1);
});
