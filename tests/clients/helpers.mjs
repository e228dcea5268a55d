// What every client test needs: the server under test and a way to call it
// outside the client being tested (to set up data, or to cause events).

import { createHmac } from 'node:crypto';

export const FOLIO_URL = process.env.FOLIO_URL;
if (!FOLIO_URL) {
  throw new Error('FOLIO_URL is not set: run the client tests with tests/clients/run');
}
/** The WebSocket endpoint (graphql-transport-ws and the legacy protocol). */
export const FOLIO_WS_URL = `${FOLIO_URL.replace(/^http/, 'ws')}/graphql`;

/** A GraphQL request over plain fetch; throws on GraphQL errors. */
export async function graphql(query, variables = {}, token) {
  const response = await fetch(`${FOLIO_URL}/graphql`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  if (body.errors) {
    throw new Error(`GraphQL errors: ${JSON.stringify(body.errors)}`);
  }
  return body.data;
}

/** A new user with a unique name; returns its tokens, name and id. */
export async function register(prefix) {
  const username = `${prefix}${Date.now().toString(36)}${Math.floor(Math.random() * 1e6)}`;
  const data = await graphql(
    `mutation($input: RegisterInput!) {
      register(input: $input) { accessToken refreshToken user { id username } }
    }`,
    { input: { username, email: `${username}@example.com`, password: 'correct horse battery staple' } },
  );
  return {
    token: data.register.accessToken,
    refreshToken: data.register.refreshToken,
    username,
    id: data.register.user.id,
  };
}

/**
 * The same access token, expired an hour ago and signed again with the
 * server's key (FOLIO_JWT_SECRET, which ./run gives the server and the
 * tests): what a client holds after its tab slept past the token's life.
 */
export function expiredToken(token) {
  const secret = process.env.FOLIO_JWT_SECRET;
  if (!secret) throw new Error('FOLIO_JWT_SECRET is not set: run the client tests with tests/clients/run');
  const [header, payload] = token.split('.');
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
  const now = Math.floor(Date.now() / 1000);
  const expired = Buffer.from(JSON.stringify({ ...claims, iat: now - 7200, exp: now - 3600 })).toString('base64url');
  const signature = createHmac('sha256', secret).update(`${header}.${expired}`).digest('base64url');
  return `${header}.${expired}.${signature}`;
}

/** The same access token with its signature broken. */
export function tamperedToken(token) {
  const [header, payload, signature] = token.split('.');
  const flipped = signature[0] === 'A' ? `B${signature.slice(1)}` : `A${signature.slice(1)}`;
  return `${header}.${payload}.${flipped}`;
}

/** `fetch` that records each request (method, url, headers, body). */
export function recordingFetch() {
  const sent = [];
  const fetcher = async (url, init = {}) => {
    const headers = Object.fromEntries(
      [...new Headers(init.headers ?? {}).entries()],
    );
    sent.push({ url: String(url), method: init.method ?? 'GET', headers, body: init.body });
    return fetch(url, init);
  };
  return { sent, fetcher };
}

/** Rejects when `promise` has not settled within `ms`. */
export function withTimeout(promise, ms, what = 'a result') {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no ${what} in ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

export async function publishArticle(token, title) {
  const data = await graphql(
    `mutation($input: CreateArticleInput!) { createArticle(input: $input) { id slug title } }`,
    { input: { title, description: 'for a client test', body: 'Body', tags: ['clients'], publish: true } },
    token,
  );
  return data.createArticle;
}

export async function addComment(token, articleId, body) {
  const data = await graphql(
    `mutation($id: ID!, $body: String!) { addComment(articleId: $id, body: $body) { id body } }`,
    { id: articleId, body },
    token,
  );
  return data.addComment;
}
