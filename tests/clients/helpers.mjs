// What every client test needs: the server under test and a way to call it
// outside the client being tested (to set up data, or to cause events).

export const FOLIO_URL = process.env.FOLIO_URL;
if (!FOLIO_URL) {
  throw new Error('FOLIO_URL is not set: run the client tests with tests/clients/run');
}

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

/** A new user with a unique name; returns its access token and name. */
export async function register(prefix) {
  const username = `${prefix}${Date.now().toString(36)}${Math.floor(Math.random() * 1e6)}`;
  const data = await graphql(
    `mutation($input: RegisterInput!) { register(input: $input) { accessToken user { id username } } }`,
    { input: { username, email: `${username}@example.com`, password: 'correct horse battery staple' } },
  );
  return { token: data.register.accessToken, username, id: data.register.user.id };
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
