import { describe, expect, it } from 'vitest'
import { GRANTS } from '../../../src/oauth/token/grants'
import { GRANT_TYPES } from '../../../src/http/schemas/auth'

describe('the grant registry', () => {
  it('has one module for each grant type the document and client registry name, in order', () => {
    // GRANT_TYPES feeds the documented grant_type enum and what a client may be registered for;
    // GRANTS the dispatch and grant_types_supported. They must name the same grants.
    expect(GRANTS.map((g) => g.type)).toEqual([...GRANT_TYPES])
  })
})
