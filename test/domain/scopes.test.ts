import { describe, expect, it } from 'vitest'
import {
  grantScope,
  narrowMachineScopes,
  narrowScopes,
  parseScopeParam,
  parseScopes,
  scopeWords,
} from '../../src/domain/scopes'

describe('scopes', () => {
  it('narrows to what is both asked and held, in the canonical order, never wider', () => {
    expect(narrowScopes(['write', 'read'], ['read', 'write'])).toEqual(['read', 'write'])
    expect(narrowScopes(['read', 'write'], ['read'])).toEqual(['read'])
    expect(narrowScopes(['write', 'write'], ['write'])).toEqual(['write'])
    expect(narrowScopes(['admin', 'read'], ['admin', 'read'])).toEqual(['read'])
    expect(narrowScopes([], ['read', 'write'])).toEqual([])
  })

  it('reads a stored scope string, dropping repeats, extra spaces and unknown words', () => {
    expect(parseScopes('write  read write')).toEqual(['read', 'write'])
    expect(parseScopes('')).toEqual([])
    expect(parseScopes('root read')).toEqual(['read'])
  })

  it('refuses an unknown scope parameter and a scope beyond what the grant allows', () => {
    expect(parseScopeParam(undefined)).toBeUndefined()
    expect(parseScopeParam(' write read ')).toEqual(['read', 'write'])
    expect(() => parseScopeParam('read admin')).toThrow(/Unknown scope requested/)
    expect(grantScope(undefined, ['write', 'read'])).toBe('read write')
    expect(grantScope(['read'], ['read', 'write'])).toBe('read')
    expect(() => grantScope(['write'], ['read'])).toThrow(/exceeds/)
  })

  it('narrows machine scopes the same way, and never lets a user scope through', () => {
    const both = ['audit:read', 'users:read']
    expect(narrowMachineScopes(both, ['users:read', 'audit:read'])).toEqual([
      'users:read',
      'audit:read',
    ])
    expect(narrowMachineScopes(both, ['audit:read'])).toEqual(['audit:read'])
    expect(narrowMachineScopes(['read', 'write', 'users:read'], ['read', 'write'])).toEqual([])
  })

  it('names the known scopes when a scope parameter has an unknown word', () => {
    expect(scopeWords(undefined, ['read'])).toBeUndefined()
    expect(scopeWords('  write  read ', ['read', 'write'])).toEqual(['write', 'read'])
    expect(() => scopeWords('read write', ['read', 'audit:read'])).toThrow(
      'Unknown scope requested; known scopes are "read", "audit:read".',
    )
  })
})
