// Tinybird's web analytics tracker (@tinybirdco/flock.js, its published dist/index.js, unmodified) in a real
// headless Chromium (CHROMIUM, Debian's package) driven by playwright-core: a page on an origin of its own
// embeds the <script> tag of Tinybird's docs, and the browser does the rest (flock's page hit, the CORS
// preflight, the POST) against API. Run by tests/e2e/test_flock_browser.py with API, TOKEN, DATASOURCE and
// CHROMIUM set; prints one JSON object: for each of two page views (the site at 127.0.0.1, then by a name
// over plain http) what the page saw, what the browser sent and was answered, and every console message,
// page error and failed request.
import { createServer } from "node:http";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

const { API: host, TOKEN: token, DATASOURCE: datasource, CHROMIUM: executablePath } = process.env;
const ANSWER_MS = 20_000; // the local server's instances start cold: the first requests take seconds
const flock = readFileSync(createRequire(import.meta.url).resolve("@tinybirdco/flock.js"), "utf8");

// Two origins besides the API's: the site, and a CDN serving the pinned package as unpkg serves its `main`
// (dist/index.js). Playwright's request routing is not used to serve it: while any route is set, Playwright
// answers every CORS preflight itself, allowing all, and the API would never see one.
async function serve(handler) {
  const server = createServer(handler);
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, origin: `http://127.0.0.1:${server.address().port}` };
}
const cdn = await serve((request, response) => {
  response.writeHead(200, { "Content-Type": "application/javascript; charset=utf-8" });
  response.end(flock);
});
const script = `${cdn.origin}/@tinybirdco/flock.js`;

// The docs' embed (in <head>, deferred), with the host, an append token and the data source; the icon link
// keeps the browser from asking the site for a favicon.
const html = `<!doctype html>
<html lang="pt">
<head>
<meta charset="utf-8">
<title>Product 42</title>
<link rel="icon" href="data:,">
<script
  defer
  src="${script}"
  data-host="${host}"
  data-token="${token}"
  data-datasource="${datasource}"
></script>
</head>
<body><h1>Product 42</h1></body>
</html>`;

// The site: another port, so another origin than the API's, and the browser must ask before it POSTs.
const site = await serve((request, response) => {
  response.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
  response.end(html);
});
// The same site by a name, as on the web over plain http: not a secure context, unlike 127.0.0.1.
const PLAIN_HOST = "shop.example";

const lower = (headers) => Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));

// One page view in a fresh browser context (no cookies yet): what the page, the console and the network saw. flock's page hit
// leaves 300 ms after its script runs; a request the browser refuses has no response.
async function visit(browser, origin) {
  const seen = { origin, console: [], pageErrors: [], failed: [], requests: [], preflights: [], posts: [] };
  const context = await browser.newContext({ locale: "pt-PT", timezoneId: "Europe/Lisbon" });
  const page = await context.newPage();
  page.on("console", (m) => seen.console.push({ type: m.type(), text: m.text() }));
  page.on("pageerror", (e) => seen.pageErrors.push(String(e)));
  page.on("requestfailed", (r) => seen.failed.push({ url: r.url(), error: r.failure()?.errorText }));
  page.on("request", (r) => seen.requests.push({ method: r.method(), url: r.url() }));

  // Playwright reports no preflight (Chromium's network service sends it); the DevTools protocol does.
  const cdp = await context.newCDPSession(page);
  const preflights = new Map();
  cdp.on("Network.requestWillBeSent", ({ requestId, request }) => {
    if (request.method === "OPTIONS") preflights.set(requestId, { url: request.url, headers: lower(request.headers) });
  });
  cdp.on("Network.responseReceived", ({ requestId, type, response }) => {
    if (type === "Preflight") Object.assign(preflights.get(requestId) ?? {}, { status: response.status, answer: lower(response.headers) });
  });
  await cdp.send("Network.enable");

  const posting = page.waitForRequest((r) => r.method() === "POST", { timeout: ANSWER_MS });
  await page.goto(`${origin}/products/42?utm_source=newsletter`, { referer: "https://www.google.com/" });
  const post = await posting;
  const answer = await post.response();
  seen.posts.push({
    url: post.url(),
    headers: await post.allHeaders(),
    body: post.postData(),
    status: answer?.status() ?? null,
    answerHeaders: answer ? await answer.allHeaders() : null,
    answer: answer ? await answer.text() : null,
  });
  seen.preflights = [...preflights.values()];
  seen.page = await page.evaluate(() => ({
    href: location.href,
    webdriver: navigator.webdriver,
    userAgent: navigator.userAgent,
    cookie: document.cookie,
  }));
  await context.close();
  return seen;
}

// flock sends nothing when navigator.webdriver is true (its bot filter), and a browser an automation tool
// launches says it is: the first switch keeps it false, as in a person's browser. The second resolves
// PLAIN_HOST to this machine, and nothing else.
const browser = await chromium.launch({
  executablePath,
  args: ["--disable-blink-features=AutomationControlled", `--host-resolver-rules=MAP ${PLAIN_HOST} 127.0.0.1`],
});
const out = { script };
try {
  out.local = await visit(browser, site.origin);
  out.plainHttp = await visit(browser, site.origin.replace("127.0.0.1", PLAIN_HOST));
} finally {
  await browser.close();
  site.server.close();
  cdn.server.close();
}
process.stdout.write(JSON.stringify(out));
