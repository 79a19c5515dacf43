import * as z from 'zod'
import { atLeastOne, booleanParam, paging, param, trimmed } from './common'

/** A todo's fields as the API takes them; the MCP tools' arguments too (src/mcp/tools.ts). */
export const fields = {
  title: trimmed(1, 200),
  description: z.string().max(2000),
  completed: z.boolean(),
}

/** A list's or a todo's id as a body field. */
export const id = z.string().min(1).max(128)
const listId = id

export const todoCreate = z.strictObject({
  title: fields.title,
  list_id: listId
    .optional()
    .describe('A list you may edit (own or shared as editor); default: your default list.'),
  description: fields.description.optional(),
  completed: fields.completed.optional(),
})

export const todoPatch = atLeastOne({
  title: fields.title.optional(),
  description: fields.description.optional(),
  completed: fields.completed.optional(),
})

export const todoListQuery = z.strictObject({
  completed: booleanParam().optional(),
  list_id: param().min(1).max(128).optional().describe('Only the todos of this list.'),
  ...paging,
  user_id: param().min(1).max(128).optional(),
})

export const todo = z.object({
  id: z.string(),
  list_id: z.string(),
  title: z.string(),
  description: z.string(),
  completed: z.boolean(),
  created_at: z.string(),
  updated_at: z.string(),
})
