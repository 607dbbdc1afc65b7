// Tinybird's TypeScript SDK (@tinybirdco/sdk), unmodified, against lakegate: only baseUrl and token change.
// Run by tests/e2e/test_tinybird_ts_sdk.py with API, TOKEN and SUFFIX set; prints one JSON object: what
// each call returned or threw, and every request the SDK made (through its own `fetch` option).
import {
  Tinybird,
  TinybirdClient,
  createTinybirdApi,
  defineDatasource,
  engine,
  getColumnJsonPath,
  getColumnType,
  getSortingKey,
  getTinybirdType,
  t,
} from "@tinybirdco/sdk";

const { API: baseUrl, TOKEN: token, SUFFIX: suffix } = process.env;
const requests = [];
const recording = async (url, init = {}) => {
  const headers = Object.fromEntries(new Headers(init.headers).entries());
  requests.push({ method: init.method ?? "GET", url, headers, body: init.body ?? null });
  return fetch(url, init);
};

// A data source as a Tinybird Forward project defines it, in TypeScript.
const pageViews = defineDatasource(`sdk_page_views_${suffix}`, {
  schema: {
    timestamp: t.dateTime(),
    at_ms: t.dateTime64(3),
    pathname: t.string(),
    action: t.string().lowCardinality(),
    session_id: t.string().nullable(),
    duration: t.int32(),
  },
  engine: engine.mergeTree({ sortingKey: ["action", "timestamp"] }),
});

// `tb deploy` creates it through Tinybird's deploy API, which lakegate does not serve: lakegate's
// Data Sources API takes the same columns, types and jsonpaths, built here by the SDK's own helpers.
function schemaOf(datasource) {
  return Object.entries(datasource._schema)
    .map(([name, column]) => {
      const type = getTinybirdType(getColumnType(column));
      return `\`${name}\` ${type} \`json:${getColumnJsonPath(column) ?? `$.${name}`}\``;
    })
    .join(", ");
}

async function call(what) {
  try {
    return { ok: await what() };
  } catch (error) {
    return { error: { name: error.name, message: error.message, status: error.statusCode ?? null } };
  }
}

const defined = await fetch(`${baseUrl}/v0/datasources`, {
  method: "POST",
  headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
  body: JSON.stringify({
    name: pageViews._name,
    schema: schemaOf(pageViews),
    engine_sorting_key: getSortingKey(pageViews.options.engine).join(", "),
  }),
});

const tinybird = new Tinybird({ datasources: { pageViews }, pipes: {}, baseUrl, token, fetch: recording });
const api = createTinybirdApi({ baseUrl, token, fetch: recording });
const client = new TinybirdClient({ baseUrl, token, fetch: recording });
const row = (n, extra = {}) => ({
  timestamp: "2026-12-01 03:11:10",
  at_ms: "2026-12-01 03:11:10.875",
  pathname: `/p${n}`,
  action: "view",
  session_id: `s${n}`,
  duration: n,
  ...extra,
});

const out = {
  schema: schemaOf(pageViews),
  defined: defined.status,
  // The typed client: ingest() waits for the write by default.
  typed: await call(() => tinybird.pageViews.ingest(row(1))),
  // A batch without waiting, a JS Date written as the SDK asks (a string), a null for the Nullable.
  batch: await call(() =>
    api.ingestBatch(
      pageViews._name,
      [row(2, { timestamp: new Date(Date.UTC(2026, 11, 1, 3, 11, 10, 875)).toISOString() }), row(3, { session_id: null })],
      { wait: false },
    ),
  ),
  // A value that does not fit is quarantined, as Tinybird does: counted, not an error.
  quarantined: await call(() => api.ingest(pageViews._name, row(4, { duration: "four" }))),
  // A data source the first rows define (inferred), through the untyped client.
  inferred: await call(() =>
    client.ingest(`sdk_inferred_${suffix}`, { city: "Lisbon", n: 1, at: "2026-12-01T03:11:10.875Z" }),
  ),
  // Errors reach the caller as TinybirdApiError, its message lakegate's `error`.
  reserved: await call(() => api.ingest(`${pageViews._name}_quarantine`, row(5))),
  badToken: await call(() => createTinybirdApi({ baseUrl, token: "not-a-token" }).ingest(pageViews._name, row(6))),
  emptyBatch: await call(() => api.ingestBatch(pageViews._name, [])),
  // What lakegate does not serve (it is an events gateway, not Tinybird's query side): clear refusals.
  unserved: {
    append: await call(() =>
      api.appendDatasource(pageViews._name, { url: "https://example.com/rows.ndjson" }),
    ),
    query: await call(() => api.query("top_pages", { limit: 1 })),
    sql: await call(() => api.sql("SELECT 1")),
    truncate: await call(() => api.truncateDatasource(pageViews._name)),
    delete: await call(() => api.deleteDatasource(pageViews._name, { deleteCondition: "duration = 1" })),
  },
  requests,
};
process.stdout.write(JSON.stringify(out));
