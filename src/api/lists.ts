import { type Context, Hono } from 'hono'
import { checkedBatch } from '../auth/batch'
import { actorOf, bearerAttribution, bearerUsername } from '../auth/bearer'
import { checkAction, refusedOnList, requires, requiresScope } from '../auth/guards'
import { adminRead } from '../db/audit'
import {
  createList,
  deleteList,
  getList,
  listLists,
  listListsAudited,
  listMembers,
  type MemberType,
  type Outcome,
  share,
  unshare,
  updateList,
} from '../db/lists'
import { createTodo, listTodosOfList } from '../db/todos'
import { ApiError, notFound } from '../domain/errors'
import { LIST_RULES, listPatchAction } from '../domain/policy'
import type { AppEnv } from '../http/context'
import { doc } from '../http/openapi'
import {
  listCreate,
  listList,
  listMember,
  listMembers as listMembersSchema,
  listPatch,
  listQuery,
  list as listSchema,
  shareBody,
  shareByUsernameBody,
} from '../http/schemas/lists'
import { todoList } from '../http/schemas/responses'
import { todoCreate, todoListQuery, todo as todoSchema } from '../http/schemas/todos'
import { validate } from '../http/validate'
import { BY_USERNAME, chargeUsername } from './by-username'

// A list the caller may not see and a missing one get the same answer, so ids cannot be probed.
const noSuchList = () => notFound('list')
const isDefault = () => new ApiError('conflict', 'The default list cannot be archived or deleted.')

/**
 * The members routes, once for users and once for teams: the same contract, another table, and
 * operationIds of their own (OpenAPI wants each operation named once).
 */
const MEMBER_KINDS: {
  type: MemberType
  path: string
  param: string
  share: string
  end: string
}[] = [
  {
    type: 'user',
    path: '/:id/members/users/:user_id',
    param: 'user_id',
    share: 'shareListWithUser',
    end: 'unshareListWithUser',
  },
  {
    type: 'team',
    path: '/:id/members/teams/:team_id',
    param: 'team_id',
    share: 'shareListWithTeam',
    end: 'unshareListWithTeam',
  },
]

/** Answers a share that SQL refused: the list's refusal first, then what was wrong with whom. */
function refusedToShare(
  c: Context<AppEnv>,
  refused: Extract<Outcome<unknown>, { done: null }>,
  missing: () => ApiError,
): never {
  refusedOnList(c, actorOf(c), 'list.share', refused.resource, noSuchList, () =>
    refused.target === 'owner'
      ? new ApiError('invalid_request', 'The owner of a list cannot be a member of it.')
      : missing(),
  )
}

const listTodoQuery = todoListQuery.omit({ user_id: true, list_id: true })
const listTodoCreate = todoCreate.omit({ list_id: true })

const routes = new Hono<AppEnv>()
  .get(
    '/',
    doc({
      operationId: 'listLists',
      tag: 'lists',
      summary: 'Your lists and those shared with you, oldest first',
      description:
        'Each with your `role` on it. An admin may pass `user_id` to read ' +
        "another user's lists as they see them; every such read is audited (`admin_read`).",
      responses: { 200: { description: 'The lists.', schema: listList } },
      errors: ['forbidden'],
    }),
    requiresScope(LIST_RULES['list.read']),
    validate('query', listQuery),
    async (c) => {
      const { user_id: userId, ...page } = c.req.valid('query')
      const lists = await checkedBatch(c, (db, actor) => {
        if (userId === undefined) return listLists(db, actor.id, page)
        checkAction(c, 'lists.read_any')
        return listListsAudited(
          db,
          userId,
          page,
          adminRead(db, bearerAttribution(c), userId, 'GET /api/lists'),
        )
      })
      return c.json(lists)
    },
  )
  .post(
    '/',
    doc({
      operationId: 'createList',
      tag: 'lists',
      summary: 'Create a list',
      responses: {
        201: {
          description: 'The new list, yours.',
          schema: listSchema,
          headers: { Location: "The new list's URL." },
        },
      },
    }),
    requires('lists.create'),
    validate('json', listCreate),
    async (c) => {
      const { name } = c.req.valid('json')
      const owner = { id: actorOf(c).id, username: bearerUsername(c) }
      const created = await checkedBatch(c, (db) => createList(db, owner, name))
      c.header('Location', `/api/lists/${created.id}`)
      return c.json(created, 201)
    },
  )
  .get(
    '/:id',
    doc({
      operationId: 'getList',
      tag: 'lists',
      summary: 'Get one list',
      responses: { 200: { description: 'The list, with your role on it.', schema: listSchema } },
    }),
    requiresScope(LIST_RULES['list.read']),
    async (c) => {
      const found = await checkedBatch(c, (db, actor) => getList(db, actor.id, c.req.param('id')))
      if (!found) throw noSuchList()
      return c.json(found)
    },
  )
  .patch(
    '/:id',
    doc({
      operationId: 'updateList',
      tag: 'lists',
      summary: 'Rename, archive or unarchive a list',
      description:
        'Owner only. An archived list takes only `{"archived": false}`; ' +
        'the default list cannot be archived (409).',
      responses: { 200: { description: 'The changed list.', schema: listSchema } },
      errors: ['forbidden', 'conflict'],
    }),
    // Unarchiving needs what any change needs up front; the SQL tells the two apart.
    requiresScope(LIST_RULES['list.change']),
    validate('json', listPatch),
    async (c) => {
      const patch = c.req.valid('json')
      const action = listPatchAction(patch)
      const updated = await checkedBatch(c, (db, actor) =>
        updateList(db, actor.id, c.req.param('id'), action, patch),
      )
      const actor = actorOf(c)
      if (!updated.done) refusedOnList(c, actor, action, updated.resource, noSuchList, isDefault)
      return c.json(updated.done)
    },
  )
  .delete(
    '/:id',
    doc({
      operationId: 'deleteList',
      tag: 'lists',
      summary: 'Delete a list and its todos',
      description: 'Owner only, not while archived; the default list cannot be deleted (409).',
      responses: { 204: { description: 'Deleted, with its todos and shares.' } },
      errors: ['forbidden', 'conflict'],
    }),
    requiresScope(LIST_RULES['list.change']),
    async (c) => {
      const deleted = await checkedBatch(c, (db, actor) =>
        deleteList(db, actor.id, c.req.param('id')),
      )
      const actor = actorOf(c)
      if (!deleted.done)
        refusedOnList(c, actor, 'list.change', deleted.resource, noSuchList, isDefault)
      return c.body(null, 204)
    },
  )
  .get(
    '/:id/todos',
    doc({
      operationId: 'listListTodos',
      tag: 'lists',
      summary: "The list's todos, newest first",
      responses: { 200: { description: 'The todos.', schema: todoList } },
    }),
    requiresScope(LIST_RULES['list.read']),
    validate('query', listTodoQuery),
    async (c) => {
      const options = c.req.valid('query')
      const found = await checkedBatch(c, (db, actor) =>
        listTodosOfList(db, actor.id, c.req.param('id'), options),
      )
      if (!found.done) refusedOnList(c, actorOf(c), 'list.read', found.resource, noSuchList)
      return c.json(found.done)
    },
  )
  .post(
    '/:id/todos',
    doc({
      operationId: 'createListTodo',
      tag: 'lists',
      summary: 'Add a todo to the list',
      description: 'Owner or editor; not while archived.',
      responses: {
        201: {
          description: 'The new todo.',
          schema: todoSchema,
          headers: { Location: "The new todo's URL." },
        },
      },
      errors: ['forbidden'],
    }),
    requiresScope(LIST_RULES['list.write_todos']),
    validate('json', listTodoCreate),
    async (c) => {
      const input = c.req.valid('json')
      const created = await checkedBatch(c, (db, actor) =>
        createTodo(db, actor.id, input, c.req.param('id')),
      )
      const actor = actorOf(c)
      if (!created.done) refusedOnList(c, actor, 'list.write_todos', created.resource, noSuchList)
      c.header('Location', `/api/todos/${created.done.id}`)
      return c.json(created.done, 201)
    },
  )
  .get(
    '/:id/members',
    doc({
      operationId: 'listListMembers',
      tag: 'lists',
      summary: 'Who the list is shared with',
      description: 'Its owner first (`role: "owner"`), then users and teams with their role.',
      responses: { 200: { description: 'The members.', schema: listMembersSchema } },
    }),
    requiresScope(LIST_RULES['list.read']),
    async (c) => {
      const found = await checkedBatch(c, (db, actor) =>
        listMembers(db, actor.id, c.req.param('id')),
      )
      const actor = actorOf(c)
      if (!found.done) refusedOnList(c, actor, 'list.read', found.resource, noSuchList)
      return c.json(found.done)
    },
  )
  .post(
    '/:id/members/users',
    doc({
      operationId: 'shareListByUsername',
      tag: 'lists',
      summary: 'Share the list with a user named by username, or change their role',
      description: `As PUT …/members/users/{user_id}. ${BY_USERNAME}`,
      responses: { 200: { description: 'The share.', schema: listMember } },
      errors: ['forbidden', 'too_many_attempts'],
    }),
    requiresScope(LIST_RULES['list.share']),
    validate('json', shareByUsernameBody),
    async (c) => {
      const { username, role } = c.req.valid('json')
      const listId = c.req.param('id')
      await chargeUsername(c)
      const done = await checkedBatch(c, (db, actor) =>
        share(db, actor.id, listId, 'user', { username }, role),
      )
      if (!done.done) refusedToShare(c, done, () => notFound('user'))
      return c.json(done.done)
    },
  )

/** PUT and DELETE of a share, for users and for teams. */
function withMemberRoutes(app: typeof routes) {
  for (const kind of MEMBER_KINDS) {
    const missing = () => notFound(kind.type)
    app
      .put(
        kind.path,
        doc({
          operationId: kind.share,
          tag: 'lists',
          summary: `Share the list with a ${kind.type}, or change their role`,
          description:
            kind.type === 'user'
              ? 'Owner only, not while archived. `viewer` reads; ' +
                '`editor` also creates, changes, completes and deletes todos.'
              : 'Owner only, not while archived, and only with a team you are in; ' +
                'its members get the role as long as they are in it.',
          responses: { 200: { description: 'The share.', schema: listMember } },
          errors: ['forbidden'],
        }),
        requiresScope(LIST_RULES['list.share']),
        validate('json', shareBody),
        async (c) => {
          const memberId = c.req.param(kind.param) ?? ''
          const listId = c.req.param('id') ?? ''
          const { role } = c.req.valid('json')
          const done = await checkedBatch(c, (db, actor) =>
            share(db, actor.id, listId, kind.type, { id: memberId }, role),
          )
          if (!done.done) refusedToShare(c, done, missing)
          return c.json(done.done)
        },
      )
      .delete(
        kind.path,
        doc({
          operationId: kind.end,
          tag: 'lists',
          summary: `End the list's share with a ${kind.type}`,
          description: 'Owner only, not while archived. Counts from the next request on.',
          responses: { 204: { description: 'No longer shared.' } },
          errors: ['forbidden'],
        }),
        requiresScope(LIST_RULES['list.share']),
        async (c) => {
          const memberId = c.req.param(kind.param) ?? ''
          const listId = c.req.param('id') ?? ''
          const done = await checkedBatch(c, (db, actor) =>
            unshare(db, actor.id, listId, kind.type, memberId),
          )
          const actor = actorOf(c)
          if (!done.done)
            refusedOnList(
              c,
              actor,
              'list.share',
              done.resource,
              noSuchList,
              () => new ApiError('not_found', `The list is not shared with this ${kind.type}.`),
            )
          return c.body(null, 204)
        },
      )
  }
  return app
}

export const listRoutes = withMemberRoutes(routes)
