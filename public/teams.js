// The teams page of the signed-in app (lists.js routes #/teams here): your teams, their members
// by username, adding people by username, removing them, leaving. A team is what a list can be
// shared with as a group: its members get the share's role for as long as they are in it.

import { button, done, el, form, q, uid } from './ui.js'

const enc = encodeURIComponent
const ROLES = [
  ['member', 'Member'],
  ['manager', 'Manager: can add and remove members'],
]

/** Draws the teams page into `view`. `ctx`: { api, user, teams(), reload, isCurrent }. */
export async function renderTeams(view, ctx) {
  await ctx.reload()
  if (!ctx.isCurrent()) return
  const teams = ctx.teams()
  view.replaceChildren(
    el(
      'div',
      { className: 'view-head' },
      el('h2', { id: 'view-heading', tabIndex: -1, textContent: 'Teams' }),
      el('p', {
        className: 'meta',
        textContent:
          'Share a list with a team and everyone in it gets access, as long as they stay.',
      }),
    ),
    form({
      name: 'New team',
      className: 'compact',
      fields: [{ name: 'name', label: 'New team', maxLength: 100 }],
      submitText: 'Create team',
      submit: async ({ name }) => {
        const team = await ctx.api('POST', '/api/teams', { name })
        await renderTeams(view, ctx)
        done(`Created the team ${q(team.name)}; you are its manager.`)
        view.querySelector(`[data-team="${CSS.escape(team.id)}"] input`)?.focus()
      },
    }),
    teams.length
      ? el('div', { className: 'teams' }, ...teams.map((team) => teamPanel(view, ctx, team)))
      : el('p', { className: 'meta', textContent: 'You are not in any team yet.' }),
  )
}

function teamPanel(view, ctx, team) {
  const headingId = uid('team')
  const manager = team.role === 'manager'
  const members = el('ul', { className: 'members' })
  const memberRow = (m) => {
    const me = m.id === ctx.user.id
    const who = me ? `${m.username} (you)` : m.username
    const mayRemove = manager || me
    return el(
      'li',
      { attrs: { 'data-member': m.id } },
      el('span', { className: 'who', textContent: who }),
      el('span', { className: 'role', textContent: m.role }),
      mayRemove
        ? button(
            me ? 'Leave' : 'Remove',
            async () => {
              await ctx.api('DELETE', `/api/teams/${enc(team.id)}/members/${enc(m.id)}`)
              await renderTeams(view, ctx)
              done(me ? `You left ${q(team.name)}.` : `Removed ${m.username} from ${q(team.name)}.`)
              view.querySelector('#view-heading')?.focus()
            },
            {
              label: me ? `Leave ${q(team.name)}` : `Remove ${m.username} from ${q(team.name)}`,
              className: 'quiet danger',
            },
          )
        : null,
    )
  }
  members.append(...team.members.map(memberRow))

  return el(
    'section',
    { className: 'panel', attrs: { 'aria-labelledby': headingId, 'data-team': team.id } },
    el('h3', { id: headingId, textContent: team.name }),
    el('p', {
      className: 'meta',
      textContent: `You are ${manager ? 'a manager' : 'a member'} · ${plural(team.members.length, 'member')}`,
    }),
    members,
    manager
      ? form({
          name: `Add a member to ${team.name}`,
          fields: [
            { name: 'username', label: 'Username', maxLength: 64, username: true },
            { name: 'role', label: 'Role', options: ROLES },
          ],
          submitText: 'Add member',
          submit: async ({ username, role }) => {
            const m = await ctx.api('POST', `/api/teams/${enc(team.id)}/members`, {
              username: username.trim(),
              role,
            })
            await renderTeams(view, ctx)
            view.querySelector(`[data-team="${CSS.escape(team.id)}"] input`)?.focus()
            done(
              `${m.username} is now ${m.role === 'manager' ? 'a manager' : 'a member'} of ${q(team.name)}.`,
            )
          },
        })
      : null,
  )
}

const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`
