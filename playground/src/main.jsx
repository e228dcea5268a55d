import 'graphiql/setup-workers/vite';
import 'graphiql/style.css';
import { createRoot } from 'react-dom/client';
import { GraphiQL } from 'graphiql';
import { createGraphiQLFetcher } from '@graphiql/toolkit';
import { examples, examplesPlugin } from './examples.jsx';

// Same origin as the page: queries over HTTP, subscriptions over WebSocket.
// Headers typed in the headers editor go with both (for the socket, in the
// `connection_init` payload, where Folio reads `Authorization`).
const origin = window.location;
const fetcher = createGraphiQLFetcher({
  url: `${origin.origin}/graphql`,
  subscriptionUrl: `${origin.protocol === 'https:' ? 'wss' : 'ws'}://${origin.host}/graphql/ws`,
  enableIncrementalDelivery: false,
});

const welcome = examples.find((example) => example.name === 'browse-articles');

createRoot(document.getElementById('root')).render(
  <GraphiQL
    fetcher={fetcher}
    defaultQuery={welcome ? welcome.query : '{ articles(first: 5) { nodes { title } } }'}
    plugins={[examplesPlugin]}
    visiblePlugin={examplesPlugin}
    isHeadersEditorEnabled
    shouldPersistHeaders
  />,
);
