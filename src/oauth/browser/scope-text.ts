import { type Action, decide, RULES } from '../../domain/policy'
import type { Role } from '../../domain/user'

/**
 * What the consent, device and account pages say a scope lets an app do, for this person: read
 * off the policy (src/domain/policy.ts) for a third-party app of a user of this role, so the page
 * never tells a user that the app may read "users and the audit trail" when only an admin's app
 * may, and never hides from an admin that their app may.
 */

const OWN: Record<string, string> = {
  read: 'See your todos, and the lists and teams you are in',
  write: 'Create, change and delete your todos and lists, and create teams',
}

/** The administrative actions, as the page names them. */
const ADMIN: Partial<Record<Action, string>> = {
  'users.read': 'the user accounts',
  'audit.read': 'the audit trail',
  'clients.read': 'the registered apps',
  'providers.read': 'the identity providers',
  'users.write': 'user accounts',
  'clients.write': 'apps',
  'providers.write': 'identity providers',
}

const list = (items: string[]) =>
  items.length < 2 ? items.join('') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`

/** One line for one scope, as granted to an app by a user of `role`. */
export function scopeText(scope: string, role: Role): string {
  const own = OWN[scope]
  if (!own) return scope
  const app = { kind: 'app' as const, id: 'the-user', role, scopes: [scope] }
  const admin = (Object.keys(ADMIN) as Action[]).filter(
    (action) =>
      RULES[action].scope === scope &&
      RULES[action].audience === 'admin' &&
      decide(app, action) === 'allow',
  )
  if (admin.length === 0) return own
  const names = list(admin.map((a) => ADMIN[a]!))
  return scope === 'read'
    ? `${own}; as an admin, also see ${names}`
    : `${own}; as an admin, also manage ${names}`
}
