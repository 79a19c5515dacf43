import { cacheSeconds } from '../../domain/client-metadata'

/** A document that does not arrive whole within this long is not waited for. */
export const FETCH_TIMEOUT_MS = 2000

export type Fetched = { json: unknown; maxAge: number } | { problem: string }

/**
 * GETs a Client ID Metadata Document or a JWKS, the URL already checked
 * (`fetchableUrlProblem`): the draft's "Client Information Discovery" — 200 only, redirects never
 * followed (`redirect: 'manual'`: a 3xx is an error like any other status) — and "Maximum Response
 * Size": at most `limit` bytes are read, whatever Content-Length claims, within FETCH_TIMEOUT_MS
 * for the whole response. Errors are never cached ("Metadata Caching"). The problem says what
 * went wrong in words fit for the client's developer, and nothing of what the URL served.
 */
export async function fetchJson(url: string, limit: number): Promise<Fetched> {
  const signal = AbortSignal.timeout(FETCH_TIMEOUT_MS)
  try {
    const res = await fetch(url, {
      redirect: 'manual',
      headers: { Accept: 'application/json' },
      signal,
    })
    if (res.status !== 200) {
      await res.body?.cancel()
      return res.status >= 300 && res.status < 400
        ? { problem: `It answered ${res.status}, a redirect, which is not followed.` }
        : { problem: `It answered ${res.status}, not 200.` }
    }
    const body = await readAtMost(res, limit)
    if (body === null) return { problem: `It is larger than ${limit / 1024} KiB.` }
    let json: unknown
    try {
      json = JSON.parse(new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(body))
    } catch {
      return { problem: 'It is not JSON (UTF-8).' }
    }
    const maxAge = cacheSeconds(res.headers.get('Cache-Control'), res.headers.get('Age'))
    return { json, maxAge }
  } catch {
    return signal.aborted
      ? { problem: `It did not arrive within ${FETCH_TIMEOUT_MS / 1000} s.` }
      : { problem: 'It could not be fetched.' }
  }
}

/** The body, or null as soon as it is longer than `limit` bytes (then no more is read). */
async function readAtMost(res: Response, limit: number): Promise<Uint8Array | null> {
  const declared = Number(res.headers.get('Content-Length') ?? 0)
  if (declared > limit || !res.body) {
    await res.body?.cancel()
    return declared > limit ? null : new Uint8Array()
  }
  const reader = res.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    size += value.byteLength
    if (size > limit) {
      await reader.cancel()
      return null
    }
    chunks.push(value)
  }
  const body = new Uint8Array(size)
  let offset = 0
  for (const chunk of chunks) {
    body.set(chunk, offset)
    offset += chunk.byteLength
  }
  return body
}
