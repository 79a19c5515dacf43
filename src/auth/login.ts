import type { Context } from 'hono'
import { config, type AppEnv } from '../env'
import { findUserByUsername, type UserRow } from '../db/users'
import { dummyHash, hashCost, hashPassword, verifyPassword } from './passwords'

/**
 * The one place a password is checked (/auth/token, /profile, /users/me/password).
 *
 * Unknown users and disabled accounts pay a compare against a dummy hash of the configured cost,
 * so all failures look and take the same. A hash made at another cost is re-hashed on success.
 * Returns the user row, or null for any failure (the caller cannot tell which, by design).
 */
export async function checkPassword(c: Context<AppEnv>, username: string, password: string): Promise<UserRow | null> {
  const cfg = config(c.env)
  const user = await findUserByUsername(c.env.DB, username)
  const usable = user !== null && user.disabled === 0
  const ok = await verifyPassword(password, usable ? user.password_hash : dummyHash(cfg.bcryptCost))
  if (!ok || !usable) return null
  if (hashCost(user.password_hash) !== cfg.bcryptCost) {
    const rehashed = await hashPassword(password, cfg.bcryptCost)
    await c.env.DB.prepare('UPDATE users SET password_hash = ?2 WHERE id = ?1 AND password_hash = ?3').bind(user.id, rehashed, user.password_hash).run()
  }
  return user
}
