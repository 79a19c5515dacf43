import * as z from 'zod'

/** A JSON Schema fragment, as GET /openapi.json writes it. */
export type JsonSchema = Record<string, unknown>

/**
 * What the document says about a schema whose checks `z.toJSONSchema` cannot see: a transform
 * or pipe (documented as the value it accepts, e.g. `{ type: 'integer', minimum: 1 }` for a
 * query parameter of digits), a refine, a trim. `replace` stands for the whole generated schema
 * (its description stays); `add` adds keywords to it.
 */
export const documentation = z.registry<{ replace?: JsonSchema; add?: JsonSchema }>()

/**
 * Registers `how` for `schema` and returns it. Build both from the same values, e.g. the
 * bounds a helper takes, so that the check and its documentation cannot drift apart;
 * test/node/openapi.test.ts holds every validator to its documented schema.
 */
export const documented = <Schema extends z.ZodType>(
  schema: Schema,
  how: { replace?: JsonSchema; add?: JsonSchema },
): Schema => {
  documentation.add(schema, how)
  return schema
}
