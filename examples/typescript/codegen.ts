// GraphQL Code Generator: types for examples/plan.graphql from the gateway's committed SDL.
import type { CodegenConfig } from "@graphql-codegen/cli";

const config: CodegenConfig = {
  schema: "../../schema/minplan.graphql",
  documents: ["../plan.graphql"],
  ignoreNoDocuments: false,
  generates: {
    "src/gql/": {
      preset: "client",
      presetConfig: {
        // Fragments spread into the query's own types, read as plain fields.
        fragmentMasking: false,
      },
      config: {
        // Date and DateTime (@specifiedBy RFC 3339) travel as ISO 8601 strings; without a
        // mapping they would be `unknown`. Parse them where they are shown.
        scalars: {
          Date: { input: "string", output: "string" },
          DateTime: { input: "string", output: "string" },
        },
        strictScalars: true,
        enumsAsTypes: true,
        useTypeImports: true,
        // Imports with ".js", as Node's ES modules (tsconfig "NodeNext") need them.
        emitLegacyCommonJSImports: false,
      },
    },
  },
};

export default config;
