import { isoTime } from '../lib/time'

export type TodoRow = {
  id: string
  owner_id: string
  title: string
  description: string
  completed: number
  created_at: string
  updated_at: string
}

export type Todo = Omit<TodoRow, 'owner_id' | 'completed'> & { completed: boolean }

const COLUMNS = 'id, title, description, completed, created_at, updated_at'

const toTodo = (row: Omit<TodoRow, 'owner_id'>): Todo => ({
  id: row.id,
  title: row.title,
  description: row.description,
  completed: row.completed === 1,
  created_at: row.created_at,
  updated_at: row.updated_at,
})

export type ListOptions = { completed?: boolean; limit: number; offset: number }

/** The owner's todos, newest first; served by the (owner_id[, completed], created_at) indexes. */
export async function listTodos(db: D1Database, ownerId: string, o: ListOptions): Promise<Todo[]> {
  const filter = o.completed === undefined ? '' : 'AND completed = ?4'
  const stmt = db.prepare(
    `SELECT ${COLUMNS} FROM todos WHERE owner_id = ?1 ${filter}
     ORDER BY created_at DESC, rowid DESC LIMIT ?2 OFFSET ?3`,
  )
  const bound =
    o.completed === undefined
      ? stmt.bind(ownerId, o.limit, o.offset)
      : stmt.bind(ownerId, o.limit, o.offset, o.completed ? 1 : 0)
  const { results } = await bound.all<TodoRow>()
  return results.map(toTodo)
}

export async function getTodo(db: D1Database, ownerId: string, id: string): Promise<Todo | null> {
  const row = await db
    .prepare(`SELECT ${COLUMNS} FROM todos WHERE id = ?1 AND owner_id = ?2`)
    .bind(id, ownerId)
    .first<TodoRow>()
  return row && toTodo(row)
}

export type TodoInput = { title: string; description?: string; completed?: boolean }

export async function createTodo(db: D1Database, ownerId: string, t: TodoInput): Promise<Todo> {
  const now = isoTime()
  const row = await db
    .prepare(
      `INSERT INTO todos (id, owner_id, title, description, completed, created_at, updated_at)
       VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6) RETURNING ${COLUMNS}`,
    )
    .bind(crypto.randomUUID(), ownerId, t.title, t.description ?? '', t.completed ? 1 : 0, now)
    .first<TodoRow>()
  if (!row) throw new Error('INSERT ... RETURNING gave no row')
  return toTodo(row)
}

/** Applies only the fields given; null when the todo is missing or someone else's. */
export async function updateTodo(
  db: D1Database,
  ownerId: string,
  id: string,
  patch: Partial<TodoInput>,
): Promise<Todo | null> {
  const row = await db
    .prepare(
      `UPDATE todos SET
         title = COALESCE(?3, title),
         description = COALESCE(?4, description),
         completed = COALESCE(?5, completed),
         updated_at = ?6
       WHERE id = ?1 AND owner_id = ?2 RETURNING ${COLUMNS}`,
    )
    .bind(
      id,
      ownerId,
      patch.title ?? null,
      patch.description ?? null,
      patch.completed === undefined ? null : patch.completed ? 1 : 0,
      isoTime(),
    )
    .first<TodoRow>()
  return row && toTodo(row)
}

export async function deleteTodo(db: D1Database, ownerId: string, id: string): Promise<boolean> {
  const res = await db
    .prepare('DELETE FROM todos WHERE id = ?1 AND owner_id = ?2')
    .bind(id, ownerId)
    .run()
  return res.meta.changes > 0
}
