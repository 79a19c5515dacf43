import * as z from 'zod'
import { atLeastOne, paging, param, trimmed, username } from './common'

const name = trimmed(1, 100)

export const listCreate = z.strictObject({ name })

export const listPatch = atLeastOne({ name: name.optional(), archived: z.boolean().optional() })

export const listQuery = z.strictObject({
  ...paging,
  user_id: param()
    .min(1)
    .max(128)
    .optional()
    .describe('Admins only: the lists this user sees, as they see them (audited).'),
})

export const pageQuery = z.strictObject({ ...paging })

export const shareBody = z.strictObject({ role: z.enum(['viewer', 'editor']) })

/** A user named by their exact username (any case), for sharing and team membership. */
const byUsername = username.describe(
  'The exact username (case aside); never a pattern or a prefix. Throttled: see the route.',
)

export const shareByUsernameBody = shareBody.extend({ username: byUsername })

export const teamCreate = z.strictObject({ name })

export const teamMemberBody = z.strictObject({ role: z.enum(['member', 'manager']) })

export const teamMemberByUsernameBody = teamMemberBody.extend({ username: byUsername })

const role = z.enum(['owner', 'editor', 'viewer'])

export const list = z.object({
  id: z.string(),
  name: z.string(),
  owner_id: z.string(),
  owner_username: z.string(),
  default: z.boolean().describe('Where a todo goes when no list is named; never archived.'),
  archived: z.boolean().describe('Read-only for everyone, the owner included, until unarchived.'),
  role: role.describe('Your relation to the list.'),
  created_at: z.string(),
  updated_at: z.string(),
})

export const listList = z.array(list)

export const listMember = z.object({
  type: z.enum(['user', 'team']),
  id: z.string(),
  name: z.string().describe("The user's username or the team's name."),
  role,
})

export const listMembers = z.array(listMember)

export const teamMember = z.object({
  id: z.string(),
  username: z.string(),
  role: z.enum(['member', 'manager']),
})

export const team = z.object({
  id: z.string(),
  name: z.string(),
  role: z.enum(['member', 'manager']).describe('Your role in the team.'),
  members: z.array(teamMember),
  created_at: z.string(),
  updated_at: z.string(),
})

export const teamList = z.array(team)
