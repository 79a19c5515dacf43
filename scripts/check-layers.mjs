#!/usr/bin/env node
// Part of `npm run lint`: the layering of docs/architecture.md, checked. Imports run one way,
// from the Worker's entry down to lib/; nothing cycles, type imports included; Hono stays out of
// the layers below http/; SQL is written only in db/. A file's layer is its top folder's under
// src/ (or the file itself for the few at the top).
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, normalize, relative } from 'node:path'

const LAYERS = {
  lib: 0,
  'config.ts': 0,
  domain: 1,
  db: 2,
  http: 3,
  auth: 4,
  oauth: 5,
  federation: 6,
  api: 6,
  account: 6,
  mcp: 6,
  'app.ts': 7,
  'index.ts': 8,
}
const BELOW_HTTP = LAYERS.http

const files = readdirSync('src', { recursive: true, withFileTypes: true })
  .filter((entry) => entry.isFile() && /\.tsx?$/.test(entry.name))
  .map((entry) => relative('src', join(entry.parentPath, entry.name)))
  .sort()
const known = new Set(files)
const text = new Map(files.map((f) => [f, readFileSync(join('src', f), 'utf8')]))
const layerOf = (file) => LAYERS[file.split('/')[0]]

/** The project files `file` imports, values and types alike, as paths relative to src/. */
function importsOf(file) {
  return [...text.get(file).matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)].map(
    ([, spec]) => {
      const base = normalize(join(dirname(file), spec))
      return [`${base}.ts`, `${base}.tsx`, base].find((f) => known.has(f)) ?? `${base} (missing)`
    },
  )
}
const graph = new Map(files.map((f) => [f, importsOf(f)]))

const problems = []
for (const file of files) {
  const layer = layerOf(file)
  if (layer === undefined) problems.push(`${file}: in no layer (add its folder to LAYERS)`)
  for (const dep of graph.get(file)) {
    if (layerOf(dep) > layer) problems.push(`${file} imports ${dep}, a layer above it`)
  }
  if (layer < BELOW_HTTP && /from 'hono(\/(?!utils\/)[^']*)?'/.test(text.get(file)))
    problems.push(`${file}: Hono below http/ (only hono/utils/ is allowed there)`)
  if (!file.startsWith('db/') && /\.prepare\(\s*([`'"]|[A-Z_]{3,})/.test(text.get(file)))
    problems.push(`${file}: SQL outside db/`)
}

// Depth-first search for cycles; each is reported once, from where the search entered it.
const state = new Map()
function visit(file, path) {
  if (state.get(file) === 'done') return
  if (state.get(file) === 'open') {
    problems.push(`import cycle: ${[...path.slice(path.indexOf(file)), file].join(' -> ')}`)
    return
  }
  state.set(file, 'open')
  for (const dep of graph.get(file) ?? []) visit(dep, [...path, file])
  state.set(file, 'done')
}
for (const file of files) visit(file, [])

if (problems.length > 0) {
  console.error(`${problems.length} layering problem(s) in src/:\n${problems.join('\n')}`)
  process.exitCode = 1
}
