// Code a frontend would write against the generated types: if the schema or
// the playground's operations change shape, this stops compiling.
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import {
  BrowseArticlesDocument,
  type BrowseArticlesQuery,
  type BrowseArticlesQueryVariables,
  LogInDocument,
  type LogInMutation,
  WatchCommentsDocument,
  type WatchCommentsSubscription,
  type WatchCommentsSubscriptionVariables,
} from './generated/graphql';

export const browse: TypedDocumentNode<BrowseArticlesQuery, BrowseArticlesQueryVariables> =
  BrowseArticlesDocument;

export function titles(result: BrowseArticlesQuery): string[] {
  return result.articles.nodes.map((article) => article.title);
}

export function authors(result: BrowseArticlesQuery): Array<string | null | undefined> {
  return result.articles.nodes.map((article) => article.author.image);
}

export function token(result: LogInMutation): string {
  return result.login.accessToken;
}

export const watchVariables: WatchCommentsSubscriptionVariables = { articleId: 'QXJ0aWNsZTox' };

// @ts-expect-error articleId is required
export const missingVariables: WatchCommentsSubscriptionVariables = {};

export function body(event: WatchCommentsSubscription): string {
  return event.commentAdded.body;
}

export const documents = [LogInDocument, WatchCommentsDocument];
