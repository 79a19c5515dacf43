#!/usr/bin/env node
// Part of `npm run lint`: no line of src/ over 100 characters, comments and strings included.
// Biome's formatter wraps code at 100 columns but leaves long comments, strings and template
// literals alone, so this check covers what it cannot. Characters are counted as code points.
// src/domain/common-passwords.ts is data (one password a line), as in biome.json.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

const WIDTH = 100
const ROOT = 'src'
const EXCLUDED = new Set(['src/domain/common-passwords.ts'])

const files = readdirSync(ROOT, { recursive: true, withFileTypes: true })
  .filter((entry) => entry.isFile())
  .map((entry) => join(entry.parentPath, entry.name))
  .filter((path) => !EXCLUDED.has(path))
  .sort()

const long = files.flatMap((path) =>
  readFileSync(path, 'utf8')
    .split('\n')
    .flatMap((line, i) => {
      const width = [...line].length
      return width > WIDTH ? [`${path}:${i + 1}: ${width} characters`] : []
    }),
)

if (long.length > 0) {
  console.error(`${long.length} line(s) of ${ROOT}/ over ${WIDTH} characters:\n${long.join('\n')}`)
  process.exitCode = 1
}
