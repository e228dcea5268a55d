// The documents relay.test.mjs runs. Nothing imports this file: relay-compiler
// reads its graphql`` templates (relay.config.json) and writes their
// artifacts to __generated__/, which the test imports. Relay requires each
// name to start with the file's name ("operations").

graphql`
  fragment operations_articles on Query
  @refetchable(queryName: "operationsArticlesPaginationQuery")
  @argumentDefinitions(
    count: { type: "Int", defaultValue: 2 }
    cursor: { type: "String" }
    tag: { type: "String" }
  ) {
    articles(first: $count, after: $cursor, filter: { tag: $tag })
    @connection(key: "operations_articles") {
      totalCount
      edges {
        node {
          id
          title
        }
      }
    }
  }
`;

graphql`
  query operationsArticlesQuery($tag: String, $count: Int) {
    ...operations_articles @arguments(tag: $tag, count: $count)
  }
`;

graphql`
  fragment operations_article on Article
  @refetchable(queryName: "operationsArticleRefetchQuery") {
    id
    title
    favoritesCount
  }
`;

graphql`
  query operationsArticleQuery($slug: String!) {
    article(slug: $slug) {
      id
      ...operations_article
      comments(first: 10) @connection(key: "operations_comments") {
        edges {
          node {
            id
            body
          }
        }
      }
    }
  }
`;

graphql`
  query operationsNodesQuery($ids: [ID!]!) {
    nodes(ids: $ids) {
      __typename
      id
      ... on Article {
        title
      }
      ... on User {
        username
      }
    }
  }
`;

graphql`
  mutation operationsAddCommentMutation($articleId: ID!, $body: String!, $connections: [ID!]!) {
    addComment(articleId: $articleId, body: $body)
    @appendNode(connections: $connections, edgeTypeName: "CommentEdge") {
      id
      body
    }
  }
`;

graphql`
  mutation operationsDeleteCommentMutation($id: ID!, $connections: [ID!]!) {
    deleteComment(id: $id) @deleteEdge(connections: $connections)
  }
`;

graphql`
  subscription operationsCommentAddedSubscription($articleId: ID!, $connections: [ID!]!) {
    commentAdded(articleId: $articleId)
    @appendNode(connections: $connections, edgeTypeName: "CommentEdge") {
      id
      body
      author {
        username
      }
    }
  }
`;
