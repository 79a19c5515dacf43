// docs/walkthrough.md, executed: every `$ ` command of its ```console blocks runs, in order, in
// one bash process (so shell variables and functions carry over from block to block) against
// `npm run dev` on a fresh local D1, and what it prints is compared with what the page shows.
//
//   node --test test/e2e/walkthrough.test.mjs     (needs bash, curl, jq and openssl)
//
// The page is written against http://127.0.0.1:8787; here that origin becomes the test server's.
// What is compared (the rules are also tested below, without a server):
//
// - `HTTP/1.1 …` first: the status line exactly, then each header the page shows (by name, any
//   case; its value as for text below), then the body. Headers the page leaves out are not checked.
// - A body (or each line of one) that is JSON is compared as JSON: the same keys, the same array
//   lengths, fixed values equal. A bare `…` stands for any value; `…` as the last member of an
//   object or element of an array allows more of them.
// - Text, JSON strings and header values match exactly except for what varies from run to run:
//   `…` matches any text; UUIDs, JWTs (`eyJ….….…`), ISO 8601 times, D1 bookmarks, RFC 8628 user
//   codes (`WDJB-MJHT`), Unix times (10 digits) and random tokens (16 or more base64url characters
//   with a digit or a capital letter among them) shown on the page match any value of their kind.
// - A command the page shows no output for must print nothing; every command must exit 0.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { devServer } from './dev-server.mjs'

const ROOT = dirname(dirname(dirname(fileURLToPath(import.meta.url))))
const DOC = 'docs/walkthrough.md'
const DOC_PORT = '8787'
const PORT = 8799
const COMMAND_TIMEOUT_MS = 60_000

// ---------------------------------------------------------------------------------------------
// Reading the page

/**
 * The page's ```console blocks, each with the heading it sits under and its commands: the text
 * after `$ ` (with its `\`-continued lines) and the lines shown after it, up to the next `$ `.
 */
function parseConsoleBlocks(markdown) {
  const blocks = []
  let heading = ''
  let block = null
  let command = null
  let continued = false
  markdown.split('\n').forEach((line, i) => {
    if (!block) {
      if (/^#{1,6} /.test(line)) heading = line.replace(/^#+ /, '')
      else if (line.trim() === '```console') block = { heading, line: i + 1, commands: [] }
      return
    }
    if (line.trim() === '```') {
      blocks.push(block)
      block = command = null
      continued = false
    } else if (continued) {
      command.text += `\n${line}`
      continued = line.endsWith('\\')
    } else if (line.startsWith('$ ')) {
      command = { text: line.slice(2), expected: [], line: i + 1 }
      block.commands.push(command)
      continued = line.endsWith('\\')
    } else if (command) {
      command.expected.push(line)
    } else if (line.trim()) {
      throw new Error(`${DOC}:${i + 1}: output before any command in a console block`)
    }
  })
  if (block) throw new Error(`${DOC}: a console block from line ${block.line} is never closed`)
  return blocks
}

// ---------------------------------------------------------------------------------------------
// Comparing

const ELLIPSIS = '…'
/** What varies from run to run, as it appears on the page: each kind matches any of its kind. */
const VARIABLE = [
  ['jwt', /eyJ[\w-]*\.[\w-]+\.[\w-]+/, /eyJ[\w-]*\.[\w-]+\.[\w-]+/],
  ['bookmark', /\b[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{32}\b/, /[0-9a-f-]{59}/],
  ['uuid', /\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/, /[0-9a-f-]{36}/],
  ['time', /\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z/, /\d{4}-\d\d-\d\dT[\d:.]+Z/],
  ['user code', /\b[A-Z]{4}-[A-Z]{4}\b/, /[A-Z]{4}-[A-Z]{4}/],
  ['unix time', /\b\d{10}\b/, /\d{10}/],
  ['token', /(?<![\w-])(?=[\w-]*[A-Z0-9])[\w-]{16,}(?![\w-])/, /[\w-]+/],
]
const ANY = new RegExp(
  [...VARIABLE.map(([, shown]) => `(${shown.source})`), `(${ELLIPSIS})`].join('|'),
  'g',
)
const literal = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/** The page's text as a pattern: literal, but for `…` and the values that vary (above). */
function textPattern(shown) {
  let source = ''
  let last = 0
  for (const m of shown.matchAll(ANY)) {
    source += literal(shown.slice(last, m.index))
    const kind = m.slice(1).findIndex((g) => g !== undefined)
    source += kind === VARIABLE.length ? '.*?' : `(?:${VARIABLE[kind][2].source})`
    last = m.index + m[0].length
  }
  return new RegExp(`^${source}${literal(shown.slice(last))}$`, 's')
}

const textMatches = (shown, actual) => textPattern(shown).test(actual)

/** JSON as the page shows it, where a bare `…` is a value, or "more members / elements". */
function parseShownJson(text) {
  let out = ''
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]
    if (inString) {
      out += ch
      if (ch === '\\') out += text[++i] ?? ''
      else if (ch === '"') inString = false
    } else if (ch === '"') {
      inString = true
      out += ch
    } else out += ch === ELLIPSIS ? `"${ELLIPSIS}"` : ch
  }
  // `{…}` / `,…}`: a member with no value of its own.
  out = out.replace(/([{,]\s*)"…"(\s*})/g, '$1"…":"…"$2')
  return JSON.parse(out)
}

function tryJson(text, shown) {
  try {
    return { ok: true, value: shown ? parseShownJson(text) : JSON.parse(text) }
  } catch {
    return { ok: false }
  }
}

const kindOf = (v) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v)

/** Differences between JSON shown and JSON printed, as `path: why` lines (none: a match). */
function jsonDifferences(shown, actual, path = '$') {
  if (shown === ELLIPSIS) return []
  if (kindOf(shown) !== kindOf(actual))
    return [`${path}: a ${kindOf(shown)} is shown, got ${JSON.stringify(actual)}`]
  if (typeof shown === 'string')
    return textMatches(shown, actual) ? [] : [`${path}: ${JSON.stringify(shown)}, got ${actual}`]
  if (typeof shown === 'number') {
    const variable = Number.isInteger(shown) && String(shown).length === 10
    return variable || shown === actual ? [] : [`${path}: ${shown}, got ${actual}`]
  }
  if (Array.isArray(shown)) {
    const more = shown.at(-1) === ELLIPSIS
    const items = more ? shown.slice(0, -1) : shown
    if (more ? actual.length < items.length : actual.length !== items.length)
      return [`${path}: ${items.length}${more ? ' or more' : ''} elements, got ${actual.length}`]
    return items.flatMap((v, i) => jsonDifferences(v, actual[i], `${path}[${i}]`))
  }
  if (shown && typeof shown === 'object') {
    const more = ELLIPSIS in shown
    const keys = Object.keys(shown).filter((k) => k !== ELLIPSIS)
    const missing = keys.filter((k) => !(k in actual))
    const extra = more ? [] : Object.keys(actual).filter((k) => !(k in shown))
    if (missing.length || extra.length)
      return [
        `${path}: keys missing ${JSON.stringify(missing)}, unexpected ${JSON.stringify(extra)}`,
      ]
    return keys.flatMap((k) => jsonDifferences(shown[k], actual[k], `${path}.${k}`))
  }
  return shown === actual ? [] : [`${path}: ${JSON.stringify(shown)}, got ${actual}`]
}

/** One shown line (or body) against one printed: as JSON when both are, else as text. */
function lineDifferences(shown, actual) {
  const s = tryJson(shown, true)
  const a = tryJson(actual, false)
  if (s.ok && a.ok) return jsonDifferences(s.value, a.value)
  return textMatches(shown, actual) ? [] : [`shown ${shown}\n    got ${actual}`]
}

function bodyDifferences(shownLines, actualText) {
  const shown = shownLines.join('\n').trim()
  const actual = actualText.trim()
  const whole = [tryJson(shown, true), tryJson(actual, false)]
  if (shown && whole[0].ok && whole[1].ok) return jsonDifferences(whole[0].value, whole[1].value)
  const s = shown ? shown.split('\n').filter((l) => l.trim()) : []
  const a = actual ? actual.split('\n').filter((l) => l.trim()) : []
  if (s.length !== a.length)
    return [`${s.length} line(s) shown, ${a.length} printed:\n${actual || '(nothing)'}`]
  return s.flatMap((line, i) => lineDifferences(line, a[i]))
}

/** Splits `HTTP/1.1 200 OK`, headers, a blank line, the body; `status` is absent without one. */
function splitResponse(lines) {
  if (!/^HTTP\/\S+ \d{3}/.test(lines[0] ?? '')) return { headers: [], body: lines }
  const blank = lines.findIndex((l) => l.trim() === '')
  const end = blank < 0 ? lines.length : blank
  const headers = lines.slice(1, end).map((l) => {
    const at = l.indexOf(':')
    return [l.slice(0, at).trim().toLowerCase(), l.slice(at + 1).trim()]
  })
  return { status: lines[0].trim(), headers, body: lines.slice(end + 1) }
}

/** Everything wrong with what a command printed, given what the page shows (none: a match). */
function outputDifferences(shownLines, printed) {
  const shown = splitResponse(shownLines.map((l) => l.replace(/\s+$/, '')))
  const actual = splitResponse(printed.replace(/\r/g, '').split('\n'))
  if (!shown.status)
    return actual.status
      ? [`a response with headers was printed, none is shown:\n${printed}`]
      : bodyDifferences(shown.body, actual.body.join('\n'))
  if (shown.status !== actual.status) return [`status: shown ${shown.status}, got ${actual.status}`]
  const problems = shown.headers.flatMap(([name, value]) => {
    const got = actual.headers.filter(([n]) => n === name).map(([, v]) => v)
    if (got.length === 0) return [`header ${name}: missing`]
    return got.some((v) => textMatches(value, v)) ? [] : [`header ${name}: ${value}, got ${got}`]
  })
  return [...problems, ...bodyDifferences(shown.body, actual.body.join('\n'))]
}

// ---------------------------------------------------------------------------------------------
// Running

/**
 * One bash for the whole page; `run` resolves to what a command printed and its exit code. Each
 * command is sourced from a file of its own with stdin from /dev/null, so nothing it runs can
 * read the commands that follow.
 */
function shell(env, dir) {
  const bash = spawn('bash', ['--noprofile', '--norc'], {
    cwd: ROOT,
    env,
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
  })
  const marker = `__walkthrough_${process.pid}_${Date.now()}__`
  let stdout = ''
  let stderr = ''
  let waiting = null
  let count = 0
  bash.stdout.setEncoding('utf8').on('data', (chunk) => {
    stdout += chunk
    waiting?.()
  })
  bash.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk))
  return {
    run(command, timeoutMs = COMMAND_TIMEOUT_MS) {
      stdout = ''
      stderr = ''
      const file = join(dir, `command-${++count}.sh`)
      writeFileSync(file, `${command}\n`)
      bash.stdin.write(`source '${file}' </dev/null\nprintf '\\n${marker} %d\\n' $?\n`)
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting = null
          reject(new Error(`no answer in ${timeoutMs} ms; printed so far:\n${stdout}${stderr}`))
        }, timeoutMs)
        waiting = () => {
          const m = stdout.match(new RegExp(`\\n${marker} (\\d+)\\n`))
          if (!m) return
          clearTimeout(timer)
          waiting = null
          resolve({ output: stdout.slice(0, m.index), code: Number(m[1]), stderr })
        }
        waiting()
      })
    },
    close() {
      try {
        process.kill(-bash.pid, 'SIGTERM')
      } catch {
        // already gone
      }
    },
  }
}

// ---------------------------------------------------------------------------------------------
// The rules, without a server: what must match and what must not

describe('the comparison rules', () => {
  test('a status, a header value, a fixed JSON value or a missing key that differs fails', () => {
    const shown = ['HTTP/1.1 401 Unauthorized', 'WWW-Authenticate: Basic realm="x"', '', '{"a":1}']
    const ok = 'HTTP/1.1 401 Unauthorized\r\nwww-authenticate: Basic realm="x"\r\n\r\n{"a":1}'
    assert.deepEqual(outputDifferences(shown, ok), [])
    assert.notDeepEqual(outputDifferences(shown, ok.replace('401 Unauthorized', '200 OK')), [])
    assert.notDeepEqual(outputDifferences(shown, ok.replace('realm="x"', 'realm="y"')), [])
    assert.notDeepEqual(outputDifferences(shown, ok.replace('{"a":1}', '{"a":2}')), [])
    assert.notDeepEqual(outputDifferences(shown, ok.replace('{"a":1}', '{"a":1,"b":2}')), [])
    assert.notDeepEqual(outputDifferences(['{"a":1}'], ''), [])
    assert.notDeepEqual(outputDifferences([], 'unexpected'), [])
  })

  test('ids, tokens, times, bookmarks and `…` match any value of their kind', () => {
    const shown =
      '{"id":"4f6cab6c-d241-492d-95dd-7d29fed6d316","at":"2026-11-28T12:31:44.029Z",' +
      '"access_token":"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln","refresh_token":"…",' +
      '"kid":"Haf_waQQi2TAMhnA","iat":1795869098,"user_code":"WDJB-MJHT","title":"Buy milk",…}'
    const printed = JSON.stringify({
      id: crypto.randomUUID(),
      at: new Date().toISOString(),
      access_token: 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ5In0.c2lnMg',
      refresh_token: 'anything',
      kid: 'Zz9_otherKid0000',
      iat: 1800000000,
      user_code: 'BKGJ-FTBV',
      title: 'Buy milk',
      extra: true,
    })
    assert.deepEqual(outputDifferences([shown], printed), [])
    assert.notDeepEqual(outputDifferences([shown], printed.replace('Buy milk', 'Buy tea')), [])
    const added = 'Added Buy milk  (abef8e03-3a4b-43b2-ad96-332f45869239)'
    assert.equal(textMatches(added, `Added Buy milk  (${crypto.randomUUID()})`), true)
    assert.equal(textMatches(added, `Added Buy tea  (${crypto.randomUUID()})`), false)
    assert.equal(textMatches('code=…&state=xyz', 'code=abc&state=xyz'), true)
    assert.equal(textMatches('code=…&state=xyz', 'code=abc&state=xyzw'), false)
    assert.equal(textMatches('"client:hvHGls03lSmmV0ih-XBihQ"', '"client:x-Y_z"'), true)
    assert.equal(textMatches('[ ] Buy milk  (…)', '[x] Buy milk  (1)'), false)
  })

  test('the page has console blocks with commands', () => {
    const blocks = parseConsoleBlocks(readFileSync(join(ROOT, DOC), 'utf8'))
    assert.ok(blocks.length >= 10, `${blocks.length} console blocks`)
    assert.ok(blocks.flatMap((b) => b.commands).length >= 60)
  })
})

// ---------------------------------------------------------------------------------------------
// The page, against a server

describe(DOC, () => {
  const state = mkdtempSync(join(tmpdir(), 'todo-auth-walkthrough-'))
  const server = devServer(PORT, ['--persist-to', join(state, 'd1')])
  const origin = (text) =>
    text
      .replaceAll(`127.0.0.1:${DOC_PORT}`, `127.0.0.1:${PORT}`)
      .replaceAll(`127.0.0.1%3A${DOC_PORT}`, `127.0.0.1%3A${PORT}`)
  let bash

  before(async () => {
    const busy = await fetch(server.base).then(
      () => true,
      () => false,
    )
    if (busy) throw new Error(`something already answers on ${server.base}; stop it first`)
    server.start()
    await server.waitForHealth()
    // The page's own temporary files (cookie jars, the todo CLI's login) go where we clean up;
    // no ~/.curlrc and no TODO_AUTH_SERVER of the person running the test changes what it prints.
    const { TODO_AUTH_SERVER, ...env } = process.env
    bash = shell({ ...env, TMPDIR: state, CURL_HOME: state, LC_ALL: 'C.UTF-8' }, state)
  })

  after(async () => {
    bash?.close()
    await server.stop()
    rmSync(state, { recursive: true, force: true })
  })

  for (const block of parseConsoleBlocks(readFileSync(join(ROOT, DOC), 'utf8'))) {
    test(`${block.heading} (line ${block.line})`, async () => {
      for (const command of block.commands) {
        const { output, code, stderr } = await bash.run(origin(command.text))
        const where = `${DOC}:${command.line}: $ ${command.text}`
        assert.equal(code, 0, `${where}\nexited with ${code}\n${output}${stderr}`)
        const problems = outputDifferences(command.expected.map(origin), output)
        assert.deepEqual(problems, [], `${where}\n  ${problems.join('\n  ')}`)
      }
    })
  }
})
