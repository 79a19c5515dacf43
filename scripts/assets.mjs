#!/usr/bin/env node
// Copies the parts of swagger-ui-dist that /docs loads, and @simplewebauthn/browser's bundle that
// the passkey forms load (public/passkey.js), into public/vendor/, which the Worker serves as static
// assets. Not committed: npm installs the pinned versions, and `npm run dev`, `npm test` and
// `npm run deploy` run this first (their pre-scripts), so a fresh clone needs nothing else.
import { copyFileSync, mkdirSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'

const require = createRequire(import.meta.url)
const from = dirname(require.resolve('swagger-ui-dist/package.json'))
const to = join(import.meta.dirname, '..', 'public', 'vendor', 'swagger-ui')

mkdirSync(to, { recursive: true })
for (const file of ['swagger-ui-bundle.js', 'swagger-ui.css', 'LICENSE', 'NOTICE'])
  copyFileSync(join(from, file), join(to, file))

// The UMD build sets window.SimpleWebAuthnBrowser: one file, no module graph to serve.
// Its package.json is not exported: from the entry point (script/index.js) up one folder.
const webauthn = dirname(dirname(require.resolve('@simplewebauthn/browser')))
const webauthnTo = join(import.meta.dirname, '..', 'public', 'vendor', 'simplewebauthn')
mkdirSync(webauthnTo, { recursive: true })
for (const file of ['dist/bundle/index.umd.min.js', 'LICENSE.md'])
  copyFileSync(join(webauthn, file), join(webauthnTo, file.split('/').at(-1)))
