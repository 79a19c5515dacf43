import { type ListResource, listCondition, listRelationSql } from '../domain/policy'
import { isoTime } from '../lib/time'
import { type ListResourceRow, listResource, toResource } from './lists'
import { type Query, rows } from './query'

export type TodoRow = {
  id: string
  owner_id: string
  list_id: string
  title: string
  description: string
  completed: number
  created_at: string
  updated_at: string
}

export type Todo = Omit<TodoRow, 'owner_id' | 'completed'> & { completed: boolean }

const COLUMNS = 'id, list_id, title, description, completed, created_at, updated_at'
/** The same columns of the todos row `t`. */
const T_COLUMNS = COLUMNS.split(', ')
  .map((c) => `t.${c}`)
  .join(', ')

export const toTodo = (row: Omit<TodoRow, 'owner_id'>): Todo => ({
  id: row.id,
  list_id: row.list_id,
  title: row.title,
  description: row.description,
  completed: row.completed === 1,
  created_at: row.created_at,
  updated_at: row.updated_at,
})

export type ListOptions = { completed?: boolean; list_id?: string; limit: number; offset: number }

/**
 * The owner's todos (those in the lists they own), newest first; served by the
 * (owner_id[, completed], created_at) indexes, or with `list_id` by the (list_id, …) ones.
 */
export const listTodos = (db: D1Database, ownerId: string, o: ListOptions): Query<Todo[]> => ({
  statements: [listTodosStatement(db, ownerId, o)],
  read: (results) => rows<TodoRow>(results, 0).map(toTodo),
})

/** Another user's todos, read in one transaction with the `audit` statement that records it. */
export const listTodosAudited = (
  db: D1Database,
  ownerId: string,
  o: ListOptions,
  audit: D1PreparedStatement,
): Query<Todo[]> => ({
  statements: [audit, listTodosStatement(db, ownerId, o)],
  read: (results) => rows<TodoRow>(results, 1).map(toTodo),
})

function listTodosStatement(db: D1Database, ownerId: string, o: ListOptions) {
  const filters = [
    ...(o.completed === undefined ? [] : ['AND completed = ?4']),
    ...(o.list_id === undefined ? [] : ['AND list_id = ?5']),
  ].join(' ')
  // One shape per set of filters, so that each is served by its index; binds up to the last used.
  const binds = [ownerId, o.limit, o.offset, o.completed ? 1 : 0, o.list_id ?? null]
  const used = o.list_id !== undefined ? 5 : o.completed !== undefined ? 4 : 3
  return db
    .prepare(
      `SELECT ${COLUMNS} FROM todos WHERE owner_id = ?1 ${filters}
       ORDER BY created_at DESC, rowid DESC LIMIT ?2 OFFSET ?3`,
    )
    .bind(...binds.slice(0, used))
}

/** The todos of list `listId`, newest first, if the actor may read the list (else none). */
const listTodosIn = (
  db: D1Database,
  actorId: string,
  listId: string,
  o: Omit<ListOptions, 'list_id'>,
) => {
  const filter = o.completed === undefined ? '' : 'AND t.completed = ?5'
  const stmt = db.prepare(
    `SELECT ${T_COLUMNS} FROM todos AS t
     WHERE t.list_id = ?2 ${filter}
       AND EXISTS (SELECT 1 FROM lists AS l
         WHERE l.id = ?2 AND ${listCondition('list.read', 'l', '?1')})
     ORDER BY t.created_at DESC, t.rowid DESC LIMIT ?3 OFFSET ?4`,
  )
  return o.completed === undefined
    ? stmt.bind(actorId, listId, o.limit, o.offset)
    : stmt.bind(actorId, listId, o.limit, o.offset, o.completed ? 1 : 0)
}

/**
 * The todos of list `listId`, newest first, when the actor may read it; else the list as the
 * policy sees it (null when missing or invisible), for the caller to tell a 404 from a 403. One
 * batch: the list's resource and its todos.
 */
export const listTodosOfList = (
  db: D1Database,
  actorId: string,
  listId: string,
  o: Omit<ListOptions, 'list_id'>,
): Query<Guarded<Todo[]>> => ({
  statements: [listResource(db, actorId, listId), listTodosIn(db, actorId, listId, o)],
  read: (results) => {
    const list = toResource(rows<ListResourceRow>(results, 0)[0])
    return list?.relation
      ? { done: rows<TodoRow>(results, 1).map(toTodo) }
      : { done: null, resource: list }
  },
})

/** The todo, if the actor may read its list. */
export const getTodo = (db: D1Database, actorId: string, id: string): Query<Todo | null> => ({
  statements: [
    db
      .prepare(
        `SELECT ${T_COLUMNS} FROM todos AS t JOIN lists AS l ON l.id = t.list_id
         WHERE t.id = ?2 AND ${listCondition('list.read', 'l', '?1')}`,
      )
      .bind(actorId, id),
  ],
  read: (results) => {
    const row = rows<TodoRow>(results, 0)[0]
    return row ? toTodo(row) : null
  },
})

/** The list a todo is in, as the policy sees it for the actor; no row when the todo is missing. */
const todoListResource = (db: D1Database, actorId: string, todoId: string) =>
  db
    .prepare(
      `SELECT ${listRelationSql('l', '?1')} AS relation, l.archived, l.is_default
       FROM todos AS t JOIN lists AS l ON l.id = t.list_id WHERE t.id = ?2`,
    )
    .bind(actorId, todoId)

/**
 * What a guarded write did: the row it returned, or else the resource it was refused on (null
 * when the actor cannot see it or it does not exist), for the route to tell a 404 from a 403.
 */
export type Guarded<T> = { done: T } | { done: null; resource: ListResource | null }

export type TodoInput = { title: string; description?: string; completed?: boolean }

/**
 * Creates a todo in list `listId`, or in the actor's default list, if the actor may write the
 * list's todos. The todo's owner_id is the list's owner (so it counts among the owner's todos).
 */
export function createTodo(
  db: D1Database,
  actorId: string,
  t: TodoInput,
  listId?: string,
): Query<Guarded<Todo>> {
  const where = listId === undefined ? 'l.owner_id = ?1 AND l.is_default = 1' : 'l.id = ?7'
  const insert = db
    .prepare(
      `INSERT INTO todos
         (id, owner_id, list_id, title, description, completed, created_at, updated_at)
       SELECT ?2, l.owner_id, l.id, ?3, ?4, ?5, ?6, ?6 FROM lists AS l
       WHERE ${where} AND ${listCondition('list.write_todos', 'l', '?1')}
       RETURNING ${COLUMNS}`,
    )
    .bind(
      actorId,
      crypto.randomUUID(),
      t.title,
      t.description ?? '',
      t.completed ? 1 : 0,
      isoTime(),
      ...(listId === undefined ? [] : [listId]),
    )
  // Into the default list, which is never archived: nothing can refuse it, so no second statement.
  if (listId === undefined)
    return {
      statements: [insert],
      read: (results) => {
        const row = rows<TodoRow>(results, 0)[0]
        if (!row) throw new Error('the default list refused a todo')
        return { done: toTodo(row) }
      },
    }
  return {
    statements: [listResource(db, actorId, listId), insert],
    read: (results) => guarded(rows<TodoRow>(results, 1)[0], rows(results, 0)[0]),
  }
}

/** Applies only the fields given, if the actor may write the todo's list. */
export const updateTodo = (
  db: D1Database,
  actorId: string,
  id: string,
  patch: Partial<TodoInput>,
): Query<Guarded<Todo>> => ({
  statements: [
    todoListResource(db, actorId, id),
    db
      .prepare(
        `UPDATE todos SET
           title = COALESCE(?3, title),
           description = COALESCE(?4, description),
           completed = COALESCE(?5, completed),
           updated_at = ?6
         WHERE id = ?2 AND EXISTS (SELECT 1 FROM lists AS l
           WHERE l.id = todos.list_id AND ${listCondition('list.write_todos', 'l', '?1')})
         RETURNING ${COLUMNS}`,
      )
      .bind(
        actorId,
        id,
        patch.title ?? null,
        patch.description ?? null,
        patch.completed === undefined ? null : patch.completed ? 1 : 0,
        isoTime(),
      ),
  ],
  read: (results) => guarded(rows<TodoRow>(results, 1)[0], rows(results, 0)[0]),
})

export const deleteTodo = (db: D1Database, actorId: string, id: string): Query<Guarded<true>> => ({
  statements: [
    todoListResource(db, actorId, id),
    db
      .prepare(
        `DELETE FROM todos WHERE id = ?2 AND EXISTS (SELECT 1 FROM lists AS l
           WHERE l.id = todos.list_id AND ${listCondition('list.write_todos', 'l', '?1')})
         RETURNING id`,
      )
      .bind(actorId, id),
  ],
  read: (results): Guarded<true> =>
    rows(results, 1)[0]
      ? { done: true }
      : { done: null, resource: toResource(rows<ListResourceRow>(results, 0)[0]) },
})

function guarded(row: TodoRow | undefined, resource: unknown): Guarded<Todo> {
  return row
    ? { done: toTodo(row) }
    : { done: null, resource: toResource(resource as ListResourceRow | undefined) }
}
