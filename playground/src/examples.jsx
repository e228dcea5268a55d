import { useGraphiQL } from '@graphiql/react';

// The tour in playground/operations, bundled at build time.
const files = import.meta.glob('../operations/*.graphql', {
  query: '?raw',
  import: 'default',
  eager: true,
});

export const examples = Object.entries(files)
  .map(([path, query]) => ({
    name: path.replace(/^.*\//, '').replace(/\.graphql$/, ''),
    query,
    // The leading comment says what the operation shows.
    summary: (query.match(/^(#.*\n)+/) || [''])[0].replace(/^#\s?/gm, '').trim(),
  }))
  .sort((a, b) => a.name.localeCompare(b.name));

function ExamplesList() {
  const queryEditor = useGraphiQL((state) => state.queryEditor);
  const variableEditor = useGraphiQL((state) => state.variableEditor);
  return (
    <section aria-label="Example operations">
      <div className="graphiql-doc-explorer-title">Examples</div>
      <p>Open an example in the editor, then run it. Operations that need a user
        take the <code>accessToken</code> of <code>register</code> or
        <code> login</code> in the headers editor.</p>
      <ul style={{ listStyle: 'none', padding: 0 }}>
        {examples.map((example) => (
          <li key={example.name} style={{ marginBottom: '0.75em' }}>
            <button
              type="button"
              className="graphiql-un-styled"
              data-example={example.name}
              onClick={() => {
                queryEditor?.setValue(example.query);
                variableEditor?.setValue('');
              }}
            >
              <strong>{example.name}</strong>
            </button>
            <div style={{ opacity: 0.7 }}>{example.summary}</div>
          </li>
        ))}
      </ul>
    </section>
  );
}

function ExamplesIcon() {
  return (
    <svg viewBox="0 0 24 24" width="1em" height="1em" aria-hidden="true">
      <path fill="currentColor" d="M4 4h16v2H4zm0 7h16v2H4zm0 7h10v2H4z" />
    </svg>
  );
}

export const examplesPlugin = {
  title: 'Examples',
  icon: ExamplesIcon,
  content: ExamplesList,
};
