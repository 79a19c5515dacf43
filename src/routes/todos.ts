import { Hono } from 'hono'
import type { AppEnv } from '../env'
import { ApiError } from '../errors'
import { createTodo, deleteTodo, getTodo, listTodos, updateTodo } from '../db/todos'
import { authorized } from '../auth/middleware'
import { policy } from '../auth/policy'
import { todoCreate, todoListQuery, todoPatch } from '../schemas/todos'
import { validate } from '../schemas/validate'

// Another user's todo and a missing one get the same answer, so ids cannot be probed.
const notFound = () => new ApiError('not_found', 'No such todo.')

export const todoRoutes = new Hono<AppEnv>()
  .get('/', authorized('read'), validate('query', todoListQuery), async (c) => {
    const { user_id: ownerId = c.get('user').id, ...options } = c.req.valid('query')
    if (!policy.mayListTodosOf(c.get('user'), ownerId)) throw new ApiError('forbidden', "Only an admin may list another user's todos.")
    return c.json(await listTodos(c.env.DB, ownerId, options))
  })
  .post('/', authorized('write'), validate('json', todoCreate), async (c) => {
    const todo = await createTodo(c.env.DB, c.get('user').id, c.req.valid('json'))
    c.header('Location', `/api/todos/${todo.id}`)
    return c.json(todo, 201)
  })
  .get('/:id', authorized('read'), async (c) => {
    const todo = await getTodo(c.env.DB, c.get('user').id, c.req.param('id'))
    if (!todo) throw notFound()
    return c.json(todo)
  })
  .patch('/:id', authorized('write'), validate('json', todoPatch), async (c) => {
    const todo = await updateTodo(c.env.DB, c.get('user').id, c.req.param('id'), c.req.valid('json'))
    if (!todo) throw notFound()
    return c.json(todo)
  })
  .delete('/:id', authorized('write'), async (c) => {
    if (!(await deleteTodo(c.env.DB, c.get('user').id, c.req.param('id')))) throw notFound()
    return c.body(null, 204)
  })
