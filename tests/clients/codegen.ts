// Typed documents for the playground's operations, generated from the
// committed schema.graphql the way a frontend team would; `tsc --noEmit`
// then checks that they compile (codegen.test.mjs).
import type { CodegenConfig } from '@graphql-codegen/cli';

const config: CodegenConfig = {
  schema: '../../schema.graphql',
  documents: ['../../playground/operations/*.graphql'],
  generates: {
    'generated/': {
      preset: 'client',
      config: { scalars: { DateTime: 'string' }, enumsAsTypes: true },
    },
  },
  ignoreNoDocuments: false,
};

export default config;
