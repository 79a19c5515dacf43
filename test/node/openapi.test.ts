import { Validator } from '@seriousme/openapi-schema-validator'
import { expect, it } from 'vitest'
import { createApp } from '../../src/app'

// The validator reads the OpenAPI JSON Schemas from disk, which workerd cannot; the document is the
// same one the Worker serves (test/integration/openapi.test.ts checks what it says).
it('serves a valid OpenAPI 3.1 document', async () => {
  const res = await createApp().request('https://todo.test/openapi.json', {}, {})
  expect(res.status).toBe(200)
  const doc: { openapi: string } = await res.json()
  const result = await new Validator().validate(doc)
  expect(result.errors ?? []).toEqual([])
  expect(result.valid).toBe(true)
  expect(doc.openapi).toMatch(/^3\.1\./)
})
