// Tinybird's web analytics tracker (@tinybirdco/flock.js, its published dist/index.js, unmodified) run in
// Node with a stand-in browser: a <script> tag's attributes, a cookie jar, a window, a navigator, and an
// XMLHttpRequest that sends what flock hands it the way a browser would (the CORS preflight its
// `Content-Type: application/json` calls for, then the POST with an Origin), through Node's fetch.
// Run by tests/e2e/test_flock.py with API, TOKEN and DATASOURCE set; prints one JSON object: each request
// as flock made it, the preflight's and the POST's answers, and whether a browser would let it through.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import vm from "node:vm";

const { API: host, TOKEN: token, DATASOURCE: datasource } = process.env;
const ORIGIN = "https://shop.example";
const source = readFileSync(createRequire(import.meta.url).resolve("@tinybirdco/flock.js"), "utf8");

// The <script defer src=".../flock.js" data-host data-token data-datasource tb_...> tag of the docs.
const attributes = [
  { name: "src", value: "https://unpkg.com/@tinybirdco/flock.js" },
  { name: "data-host", value: `${host}/` },
  { name: "data-token", value: token },
  { name: "data-datasource", value: datasource },
  { name: "tb_store", value: "lisbon" },
];

// document.cookie as a browser keeps it: writes set one cookie (attributes dropped), reads list them all.
const jar = new Map();
const document = {
  currentScript: {
    attributes,
    getAttribute: (name) => attributes.find((a) => a.name === name)?.value ?? null,
  },
  get cookie() {
    return [...jar].map(([k, v]) => `${k}=${v}`).join("; ");
  },
  set cookie(text) {
    const [pair] = text.split(";");
    const at = pair.indexOf("=");
    jar.set(pair.slice(0, at).trim(), pair.slice(at + 1));
  },
  referrer: "https://www.google.com/",
  visibilityState: "visible",
  addEventListener() {},
};

const sent = [];
function allowed(list, wanted) {
  const items = (list ?? "").split(",").map((s) => s.trim().toLowerCase());
  return items.includes("*") || items.includes(wanted.toLowerCase());
}

// What a browser does with flock's XHR: a preflight (application/json is not a "simple" type), then the
// request with the page's Origin; flock itself never reads the answer.
class XMLHttpRequest {
  open(method, url, async) {
    Object.assign(this, { method, url, async, headers: {} });
  }
  setRequestHeader(name, value) {
    this.headers[name] = value;
  }
  send(body) {
    const request = { method: this.method, url: this.url, async: this.async, headers: this.headers, body };
    sent.push(
      (async () => {
        const preflight = await fetch(this.url, {
          method: "OPTIONS",
          headers: {
            Origin: ORIGIN,
            "Access-Control-Request-Method": this.method,
            "Access-Control-Request-Headers": Object.keys(this.headers).join(",").toLowerCase(),
          },
        });
        const pre = Object.fromEntries(preflight.headers.entries());
        const preflightPasses =
          preflight.ok &&
          [ORIGIN, "*"].includes(pre["access-control-allow-origin"]) &&
          allowed(pre["access-control-allow-methods"], this.method) &&
          Object.keys(this.headers).every((h) => allowed(pre["access-control-allow-headers"], h));
        const answer = await fetch(this.url, {
          method: this.method,
          headers: { ...this.headers, Origin: ORIGIN },
          body,
        });
        const got = Object.fromEntries(answer.headers.entries());
        return {
          request,
          preflight: { status: preflight.status, headers: pre },
          status: answer.status,
          body: await answer.text(),
          browserAllows: preflightPasses && [ORIGIN, "*"].includes(got["access-control-allow-origin"]),
        };
      })(),
    );
  }
}

const window = {
  document,
  XMLHttpRequest,
  navigator: { userAgent: "Mozilla/5.0 (lakegate e2e)", languages: ["pt-PT", "en"], webdriver: false },
  location: { pathname: "/checkout", href: `${ORIGIN}/checkout?step=2` },
  history: { pushState() {} },
  addEventListener() {},
  crypto: globalThis.crypto,
  Intl,
  setTimeout,
  console,
};
window.window = window;
vm.createContext(window);
vm.runInContext(source, window, { filename: "flock.js" });

// flock sends its page_hit 300 ms after load; a custom event through its API, with a field it masks.
await new Promise((resolve) => setTimeout(resolve, 400));
await window.Tinybird.trackEvent("add_to_cart", { sku: "A-1", email: "ana@example.com", qty: 2 });
process.stdout.write(JSON.stringify({ origin: ORIGIN, cookies: Object.fromEntries(jar), hits: await Promise.all(sent) }));
