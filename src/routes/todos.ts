import { Hono } from 'hono'
import type { AppEnv } from '../env'
import { notFound } from '../errors'
import { createTodo, deleteTodo, getTodo, listTodos, updateTodo } from '../db/todos'
import { allow, authorize } from '../auth/middleware'
import { doc } from '../openapi'
import { todo as todoSchema, todoCreate, todoListQuery, todoPatch } from '../schemas/todos'
import { todoList } from '../schemas/responses'
import { validate } from '../schemas/validate'

// Another user's todo and a missing one get the same answer, so ids cannot be probed.
export const todoRoutes = new Hono<AppEnv>()
  .get(
    '/',
    doc({
      operationId: 'listTodos',
      tag: 'todos',
      summary: 'List your todos, newest first',
      description: "An admin may pass `user_id` to list another user's.",
      responses: { 200: { description: 'The todos.', schema: todoList } },
      errors: ['forbidden'],
    }),
    allow('todos.read'),
    validate('query', todoListQuery),
    async (c) => {
      const { user_id: ownerId, ...options } = c.req.valid('query')
      // Naming an owner at all is the admin's privilege (docs/api.md §7), even when it names
      // oneself.
      if (ownerId !== undefined) authorize(c, 'todos.list_any')
      return c.json(await listTodos(c.env.DB, ownerId ?? c.get('user').id, options))
    },
  )
  .post(
    '/',
    doc({
      operationId: 'createTodo',
      tag: 'todos',
      summary: 'Create a todo',
      responses: {
        201: {
          description: 'The new todo.',
          schema: todoSchema,
          headers: { Location: "The new todo's URL." },
        },
      },
    }),
    allow('todos.write'),
    validate('json', todoCreate),
    async (c) => {
      const todo = await createTodo(c.env.DB, c.get('user').id, c.req.valid('json'))
      c.header('Location', `/api/todos/${todo.id}`)
      return c.json(todo, 201)
    },
  )
  .get(
    '/:id',
    doc({
      operationId: 'getTodo',
      tag: 'todos',
      summary: 'Get one todo',
      responses: { 200: { description: 'The todo.', schema: todoSchema } },
    }),
    allow('todos.read'),
    async (c) => {
      const todo = await getTodo(c.env.DB, c.get('user').id, c.req.param('id'))
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
      responses: { 200: { description: 'The changed todo.', schema: todoSchema } },
    }),
    allow('todos.write'),
    validate('json', todoPatch),
    async (c) => {
      const todo = await updateTodo(
        c.env.DB,
        c.get('user').id,
        c.req.param('id'),
        c.req.valid('json'),
      )
      if (!todo) throw notFound('todo')
      return c.json(todo)
    },
  )
  .delete(
    '/:id',
    doc({
      operationId: 'deleteTodo',
      tag: 'todos',
      summary: 'Delete a todo',
      responses: { 204: { description: 'Deleted.' } },
    }),
    allow('todos.write'),
    async (c) => {
      if (!(await deleteTodo(c.env.DB, c.get('user').id, c.req.param('id')))) throw notFound('todo')
      return c.body(null, 204)
    },
  )
