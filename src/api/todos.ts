import { Hono } from 'hono'
import { checkedBatch } from '../auth/batch'
import { actorOf, bearerAttribution } from '../auth/bearer'
import { checkAction, refusedOnList, requires } from '../auth/guards'
import { adminRead } from '../db/audit'
import {
  createTodo,
  deleteTodo,
  getTodo,
  listTodos,
  listTodosAudited,
  updateTodo,
} from '../db/todos'
import { notFound } from '../domain/errors'
import type { AppEnv } from '../http/context'
import { doc } from '../http/openapi'
import { todoList } from '../http/schemas/responses'
import { todoCreate, todoListQuery, todoPatch, todo as todoSchema } from '../http/schemas/todos'
import { validate } from '../http/validate'

// A todo the caller may not see and a missing one get the same answer, so ids cannot be probed.
const noSuchTodo = () => notFound('todo')
const noSuchList = () => notFound('list')

export const todoRoutes = new Hono<AppEnv>()
  .get(
    '/',
    doc({
      operationId: 'listTodos',
      tag: 'todos',
      summary: 'List your todos, newest first',
      description:
        'The todos of the lists you own; `list_id` narrows to one of them. ' +
        "An admin may pass `user_id` to list another user's (audited as `admin_read`).",
      responses: { 200: { description: 'The todos.', schema: todoList } },
      errors: ['forbidden'],
    }),
    requires('todos.read'),
    validate('query', todoListQuery),
    async (c) => {
      const { user_id: ownerId, ...options } = c.req.valid('query')
      const todos = await checkedBatch(c, (db, actor) => {
        if (ownerId === undefined) return listTodos(db, actor.id, options)
        // Naming an owner at all is the admin's privilege (docs/api.md §7), even when it names
        // oneself.
        checkAction(c, 'todos.list_any')
        return listTodosAudited(
          db,
          ownerId,
          options,
          adminRead(db, bearerAttribution(c), ownerId, 'GET /api/todos'),
        )
      })
      return c.json(todos)
    },
  )
  .post(
    '/',
    doc({
      operationId: 'createTodo',
      tag: 'todos',
      summary: 'Create a todo',
      description:
        'In your default list, or in `list_id` if you own it or it is shared with you ' +
        'as editor and not archived.',
      errors: ['forbidden', 'not_found'],
      responses: {
        201: {
          description: 'The new todo.',
          schema: todoSchema,
          headers: { Location: "The new todo's URL." },
        },
      },
    }),
    requires('todos.write'),
    validate('json', todoCreate),
    async (c) => {
      const { list_id: listId, ...input } = c.req.valid('json')
      const created = await checkedBatch(c, (db, actor) => createTodo(db, actor.id, input, listId))
      const actor = actorOf(c)
      if (!created.done) refusedOnList(c, actor, 'list.write_todos', created.resource, noSuchList)
      c.header('Location', `/api/todos/${created.done.id}`)
      return c.json(created.done, 201)
    },
  )
  .get(
    '/:id',
    doc({
      operationId: 'getTodo',
      tag: 'todos',
      summary: 'Get one todo',
      description: 'Any todo of a list you may see: your own, or one shared with you.',
      responses: { 200: { description: 'The todo.', schema: todoSchema } },
    }),
    requires('todos.read'),
    async (c) => {
      const todo = await checkedBatch(c, (db, actor) => getTodo(db, actor.id, c.req.param('id')))
      if (!todo) throw notFound('todo')
      return c.json(todo)
    },
  )
  .patch(
    '/:id',
    doc({
      operationId: 'updateTodo',
      tag: 'todos',
      summary: 'Change a todo',
      description:
        'In a list you own or edit; 403 on a list shared with you as viewer or an archived one.',
      responses: { 200: { description: 'The changed todo.', schema: todoSchema } },
      errors: ['forbidden'],
    }),
    requires('todos.write'),
    validate('json', todoPatch),
    async (c) => {
      const patch = c.req.valid('json')
      const updated = await checkedBatch(c, (db, actor) =>
        updateTodo(db, actor.id, c.req.param('id'), patch),
      )
      const actor = actorOf(c)
      if (!updated.done) refusedOnList(c, actor, 'list.write_todos', updated.resource, noSuchTodo)
      return c.json(updated.done)
    },
  )
  .delete(
    '/:id',
    doc({
      operationId: 'deleteTodo',
      tag: 'todos',
      summary: 'Delete a todo',
      description: 'In a list you own or edit, as for PATCH.',
      responses: { 204: { description: 'Deleted.' } },
      errors: ['forbidden'],
    }),
    requires('todos.write'),
    async (c) => {
      const deleted = await checkedBatch(c, (db, actor) =>
        deleteTodo(db, actor.id, c.req.param('id')),
      )
      const actor = actorOf(c)
      if (!deleted.done) refusedOnList(c, actor, 'list.write_todos', deleted.resource, noSuchTodo)
      return c.body(null, 204)
    },
  )
