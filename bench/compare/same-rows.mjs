#!/usr/bin/env node
// Checks that Folio and PostGraphile answer each comparison workload with the
// same rows, and prints the size of each server's response.
//
//   node bench/compare/same-rows.mjs [options] [FOLIO_URL] [POSTGRAPHILE_URL]
//
//   FOLIO_URL         default http://127.0.0.1:18190/graphql
//   POSTGRAPHILE_URL  default http://127.0.0.1:18191/graphql
//   --db URL          Postgres URL both servers use, for picking the targets
//                     and for the ground truth of the list pages
//                     (default postgres://postgres@127.0.0.1:5432/folio_bench)
//   --slug SLUG       article for `article` (default: by SQL, the published
//                     article with the most comments, as bench/run picks it)
//   --username NAME   user for `profile` (default: by SQL, the user with the
//                     most published articles, lowest id first; must have >= 20)
//   --page N          the deep page (default 50)
//   --write-variables write the variables used into bench/queries/
//   --variables-dir DIR  ... or into DIR (bench/compare/run uses a scratch copy)
//   --mutation        also run add_comment once on each server and check the
//                     rows by SQL. WRITES to the database: refused when the
//                     database is folio_bench (use a scratch database).
//   --quiet           only the summary table
//
// Runs with Node 18+ (global fetch): the system node or Node 22 from
// bench/compare/node_modules. Needs psql on PATH. Read-only unless --mutation.
// Exit status 0 when every workload matches.
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const queriesDir = join(here, "..", "queries");

// ---------------------------------------------------------------- arguments
const args = process.argv.slice(2);
const opts = {
  db: "postgres://postgres@127.0.0.1:5432/folio_bench",
  page: 50,
  perPage: 20,
};
const positional = [];
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  const value = () => {
    if (i + 1 >= args.length) throw new Error(`${a} needs a value`);
    return args[++i];
  };
  if (a === "--db") opts.db = value();
  else if (a === "--slug") opts.slug = value();
  else if (a === "--username") opts.username = value();
  else if (a === "--page") opts.page = Number(value());
  else if (a === "--write-variables") opts.writeVariables = true;
  else if (a === "--variables-dir") opts.variablesDir = value();
  else if (a === "--mutation") opts.mutation = true;
  else if (a === "--quiet") opts.quiet = true;
  else if (a === "-h" || a === "--help") {
    console.log(readFileSync(fileURLToPath(import.meta.url), "utf8").split("\nimport ")[0]);
    process.exit(0);
  } else if (a.startsWith("--")) throw new Error(`unknown option ${a}`);
  else positional.push(a);
}
const FOLIO = positional[0] ?? "http://127.0.0.1:18190/graphql";
const PGL = positional[1] ?? "http://127.0.0.1:18191/graphql";
const log = (...m) => {
  if (!opts.quiet) console.log(...m);
};

// ---------------------------------------------------------------- helpers
function sql(query) {
  return execFileSync("psql", ["-XAtq", "-d", opts.db, "-c", query], { encoding: "utf8" }).trim();
}
const sqlLiteral = (s) => `'${String(s).replaceAll("'", "''")}'`;

function query(workload, server) {
  return readFileSync(join(queriesDir, `${workload}.${server}.graphql`), "utf8");
}

/** POSTs a GraphQL request; returns { json, bytes, ms }. Throws on errors. */
async function gql(url, queryText, variables, headers = {}) {
  const started = performance.now();
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json", ...headers },
    body: JSON.stringify({ query: queryText, variables }),
  });
  const text = await res.text();
  const ms = performance.now() - started;
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`${url}: HTTP ${res.status}, not JSON: ${text.slice(0, 200)}`);
  }
  if (!res.ok || json.errors) {
    throw new Error(`${url}: HTTP ${res.status}: ${JSON.stringify(json.errors ?? json).slice(0, 500)}`);
  }
  return { json, bytes: Buffer.byteLength(text), ms };
}

/**
 * A timestamp as microseconds since the epoch, so that Folio's RFC 3339
 * ("2027-11-26T10:25:00+00:00") and PostGraphile's
 * ("2027-11-26T10:25:00.000000+00:00") compare equal when they are the same
 * instant.
 */
function instant(s) {
  if (s == null) return null;
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d(?::?\d\d)?)$/.exec(s);
  if (!m) throw new Error(`unrecognised timestamp ${JSON.stringify(s)}`);
  const ms = Date.parse(m[1] + (m[3].length === 3 ? m[3] + ":00" : m[3]));
  if (Number.isNaN(ms)) throw new Error(`unparseable timestamp ${JSON.stringify(s)}`);
  const micros = BigInt(ms) * 1000n + BigInt((m[2] ?? "").padEnd(6, "0").slice(0, 6));
  return micros.toString();
}

/** The first difference between two normalized values, or null. */
function diff(a, b, path = "$") {
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b)) return `${path}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`;
    if (a.length !== b.length) return `${path}: length ${a.length} vs ${b.length}`;
    for (let i = 0; i < a.length; i++) {
      const d = diff(a[i], b[i], `${path}[${i}]`);
      if (d) return d;
    }
    return null;
  }
  if (a && b && typeof a === "object" && typeof b === "object") {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const k of keys) {
      const d = diff(a[k], b[k], `${path}.${k}`);
      if (d) return d;
    }
    return null;
  }
  return a === b ? null : `${path}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`;
}

// ------------------------------------------------------- normalized shapes
// Tags are compared as sets: Folio returns them in the author's order
// (article_tags.position), PostGraphile in the join table's primary-key
// order (article_id, tag_id), as `position` has no index to order by.
const folioListNode = (n) => ({
  slug: n.slug,
  title: n.title,
  description: n.description,
  publishedAt: instant(n.publishedAt),
  author: n.author.username,
  tags: [...n.tags].sort(),
  favorites: n.favoritesCount,
});
const pglListNode = (n) => ({
  slug: n.slug,
  title: n.title,
  description: n.description,
  publishedAt: instant(n.publishedAt),
  author: n.userByAuthorId.username,
  tags: n.articleTagsByArticleId.nodes.map((t) => t.tagByTagId.name).sort(),
  favorites: n.favoritesCount,
});
const normalize = {
  list: {
    folio: (d) => ({
      rows: d.articles.nodes.map(folioListNode),
      hasNextPage: d.articles.pageInfo.hasNextPage,
    }),
    postgraphile: (d) => ({
      rows: d.allArticles.nodes.map(pglListNode),
      hasNextPage: d.allArticles.pageInfo.hasNextPage,
    }),
  },
  article: {
    folio: (d) => {
      const a = d.article;
      if (!a) return null;
      return {
        slug: a.slug,
        title: a.title,
        body: a.body,
        publishedAt: instant(a.publishedAt),
        author: a.author.username,
        comments: a.comments.nodes.map((c) => ({
          body: c.body,
          createdAt: instant(c.createdAt),
          author: c.author.username,
        })),
      };
    },
    postgraphile: (d) => {
      const a = d.allArticles.nodes[0];
      if (!a) return null;
      return {
        slug: a.slug,
        title: a.title,
        body: a.body,
        publishedAt: instant(a.publishedAt),
        author: a.userByAuthorId.username,
        comments: a.commentsByArticleId.nodes.map((c) => ({
          body: c.body,
          createdAt: instant(c.createdAt),
          author: c.userByAuthorId.username,
        })),
      };
    },
  },
  profile: {
    folio: (d) => {
      const u = d.user;
      if (!u) return null;
      return {
        username: u.username,
        bio: u.bio,
        image: u.image,
        articles: u.articles.nodes.map((a) => ({
          title: a.title,
          slug: a.slug,
          publishedAt: instant(a.publishedAt),
        })),
      };
    },
    postgraphile: (d) => {
      const u = d.allUsers.nodes[0];
      if (!u) return null;
      return {
        username: u.username,
        bio: u.bio,
        image: u.image,
        articles: u.articlesByAuthorId.nodes.map((a) => ({
          title: a.title,
          slug: a.slug,
          publishedAt: instant(a.publishedAt),
        })),
      };
    },
  },
  typename: {
    folio: (d) => d.__typename,
    postgraphile: (d) => d.__typename,
  },
};
normalize.deep_page = normalize.list;
const endCursor = {
  folio: (d) => d.articles.pageInfo.endCursor,
  postgraphile: (d) => d.allArticles.pageInfo.endCursor,
};

// ---------------------------------------------------------------- targets
const slug =
  opts.slug ??
  sql(`SELECT a.slug FROM articles a JOIN comments c ON c.article_id = a.id
       WHERE a.status = 'PUBLISHED' AND c.body <> 'Benchmarked!'
       GROUP BY a.id ORDER BY COUNT(*) DESC, a.id LIMIT 1`);
const username =
  opts.username ??
  sql(`SELECT u.username FROM users u JOIN articles a ON a.author_id = u.id
       WHERE a.status = 'PUBLISHED'
       GROUP BY u.id HAVING COUNT(*) >= 20 ORDER BY COUNT(*) DESC, u.id LIMIT 1`);
if (!slug) throw new Error("no published article with comments in the database");
if (!username) throw new Error("no user with at least 20 published articles in the database");
const commentCount = sql(
  `SELECT COUNT(*) FROM comments c JOIN articles a ON a.id = c.article_id WHERE a.slug = ${sqlLiteral(slug)}`,
);
const publishedCount = sql(
  `SELECT COUNT(*) FROM articles a JOIN users u ON u.id = a.author_id
   WHERE u.username = ${sqlLiteral(username)} AND a.status = 'PUBLISHED'`,
);
log(`Folio:        ${FOLIO}`);
log(`PostGraphile: ${PGL}`);
log(`database:     ${opts.db.replace(/\/\/[^@/]*@/, "//…@")}`);
log(`article:      ${slug} (${commentCount} comments)`);
log(`profile:      ${username} (${publishedCount} published articles)`);
log("");

// ---------------------------------------------------------------- run
const results = [];
const variablesUsed = {};

async function compare(workload, variables) {
  const out = { workload };
  try {
    const folioVars = variables?.folio ?? variables;
    const pglVars = variables?.postgraphile ?? variables;
    const f = await gql(FOLIO, query(workload, "folio"), folioVars);
    const p = await gql(PGL, query(workload, "postgraphile"), pglVars);
    out.folioBytes = f.bytes;
    out.pglBytes = p.bytes;
    const a = normalize[workload].folio(f.json.data);
    const b = normalize[workload].postgraphile(p.json.data);
    if (a == null || b == null) throw new Error(`no result: folio ${a == null ? "null" : "ok"}, postgraphile ${b == null ? "null" : "ok"}`);
    const d = diff(a, b);
    out.rows = Array.isArray(a?.rows)
      ? a.rows.length
      : Array.isArray(a?.comments)
        ? a.comments.length
        : Array.isArray(a?.articles)
          ? a.articles.length
          : 1;
    out.ok = d == null;
    out.detail = d;
    out.folio = f;
    out.pgl = p;
    out.normalized = a;
  } catch (e) {
    out.ok = false;
    out.detail = e.message;
  }
  results.push(out);
  return out;
}

// (a) list, then compared with the database itself.
const groundTruth = (offset) =>
  sql(`SELECT string_agg(slug, ',' ORDER BY published_at DESC, id DESC) FROM (
         SELECT slug, published_at, id FROM articles WHERE status = 'PUBLISHED'
         ORDER BY published_at DESC, id DESC OFFSET ${offset} LIMIT ${opts.perPage}) t`).split(",");
{
  const r = await compare("list", {});
  if (r.ok) {
    const d = diff(r.normalized.rows.map((x) => x.slug), groundTruth(0), "slugs");
    if (d) Object.assign(r, { ok: false, detail: `differs from SQL: ${d}` });
  }
}

// (b) article and (c) profile.
variablesUsed.article = { slug };
await compare("article", { slug });
variablesUsed.profile = { username };
await compare("profile", { username });

// (d) deep_page: walk each server's cursors to the `after` of page N.
{
  const after = {};
  let walkError = null;
  for (const server of ["folio", "postgraphile"]) {
    const url = server === "folio" ? FOLIO : PGL;
    try {
      let page = await gql(url, query("list", server), {});
      for (let n = 2; n < opts.page; n++) {
        const data = page.json.data;
        if (!(data.articles ?? data.allArticles).pageInfo.hasNextPage) {
          throw new Error(`only ${n - 1} pages of ${opts.perPage}: use a smaller --page`);
        }
        page = await gql(url, query("deep_page", server), { after: endCursor[server](data) });
      }
      after[server] = endCursor[server](page.json.data);
    } catch (e) {
      walkError = `walking ${server}'s cursors: ${e.message}`;
    }
  }
  if (walkError) {
    results.push({ workload: "deep_page", ok: false, detail: walkError });
  } else {
    variablesUsed.deep_page = { folio: { after: after.folio }, postgraphile: { after: after.postgraphile } };
    const r = await compare("deep_page", variablesUsed.deep_page);
    r.workload = `deep_page (page ${opts.page})`;
    if (r.ok) {
      const d = diff(r.normalized.rows.map((x) => x.slug), groundTruth((opts.page - 1) * opts.perPage), "slugs");
      if (d) Object.assign(r, { ok: false, detail: `differs from SQL OFFSET: ${d}` });
    }
  }
}

// (f) typename.
await compare("typename", {});

// (e) add_comment: the variables (by SQL, read-only) always; the mutation
// itself only with --mutation, on a scratch database. As in bench/run, the
// comment goes to the oldest published article (not the one `article` reads),
// written as user3 (Folio: user3's token; PostGraphile: authorId = user3's id).
{
  const articleId = sql(`SELECT id FROM articles WHERE status = 'PUBLISHED' ORDER BY id LIMIT 1`);
  const authorId = sql(`SELECT id FROM users WHERE username = 'user3'`);
  const globalId = Buffer.from(`Article:${articleId}`).toString("base64url");
  if (articleId && authorId) {
    variablesUsed.add_comment = {
      folio: { articleId: globalId, body: "Benchmarked!" },
      postgraphile: { articleId, authorId, body: "Benchmarked!", now: "2026-11-27T00:00:00Z" },
    };
  }
  if (opts.mutation) {
    const dbName = new URL(opts.db).pathname.slice(1);
    const out = { workload: "add_comment" };
    results.push(out);
    try {
      if (dbName === "folio_bench") throw new Error("refused: --mutation writes; use a scratch database, not folio_bench");
      if (!articleId || !authorId) throw new Error("no published article or no user3");
      const login = await gql(
        FOLIO,
        `mutation { login(input: {email: "user3@example.com", password: "correct horse battery staple"}) { accessToken } }`,
        {},
      );
      const token = login.json.data.login.accessToken;
      const body = `same-rows check ${Date.now()}`;
      const f = await gql(FOLIO, query("add_comment", "folio"), { articleId: globalId, body }, {
        authorization: `Bearer ${token}`,
      });
      const p = await gql(PGL, query("add_comment", "postgraphile"), {
        articleId,
        authorId,
        body,
        now: new Date().toISOString(),
      });
      out.folioBytes = f.bytes;
      out.pglBytes = p.bytes;
      const rows = sql(
        `SELECT article_id || ':' || author_id || ':' || body FROM comments WHERE body = ${sqlLiteral(body)} ORDER BY id`,
      ).split("\n");
      const expected = `${articleId}:${authorId}:${body}`;
      out.rows = rows.length;
      out.ok =
        rows.length === 2 &&
        rows.every((r) => r === expected) &&
        Boolean(f.json.data.addComment?.id) &&
        Boolean(p.json.data.createComment?.comment?.id);
      out.detail = out.ok ? "one comment each, same article/author/body (by SQL)" : `rows by SQL: ${JSON.stringify(rows)}`;
      out.folio = f;
      out.pgl = p;
    } catch (e) {
      out.ok = false;
      out.detail = e.message;
    }
  }
}

// ---------------------------------------------------------------- report
for (const r of results) {
  if (!opts.quiet && r.folio && r.pgl) {
    log(`== ${r.workload}`);
    log(`   Folio        ${r.folioBytes} bytes: ${JSON.stringify(r.folio.json).slice(0, 160)}…`);
    log(`   PostGraphile ${r.pglBytes} bytes: ${JSON.stringify(r.pgl.json).slice(0, 160)}…`);
  }
}
log("");
console.log("| workload | result | rows | Folio bytes | PostGraphile bytes | detail |");
console.log("|---|---|---|---|---|---|");
for (const r of results) {
  console.log(
    `| ${r.workload} | ${r.ok ? "PASS" : "FAIL"} | ${r.rows ?? ""} | ${r.folioBytes ?? ""} | ${r.pglBytes ?? ""} | ${r.detail ?? ""} |`,
  );
}

if (opts.writeVariables) {
  const write = (name, value) => {
    const dir = opts.variablesDir ?? queriesDir;
    writeFileSync(join(dir, name), JSON.stringify(value, null, 2) + "\n");
    log(`wrote ${join(dir, name)}`);
  };
  for (const [workload, v] of Object.entries(variablesUsed)) {
    if (v.folio) {
      write(`${workload}.folio.variables.json`, v.folio);
      write(`${workload}.postgraphile.variables.json`, v.postgraphile);
    } else {
      write(`${workload}.variables.json`, v);
    }
  }
}

process.exit(results.every((r) => r.ok) ? 0 : 1);
