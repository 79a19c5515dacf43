import * as z from 'zod'
import { param, paging } from './common'

const fields = {
  title: z.string().trim().min(1, 'Must not be empty.').max(200),
  description: z.string().max(2000),
  completed: z.boolean(),
}

export const todoCreate = z.strictObject({
  title: fields.title,
  description: fields.description.optional(),
  completed: fields.completed.optional(),
})

export const todoPatch = z
  .strictObject({
    title: fields.title.optional(),
    description: fields.description.optional(),
    completed: fields.completed.optional(),
  })
  .refine((p) => Object.keys(p).length > 0, 'Give at least one of title, description, completed.')

export const todoListQuery = z.strictObject({
  completed: param()
    .pipe(z.enum(['true', 'false']))
    .transform((v) => v === 'true')
    .optional(),
  ...paging,
  user_id: param().min(1).max(128).optional(),
})

export const todo = z.object({
  id: z.string(),
  title: z.string(),
  description: z.string(),
  completed: z.boolean(),
  created_at: z.string(),
  updated_at: z.string(),
})
