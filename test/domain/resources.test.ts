import { describe, expect, it } from 'vitest'
import { ApiError } from '../../src/domain/errors'
import {
  acceptedAudiences,
  audienceFor,
  canonicalResource,
  requestedResource,
} from '../../src/domain/resources'

const ISSUER = 'https://todo.test'
const MCP = 'https://todo.test/mcp'

const target = (f: () => unknown) => {
  try {
    f()
  } catch (err) {
    return err instanceof ApiError ? `${err.code}: ${err.description}` : String(err)
  }
  return 'accepted'
}

describe('resource URIs (RFC 8707)', () => {
  it('spells alike what MCP clients send differently', () => {
    for (const sent of [
      'https://todo.test/mcp',
      'HTTPS://TODO.TEST/mcp',
      'https://todo.test/mcp/',
      'https://todo.test:443/mcp',
      'https://Todo.Test/mcp//',
    ])
      expect(canonicalResource(sent), sent).toBe(MCP)
    expect(canonicalResource('https://todo.test/')).toBe(ISSUER)
    expect(canonicalResource('http://127.0.0.1:8787/mcp/')).toBe('http://127.0.0.1:8787/mcp')
    expect(canonicalResource('http://[::1]:8787')).toBe('http://[::1]:8787')
  })

  it('keeps the path’s case, which names another resource', () => {
    expect(canonicalResource('https://todo.test/MCP')).toBe('https://todo.test/MCP')
  })

  it('refuses what is no absolute http(s) URI, has a fragment or credentials', () => {
    for (const sent of [
      '/mcp',
      'mcp',
      'urn:todo:mcp',
      'ftp://todo.test/mcp',
      'https://todo.test/mcp#x',
      'https://todo.test/mcp#',
      'https://user:pw@todo.test/mcp',
      '',
    ])
      expect(canonicalResource(sent), sent).toBeNull()
  })

  it('takes one of ours, once, and nothing else', () => {
    expect(requestedResource(ISSUER, undefined)).toBeUndefined()
    expect(requestedResource(ISSUER, '')).toBeUndefined()
    expect(requestedResource(ISSUER, ['HTTPS://todo.test/mcp/'])).toBe(MCP)
    expect(requestedResource(ISSUER, 'https://todo.test')).toBe(ISSUER)
    expect(target(() => requestedResource(ISSUER, [MCP, ISSUER]))).toMatch(
      /^invalid_target: Name one/,
    )
    expect(target(() => requestedResource(ISSUER, [MCP, MCP]))).toMatch(/^invalid_target/)
    expect(target(() => requestedResource(ISSUER, 'https://todo.test/mcp?x=1'))).toMatch(
      /^invalid_target: Unknown resource/,
    )
    expect(target(() => requestedResource(ISSUER, 'https://todo.test.evil/mcp'))).toMatch(
      /^invalid_target: Unknown resource/,
    )
    expect(target(() => requestedResource(ISSUER, 'https://todo.test/mcp#f'))).toMatch(
      /^invalid_target: resource must be/,
    )
  })
})

describe('audiences', () => {
  it('gives a token the grant’s resource, or the default audience for a grant without one', () => {
    expect(audienceFor(ISSUER, 'todo-api', MCP, undefined)).toBe(MCP)
    expect(audienceFor(ISSUER, 'todo-api', MCP, MCP)).toBe(MCP)
    expect(audienceFor(ISSUER, 'todo-api', null, undefined)).toBe('todo-api')
    expect(audienceFor(ISSUER, 'todo-api', null, ISSUER)).toBe(ISSUER)
    expect(audienceFor(ISSUER, 'todo-api', ISSUER, undefined)).toBe(ISSUER)
  })

  it('never reaches past the grant (RFC 8707 §2.2)', () => {
    expect(target(() => audienceFor(ISSUER, 'todo-api', MCP, ISSUER))).toMatch(/^invalid_target/)
    expect(target(() => audienceFor(ISSUER, 'todo-api', null, MCP))).toMatch(/^invalid_target/)
    expect(target(() => audienceFor(ISSUER, 'todo-api', ISSUER, MCP))).toMatch(/^invalid_target/)
  })

  it('lets each resource accept only its own tokens', () => {
    expect(acceptedAudiences(ISSUER, 'todo-api', 'api')).toEqual([ISSUER, 'todo-api'])
    expect(acceptedAudiences(ISSUER, 'todo-api', 'mcp')).toEqual([MCP])
  })
})
