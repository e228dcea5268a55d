// PostGraphile v5 on Folio's database, set up the way one would run it in
// production, for the Folio-vs-PostGraphile comparison (see README.md).
//
// Started by ./postgraphile.sh, which sets the environment read here:
//   PGL_DATABASE_URL  Postgres URL (required)
//   PGL_PORT          HTTP port (default 18191)
//   PGL_HOST          bind address (default 127.0.0.1)
//   PGL_POOL          pg pool size (default 16, Folio's bench pool)
//   PGL_OUTPUT_DATA_AS_STRING=1  grafast's string-output optimization (off by
//                     default; off is PostGraphile's default too)
//
// Do NOT pass --connection/-c to the CLI together with this file: the CLI
// then rebuilds pgServices from `adaptorSettings.poolConfig`, which
// makePgService does not keep, so the pool silently falls back to pg's
// default of 10 connections.
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";
import { makePgService } from "postgraphile/adaptors/pg";

const connectionString = process.env.PGL_DATABASE_URL;
if (!connectionString) {
  throw new Error("PGL_DATABASE_URL is not set (use ./postgraphile.sh)");
}

/** @type {GraphileConfig.Preset} */
const preset = {
  // The plain amber preset: no connection-filter, no simplify-inflection,
  // no JWT. Every workload is expressible with amber's `condition:` and
  // `orderBy:` arguments.
  extends: [PostGraphileAmberPreset],
  pgServices: [
    makePgService({
      connectionString,
      schemas: ["public"],
      // Same size as Folio's pool in bench/run (FOLIO_DB_MAX_CONNECTIONS=16).
      poolConfig: { max: Number(process.env.PGL_POOL ?? 16) },
      // No subscriptions in this comparison: no LISTEN/NOTIFY client.
      pubsub: false,
    }),
  ],
  grafserv: {
    host: process.env.PGL_HOST ?? "127.0.0.1",
    port: Number(process.env.PGL_PORT ?? 18191),
    graphqlPath: "/graphql",
    // Production: no Ruru/GraphiQL (neither at / nor on GET /graphql), no
    // schema watching, POST only, no websockets.
    graphiql: false,
    graphiqlOnGraphQLGET: false,
    watch: false,
    graphqlOverGET: false,
    websockets: false,
    // Folio refuses bodies over its limit too; 100 kB is grafserv's default.
    maxRequestLength: 100_000,
    outputDataAsString: process.env.PGL_OUTPUT_DATA_AS_STRING === "1",
  },
  grafast: {
    // Never attach plans/SQL to responses.
    explain: false,
  },
};

export default preset;
