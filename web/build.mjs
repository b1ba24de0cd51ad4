// Builds web/dist: bundles the ES modules and the stylesheet with esbuild (content-hashed names)
// and writes the HTML pages with the hashed asset paths. Usage: node build.mjs [--dev]
import * as esbuild from "esbuild";
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = dirname(fileURLToPath(import.meta.url));
const SRC = join(ROOT, "src");
const DIST = join(ROOT, "dist");
const ASSETS = join(DIST, "assets");
const dev = process.argv.includes("--dev");

const entryPoints = {
  "index-page": join(SRC, "index-page.js"),
  "exercise-page": join(SRC, "exercise-page.js"),
  "lti-page": join(SRC, "lti-page.js"),
  "preview-panel": join(SRC, "preview-panel.js"),
  "preview-index": join(SRC, "preview-index.js"),
  styles: join(SRC, "styles", "main.css"),
};

/** Maps "index-page.js" / "styles.css" to their hashed public paths. */
function assetMap(metafile) {
  const map = {};
  for (const [output, info] of Object.entries(metafile.outputs)) {
    if (!info.entryPoint || output.endsWith(".map")) continue;
    const name = Object.keys(entryPoints).find((key) => join(ROOT, info.entryPoint) === entryPoints[key]);
    if (!name) continue;
    const ext = output.endsWith(".css") ? ".css" : ".js";
    map[name + ext] = "/" + relative(DIST, join(ROOT, output)).split("\\").join("/");
  }
  return map;
}

// A strict CSP (script-src 'self'; style-src 'self') forbids these in the pages.
const FORBIDDEN = [
  [/<script(?![^>]*\bsrc=)[^>]*>/i, "inline <script>"],
  [/<style[\s>]/i, "<style> element"],
  [/\sstyle=/i, "style attribute"],
  [/\son[a-z]+=/i, "inline event handler"],
];

function writePage(file, assets) {
  let html = readFileSync(join(SRC, "pages", file), "utf8");
  html = html.replace(/\{\{asset:([\w.-]+)\}\}/g, (whole, name) => {
    if (!(name in assets)) throw new Error(`${file}: unknown asset ${name}`);
    return assets[name];
  });
  for (const [pattern, what] of FORBIDDEN) {
    if (pattern.test(html)) throw new Error(`${file}: ${what} is not allowed (CSP)`);
  }
  writeFileSync(join(DIST, file), html);
}

async function main() {
  rmSync(DIST, { recursive: true, force: true });
  mkdirSync(ASSETS, { recursive: true });
  const result = await esbuild.build({
    entryPoints,
    outdir: ASSETS,
    entryNames: "[name]-[hash]",
    chunkNames: "chunks/[name]-[hash]",
    bundle: true,
    splitting: true,
    format: "esm",
    target: ["es2020", "chrome100", "firefox100", "safari15"],
    minify: !dev,
    sourcemap: "linked",
    legalComments: "linked",
    metafile: true,
    charset: "utf8",
    logLevel: "warning",
  });
  const assets = assetMap(result.metafile);
  for (const file of readdirSync(join(SRC, "pages"))) {
    if (file.endsWith(".html")) writePage(file, assets);
  }
  const publicDir = join(ROOT, "public");
  if (existsSync(publicDir)) cpSync(publicDir, ASSETS, { recursive: true });
  writeFileSync(join(DIST, "manifest.json"), JSON.stringify(assets, null, 2) + "\n");
  console.log(`web: built ${Object.keys(assets).length} entries into ${relative(process.cwd(), DIST) || "."}`);
}

main().catch((error) => {
  console.error(error.message || error);
  process.exit(1);
});
