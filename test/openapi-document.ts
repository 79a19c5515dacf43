import { type Schema, Validator } from '@cfworker/json-schema'

// Reading GET /openapi.json the way a generated client or an OpenAPI request validator does, for
// test/http/openapi.test.ts (workerd) and test/node/openapi.test.ts (Node). The validator
// is @cfworker/json-schema: it compiles nothing at run time, which workerd forbids.

export type Parameter = { name: string; in: string; required: boolean; schema: Schema }
export type Operation = {
  operationId: string
  security: Record<string, string[]>[]
  parameters?: Parameter[]
  requestBody?: { content: Record<string, { schema: Schema }> }
  responses: Record<
    string,
    { content?: Record<string, { schema: Schema }>; headers?: Record<string, unknown> }
  >
}
export type Document = {
  openapi: string
  paths: Record<string, Record<string, Operation>>
  components: {
    schemas: Record<string, Schema>
    securitySchemes: Record<string, Record<string, unknown>>
  }
}

export const operations = (doc: Document) =>
  Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, op]) => ({ path, method, op })),
  )

/** The operation for `method` on a concrete or templated path (`/api/todos/abc`). */
export function operationFor(doc: Document, method: string, path: string): Operation {
  const bare = path.split('?')[0]!
  for (const [template, methods] of Object.entries(doc.paths)) {
    const pattern = new RegExp(`^${template.replace(/\{\w+\}/g, '[^/]+')}$`)
    const op = methods[method.toLowerCase()]
    if (op && pattern.test(bare)) return op
  }
  throw new Error(`the document has no ${method} ${bare}`)
}

/** Validates `value` against a schema of the document; `$ref`s resolve within the document. */
export function problems(doc: Document, schema: Schema, value: unknown): string[] {
  const validator = new Validator({ ...schema, components: doc.components } as Schema, '2020-12')
  const result = validator.validate(value)
  return result.valid ? [] : result.errors.map((e) => `${e.instanceLocation}: ${e.error}`)
}

/**
 * A query value as the typed value it stands for, when it is the canonical spelling of one (what
 * a client serializing an integer or a boolean sends); anything else stays a string and fails the
 * parameter's type.
 */
export function fromQuery(value: string, schema: Schema): unknown {
  if (schema.type === 'integer' && /^-?(0|[1-9]\d*)$/.test(value)) return Number(value)
  if (schema.type === 'boolean' && (value === 'true' || value === 'false')) return value === 'true'
  return value
}

/** What is wrong, per the document, with a query string for `op` (unknown names aside). */
export function queryProblems(doc: Document, op: Operation, query: URLSearchParams): string[] {
  const found: string[] = []
  for (const p of (op.parameters ?? []).filter((p) => p.in === 'query')) {
    const values = query.getAll(p.name)
    if (values.length === 0 && p.required) found.push(`${p.name}: required`)
    if (values.length > 1) found.push(`${p.name}: sent ${values.length} times`)
    if (values.length === 1)
      found.push(...problems(doc, p.schema, fromQuery(values[0]!, p.schema)).map((e) => p.name + e))
  }
  return found
}

export type Input = { query?: string; json?: unknown; form?: Record<string, string> }

/** What is wrong, per the document, with a request to `method path`. */
export function requestProblems(
  doc: Document,
  method: string,
  path: string,
  input: Input,
): string[] {
  const op = operationFor(doc, method, path)
  const found = queryProblems(doc, op, new URLSearchParams(input.query ?? ''))
  const content = op.requestBody?.content
  if (input.json !== undefined) {
    const schema = content?.['application/json']?.schema
    found.push(...(schema ? problems(doc, schema, input.json) : ['no JSON body documented']))
  }
  if (input.form !== undefined) {
    const schema = content?.['application/x-www-form-urlencoded']?.schema
    found.push(...(schema ? problems(doc, schema, input.form) : ['no form body documented']))
  }
  return found
}

/** What is wrong, per the document, with a response of `method path` (a clone is read). */
export async function responseProblems(
  doc: Document,
  method: string,
  path: string,
  res: Response,
): Promise<string[]> {
  const op = operationFor(doc, method, path)
  const documented = op.responses[String(res.status)]
  if (!documented) return [`status ${res.status} is not documented`]
  if (res.headers.get('Content-Type')?.startsWith('text/html'))
    return documented.content?.['text/html'] ? [] : ['an HTML page the document does not describe']
  const schema = documented.content?.['application/json']?.schema
  if (!schema) return res.status === 204 || (await res.clone().text()) === '' ? [] : ['a body']
  return problems(doc, schema, await res.clone().json())
}
