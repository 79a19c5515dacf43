import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js'
import type { Context } from 'hono'
import * as z from 'zod'
import { checkedBatch } from '../auth/batch'
import { actorOf } from '../auth/bearer'
import { actionCheck, decideFirst, refusedOnList, scopeCheck } from '../auth/guards'
import { listLists } from '../db/lists'
import { createTodo, deleteTodo, listTodos, listTodosOfList, updateTodo } from '../db/todos'
import { ApiError, notFound } from '../domain/errors'
import { LIST_RULES } from '../domain/policy'
import type { AppEnv } from '../http/context'
import { list } from '../http/schemas/lists'
import { fields, id, todo } from '../http/schemas/todos'

/**
 * The MCP server's tools: the todo API's own operations, over the same db/ statements, the same
 * policy and the same one-batch Bearer path (`checkedBatch`) as the routes of src/api/. Each
 * tool decides up front what the route with its meaning decides (`decideFirst`: the same scope
 * and kind of actor), lets the SQL decide the rest, and answers with the API's objects as
 * `structuredContent` and a short text.
 *
 * What the API answers with an error, a tool answers as a tool error (`isError: true`, MCP
 * 2025-11-25 "Error Handling"), which the model reads: a missing or invisible todo is the same
 * `not_found` as for a todo that does not exist, never another user's data. Two refusals are
 * HTTP's instead, because the client, not the model, must act on them: a token that is dead
 * (401) and one that lacks a scope (403 `insufficient_scope`, so the client steps up). Those
 * are handed to `escalate`, which the route answers with.
 */

/** Where the tools hand the refusals that must be the HTTP answer (src/mcp/routes.ts). */
export type Escalation = { error?: unknown }

// The 100 newest, as the API's first page: a tool has no paging (docs/api.md §13).
const PAGE = { limit: 100, offset: 0 }

const noSuchTodo = () => notFound('todo')
const noSuchList = () => notFound('list')

const answer = (text: string, structured: Record<string, unknown>): CallToolResult => ({
  content: [{ type: 'text', text }],
  structuredContent: structured,
})

const titled = (t: { title: string; id: string }) => `"${t.title}" (${t.id})`

/**
 * Runs a tool's body. An error of ours that the client must act on (401, 403
 * `insufficient_scope`), or anything unexpected (a 500, whose cause stays in the log), goes to
 * `escalate`; any other refusal is the tool's error result, in the API's words.
 */
function run<Args>(escalate: Escalation, body: (args: Args) => Promise<CallToolResult>) {
  return async (args: Args): Promise<CallToolResult> => {
    try {
      return await body(args)
    } catch (err) {
      const clientActs =
        err instanceof ApiError && (err.status === 401 || err.code === 'insufficient_scope')
      if (!(err instanceof ApiError) || err.status >= 500 || clientActs) {
        escalate.error ??= err
        return { content: [{ type: 'text', text: 'See the HTTP response.' }], isError: true }
      }
      return {
        content: [{ type: 'text', text: `${err.code}: ${err.description}` }],
        isError: true,
      }
    }
  }
}

const READ = { readOnlyHint: true, destructiveHint: false, openWorldHint: false }

/** Registers the five tools on `server`, for the request `c`. */
export function registerTools(server: McpServer, c: Context<AppEnv>, escalate: Escalation) {
  server.registerTool(
    'list_lists',
    {
      title: 'List todo lists',
      description:
        'Your lists and those shared with you (oldest first, at most 100), each with your role ' +
        'on it: owner, editor or viewer. Viewers may read a list but not add to it.',
      inputSchema: z.strictObject({}),
      outputSchema: z.object({ lists: z.array(list) }),
      annotations: READ,
    },
    run(escalate, async () => {
      await decideFirst(c, scopeCheck(LIST_RULES['list.read']))
      const lists = await checkedBatch(c, (db, actor) => listLists(db, actor.id, PAGE))
      return answer(`${lists.length} list(s).`, { lists })
    }),
  )

  server.registerTool(
    'list_todos',
    {
      title: 'List todos',
      description:
        'The 100 newest todos: of the lists you own, or with list_id of that list (one shared ' +
        'with you too). completed narrows to done or open todos.',
      inputSchema: z.strictObject({
        list_id: id.optional().describe('A list you own or that is shared with you.'),
        completed: fields.completed.optional().describe('true: done; false: still open.'),
      }),
      outputSchema: z.object({ todos: z.array(todo) }),
      annotations: READ,
    },
    run(escalate, async ({ list_id: listId, completed }) => {
      const options = { ...PAGE, completed }
      if (listId === undefined) {
        await decideFirst(c, actionCheck('todos.read'))
        const todos = await checkedBatch(c, (db, actor) => listTodos(db, actor.id, options))
        return answer(`${todos.length} todo(s).`, { todos })
      }
      await decideFirst(c, scopeCheck(LIST_RULES['list.read']))
      const found = await checkedBatch(c, (db, actor) =>
        listTodosOfList(db, actor.id, listId, options),
      )
      if (!found.done) refusedOnList(c, actorOf(c), 'list.read', found.resource, noSuchList)
      return answer(`${found.done.length} todo(s).`, { todos: found.done })
    }),
  )

  server.registerTool(
    'add_todo',
    {
      title: 'Add a todo',
      description:
        'Adds a todo to your default list, or to list_id if you own it or edit it (a viewer ' +
        'may not add). Returns the new todo.',
      inputSchema: z.strictObject({
        title: fields.title,
        description: fields.description.optional(),
        list_id: id.optional().describe('A list you own or edit; default: your default list.'),
      }),
      outputSchema: todo,
      annotations: { readOnlyHint: false, destructiveHint: false, openWorldHint: false },
    },
    run(escalate, async ({ list_id: listId, ...input }) => {
      await decideFirst(c, actionCheck('todos.write'))
      const created = await checkedBatch(c, (db, actor) => createTodo(db, actor.id, input, listId))
      if (!created.done)
        refusedOnList(c, actorOf(c), 'list.write_todos', created.resource, noSuchList)
      return answer(`Added ${titled(created.done)}.`, created.done)
    }),
  )

  server.registerTool(
    'update_todo',
    {
      title: 'Change a todo',
      description:
        'Changes the title, description or completed flag of a todo in a list you own or edit; ' +
        'only the fields given. Returns the todo.',
      inputSchema: z.strictObject({
        id,
        title: fields.title.optional(),
        description: fields.description.optional(),
        completed: fields.completed.optional(),
      }),
      outputSchema: todo,
      // Each change can be made back, unlike a delete.
      annotations: {
        readOnlyHint: false,
        destructiveHint: false,
        idempotentHint: true,
        openWorldHint: false,
      },
    },
    run(escalate, async ({ id: todoId, ...patch }) => {
      if (Object.values(patch).every((v) => v === undefined))
        throw new ApiError('invalid_request', 'Give at least one of title, description, completed.')
      await decideFirst(c, actionCheck('todos.write'))
      const updated = await checkedBatch(c, (db, actor) => updateTodo(db, actor.id, todoId, patch))
      if (!updated.done)
        refusedOnList(c, actorOf(c), 'list.write_todos', updated.resource, noSuchTodo)
      return answer(`Changed ${titled(updated.done)}.`, updated.done)
    }),
  )

  server.registerTool(
    'delete_todo',
    {
      title: 'Delete a todo',
      description: 'Deletes a todo in a list you own or edit, for good.',
      inputSchema: z.strictObject({ id }),
      outputSchema: z.object({ deleted: z.string().describe('The id of the deleted todo.') }),
      annotations: {
        readOnlyHint: false,
        destructiveHint: true,
        idempotentHint: true,
        openWorldHint: false,
      },
    },
    run(escalate, async ({ id: todoId }) => {
      await decideFirst(c, actionCheck('todos.write'))
      const deleted = await checkedBatch(c, (db, actor) => deleteTodo(db, actor.id, todoId))
      if (!deleted.done)
        refusedOnList(c, actorOf(c), 'list.write_todos', deleted.resource, noSuchTodo)
      return answer(`Deleted ${todoId}.`, { deleted: todoId })
    }),
  )
}
