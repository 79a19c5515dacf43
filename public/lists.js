// The signed-in app: lists are the navigation, the open list shows its todos, its sharing and its
// settings; teams have a page of their own (teams.js). app.js owns the login and the tokens and
// tells this module when a user is signed in (with its `api` function, which sends the Bearer
// token and refreshes it) and when they are signed out: no token is seen or kept here.
//
// Where you are is in the address: #/lists/<id> or #/teams, so Back and Forward work. People are
// named by username (the API takes one when sharing, docs/api.md "Naming a user by username"),
// never by id.

import { renderTeams } from './teams.js'
import { $, act, button, done, el, form, q, uid } from './ui.js'

/** @type {null | { api: (method: string, path: string, body?: unknown) => Promise<any>, user: any }} */
let session = null
/** What the navigation shows; refreshed after anything that changes lists or teams. */
let state = { lists: [], teams: [] }
// Each drawing of the view is numbered: one that a newer drawing overtook while it waited for
// the server draws nothing, so a late answer never replaces what the user is looking at.
let drawn = 0

// After signing out, a request still to be made never settles: whatever asked for it draws nothing.
const api = (method, path, body) =>
  session ? session.api(method, path, body) : new Promise(() => {})
const enc = encodeURIComponent
const root = $('workspace')

const ROLES = [
  ['viewer', 'Viewer: can see'],
  ['editor', 'Editor: can change'],
]

// Routing ----------------------------------------------------------------------------------------

function route() {
  const [, kind, id] = location.hash.match(/^#\/(lists|teams)(?:\/(.+))?$/) ?? []
  if (kind === 'teams') return { kind }
  if (kind === 'lists' && id) return { kind: 'list', id: decodeURIComponent(id) }
  return { kind: 'list', id: state.lists.find((l) => l.default && l.role === 'owner')?.id }
}

const listHref = (list) => `#/lists/${enc(list.id)}`

async function reload() {
  const [lists, teams] = await Promise.all([api('GET', '/api/lists'), api('GET', '/api/teams')])
  state = { lists, teams }
  drawNav()
}

/** Draws the page the address names; `focus` moves the keyboard to its heading. */
async function show({ focus = true } = {}) {
  if (!session) return
  const drawing = ++drawn
  const where = route()
  drawNav()
  const view = $('view')
  if (where.kind === 'teams') {
    await renderTeams(view, {
      api,
      user: session.user,
      teams: () => state.teams,
      reload,
      isCurrent: () => drawing === drawn,
    })
  } else {
    const list = state.lists.find((l) => l.id === where.id)
    if (!list) {
      view.replaceChildren(
        el('h2', { id: 'view-heading', tabIndex: -1, textContent: 'No such list' }),
        el('p', { textContent: 'It was deleted, or it is no longer shared with you.' }),
      )
    } else {
      view.setAttribute('aria-busy', 'true')
      const [todos, members] = await Promise.all([
        api('GET', `/api/lists/${enc(list.id)}/todos`),
        api('GET', `/api/lists/${enc(list.id)}/members`),
      ]).finally(() => view.removeAttribute('aria-busy'))
      if (drawing !== drawn) return
      view.replaceChildren(...listView(list, todos, members).filter(Boolean))
    }
  }
  if (focus) $('view-heading')?.focus()
}

// The navigation ---------------------------------------------------------------------------------

function navItem(list) {
  const current = route()
  const link = el('a', { href: listHref(list), textContent: list.name, className: 'nav-link' })
  if (current.kind === 'list' && current.id === list.id) link.setAttribute('aria-current', 'page')
  const about = list.role === 'owner' ? null : `${list.owner_username} · ${list.role}`
  if (!about) return el('li', {}, link)
  const aboutId = uid('about')
  link.setAttribute('aria-describedby', aboutId)
  return el('li', {}, link, el('span', { id: aboutId, className: 'meta', textContent: about }))
}

/**
 * The navigation's frame, once per sign-in: its headings and the "New list" form stay put while
 * the lists in it are redrawn, so what is being typed there survives a redraw.
 */
function buildNav() {
  return el(
    'nav',
    { id: 'nav', className: 'nav', attrs: { 'aria-label': 'Lists and teams' } },
    el('h2', { className: 'nav-heading', textContent: 'Your lists' }),
    el('ul', { id: 'nav-mine', className: 'nav-lists' }),
    form({
      name: 'New list',
      className: 'compact',
      fields: [{ name: 'name', label: 'New list', maxLength: 100 }],
      submitText: 'Create',
      submit: async ({ name }) => {
        const list = await api('POST', '/api/lists', { name })
        await reload()
        navigate(listHref(list), `Created the list ${q(list.name)}.`)
      },
    }),
    el('h2', { className: 'nav-heading', textContent: 'Shared with you' }),
    el('div', { id: 'nav-shared' }),
    el('div', { id: 'nav-archived' }),
    el('h2', { className: 'nav-heading', textContent: 'Teams' }),
    el('p', { id: 'nav-teams' }),
  )
}

function drawNav() {
  const live = state.lists.filter((l) => !l.archived)
  const archived = state.lists.filter((l) => l.archived)
  const shared = live.filter((l) => l.role !== 'owner')
  $('nav-mine').replaceChildren(...live.filter((l) => l.role === 'owner').map(navItem))
  $('nav-shared').replaceChildren(
    shared.length
      ? el('ul', { className: 'nav-lists' }, ...shared.map(navItem))
      : el('p', { className: 'meta', textContent: 'Nothing yet. Lists others share appear here.' }),
  )
  // Folded away, unless it holds the open list or was unfolded.
  const wasOpen = $('nav-archived').querySelector('details')?.open
  $('nav-archived').replaceChildren(
    ...(archived.length
      ? [
          el(
            'details',
            { open: wasOpen || archived.some((l) => l.id === route().id) },
            el('summary', { textContent: `Archived (${archived.length})` }),
            el('ul', { className: 'nav-lists' }, ...archived.map(navItem)),
          ),
        ]
      : []),
  )
  const teamsLink = el('a', { href: '#/teams', textContent: 'Your teams', className: 'nav-link' })
  if (route().kind === 'teams') teamsLink.setAttribute('aria-current', 'page')
  $('nav-teams').replaceChildren(
    teamsLink,
    el('span', {
      className: 'meta nav-note',
      textContent: state.teams.length
        ? state.teams.map((t) => t.name).join(', ')
        : 'None yet: a team shares lists with a group.',
    }),
  )
}

// One list ---------------------------------------------------------------------------------------

function describe(list) {
  if (list.role === 'owner')
    return list.default ? 'Your list; new todos go here by default.' : 'Your list.'
  const can = list.role === 'editor' ? 'you are an editor' : 'you are a viewer'
  return `Shared with you by ${list.owner_username}; ${can}.`
}

function listView(list, todos, members) {
  const canEdit = list.role !== 'viewer' && !list.archived
  const isOwner = list.role === 'owner'
  // Open todos first, then the done ones; newest first within each, as the API sends them.
  const sorted = [...todos.filter((t) => !t.completed), ...todos.filter((t) => t.completed)]
  const items = el('ul', { className: 'todos' }, ...sorted.map((t) => todoItem(t, canEdit)))
  items.setAttribute('aria-label', `Todos in ${q(list.name)}`)
  const empty = el('p', {
    className: 'meta empty',
    textContent: canEdit
      ? 'Nothing to do yet. Add the first todo above.'
      : 'No todos in this list.',
    hidden: todos.length > 0,
  })
  items.addEventListener('todo-removed', () => {
    empty.hidden = items.children.length > 0
  })

  const notes = []
  if (list.archived)
    notes.push(
      el('p', {
        className: 'note',
        textContent: isOwner
          ? 'Archived: read-only for everyone, you included, until you unarchive it.'
          : 'Archived by its owner: read-only.',
      }),
    )
  else if (list.role === 'viewer')
    notes.push(
      el('p', { className: 'note', textContent: 'You can see this list but not change it.' }),
    )

  return [
    el(
      'div',
      { className: 'view-head' },
      el('h2', { id: 'view-heading', tabIndex: -1, textContent: list.name }),
      el('p', { className: 'meta', textContent: describe(list) }),
    ),
    ...notes,
    canEdit
      ? form({
          name: `Add a todo to ${list.name}`,
          className: 'add-todo',
          fields: [{ name: 'title', label: 'New todo', maxLength: 200 }],
          submitText: 'Add',
          submit: async ({ title }) => {
            const todo = await api('POST', `/api/lists/${enc(list.id)}/todos`, { title })
            items.prepend(todoItem(todo, canEdit))
            empty.hidden = true
          },
        })
      : null,
    items,
    empty,
    sharing(list, members),
    isOwner ? settings(list) : null,
  ]
}

const todoPath = (todo) => `/api/todos/${enc(todo.id)}`

function todoItem(todo, canEdit) {
  const item = el('li', { className: todo.completed ? 'done' : '' })
  const id = uid('todo')
  const show = () => {
    const box = el('input', { type: 'checkbox', id, checked: todo.completed, disabled: !canEdit })
    box.addEventListener('change', () =>
      act(async () => {
        try {
          Object.assign(todo, await api('PATCH', todoPath(todo), { completed: box.checked }))
          item.classList.toggle('done', todo.completed)
        } catch (err) {
          box.checked = !box.checked
          throw err
        }
      }),
    )
    const edit = button('Edit', startEditing, {
      label: `Edit ${q(todo.title)}`,
      className: 'quiet',
    })
    const remove = button(
      'Delete',
      async () => {
        await api('DELETE', todoPath(todo))
        const next = item.nextElementSibling ?? item.previousElementSibling
        const parent = item.parentElement
        item.remove()
        parent?.dispatchEvent(new Event('todo-removed'))
        done(`Deleted ${q(todo.title)}.`)
        ;(next?.querySelector('input') ?? $('view-heading'))?.focus()
      },
      { label: `Delete ${q(todo.title)}`, className: 'quiet danger' },
    )
    item.replaceChildren(
      box,
      el('label', { htmlFor: id, textContent: todo.title }),
      canEdit ? el('span', { className: 'actions' }, edit, remove) : null,
    )
    return edit
  }
  const startEditing = () => {
    const editor = form({
      name: `Edit ${todo.title}`,
      className: 'edit-todo',
      keep: true,
      fields: [{ name: 'title', label: 'Title', value: todo.title, maxLength: 200 }],
      submitText: 'Save',
      submit: async ({ title }) => {
        Object.assign(todo, await api('PATCH', todoPath(todo), { title }))
        show().focus()
      },
    })
    const cancel = button('Cancel', () => show().focus(), { className: 'quiet' })
    editor.querySelector('button[type=submit]').after(cancel)
    editor.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') show().focus()
    })
    item.replaceChildren(editor)
    const input = editor.querySelector('input')
    input.focus()
    input.select()
  }
  show()
  return item
}

// Sharing ----------------------------------------------------------------------------------------

function sharing(list, members) {
  const isOwner = list.role === 'owner'
  const canShare = isOwner && !list.archived
  const others = members.filter((m) => m.role !== 'owner')
  const headingId = uid('sharing')
  const rows = el('ul', { className: 'members' })
  const nobody = el('p', { className: 'meta', textContent: 'Only you can see this list.' })

  const row = (m) => {
    const who =
      m.type === 'team' ? `${m.name} (team)` : m.id === session.user.id ? `${m.name} (you)` : m.name
    return el(
      'li',
      { attrs: { 'data-member': `${m.type}:${m.id}` } },
      el('span', { className: 'who', textContent: who }),
      el('span', { className: 'role', textContent: m.role }),
      canShare
        ? button(
            'Stop sharing',
            async (b) => {
              await api('DELETE', `/api/lists/${enc(list.id)}/members/${m.type}s/${enc(m.id)}`)
              const li = b.closest('li')
              li.remove()
              nobody.hidden = rows.children.length > 0
              done(`${q(list.name)} is no longer shared with ${who}.`)
              section.querySelector('input')?.focus()
            },
            { label: `Stop sharing ${q(list.name)} with ${who}`, className: 'quiet danger' },
          )
        : null,
    )
  }
  /** Adds or replaces the row of a member after a share. */
  const upsert = (m) => {
    const key = `${m.type}:${m.id}`
    const old = [...rows.children].find((li) => li.dataset.member === key)
    if (old) old.replaceWith(row(m))
    else rows.append(row(m))
    nobody.hidden = true
  }
  rows.append(...others.map(row))
  nobody.hidden = others.length > 0

  const owner = members.find((m) => m.role === 'owner')
  const section = el(
    'section',
    { className: 'panel', attrs: { 'aria-labelledby': headingId } },
    el('h3', { id: headingId, textContent: 'Sharing' }),
    isOwner
      ? null
      : el('p', { className: 'meta', textContent: `Owner: ${owner?.name ?? list.owner_username}` }),
    rows,
    isOwner ? nobody : null,
  )
  if (!canShare) return section

  section.append(
    form({
      name: `Share ${list.name} with a person`,
      title: 'With a person',
      fields: [
        { name: 'username', label: 'Username', maxLength: 64, username: true },
        { name: 'role', label: 'Role', options: ROLES },
      ],
      submitText: 'Share',
      submit: async ({ username, role }) => {
        const m = await api('POST', `/api/lists/${enc(list.id)}/members/users`, {
          username: username.trim(),
          role,
        })
        upsert(m)
        done(`Shared ${q(list.name)} with ${m.name} as ${m.role}.`)
      },
    }),
  )
  const teams = state.teams
  section.append(
    teams.length
      ? form({
          name: `Share ${list.name} with a team`,
          title: 'With a team',
          fields: [
            { name: 'team', label: 'Team', options: teams.map((t) => [t.id, t.name]) },
            { name: 'role', label: 'Role', options: ROLES },
          ],
          submitText: 'Share with team',
          submit: async ({ team, role }) => {
            const m = await api('PUT', `/api/lists/${enc(list.id)}/members/teams/${enc(team)}`, {
              role,
            })
            upsert(m)
            done(`Shared ${q(list.name)} with the team ${m.name} as ${m.role}.`)
          },
        })
      : el(
          'p',
          { className: 'meta' },
          'To share with a group, ',
          el('a', { href: '#/teams', textContent: 'make a team' }),
          ' first.',
        ),
  )
  return section
}

// Settings ---------------------------------------------------------------------------------------

function settings(list) {
  const headingId = uid('settings')
  const section = el(
    'section',
    { className: 'panel', attrs: { 'aria-labelledby': headingId } },
    el('h3', { id: headingId, textContent: 'List settings' }),
  )
  if (!list.archived)
    section.append(
      form({
        name: `Rename ${list.name}`,
        className: 'compact rename',
        keep: true,
        fields: [{ name: 'name', label: 'Name', value: list.name, maxLength: 100 }],
        submitText: 'Rename',
        submit: async ({ name }) => {
          const renamed = await api('PATCH', `/api/lists/${enc(list.id)}`, { name })
          await reload()
          await show({ focus: false })
          done(`Renamed to ${q(renamed.name)}.`)
          $('view').querySelector('.rename input')?.focus()
        },
      }),
    )
  if (list.default) {
    section.append(
      el('p', {
        className: 'meta',
        textContent: 'Your default list cannot be archived or deleted.',
      }),
    )
    return section
  }
  section.append(
    el(
      'p',
      { className: 'buttons' },
      button(list.archived ? 'Unarchive' : 'Archive', async () => {
        await api('PATCH', `/api/lists/${enc(list.id)}`, { archived: !list.archived })
        await reload()
        await show()
        done(list.archived ? `Unarchived ${q(list.name)}.` : `Archived ${q(list.name)}.`)
      }),
      list.archived
        ? null
        : button(
            'Delete list',
            async () => {
              if (!confirm(`Delete ${q(list.name)} and all its todos? This cannot be undone.`))
                return
              await api('DELETE', `/api/lists/${enc(list.id)}`)
              await reload()
              navigate('', `Deleted the list ${q(list.name)}.`)
            },
            { label: `Delete list ${q(list.name)}`, className: 'danger' },
          ),
    ),
  )
  return section
}

// Signed in and out ------------------------------------------------------------------------------

/** What to say once the page the address now names is drawn (after a create or a delete). */
let arriving = ''

function navigate(hash, message) {
  arriving = message
  if (location.hash === hash) act(arrive)
  else location.hash = hash
}

async function arrive() {
  const message = arriving
  arriving = ''
  await show()
  if (message) done(message)
}

window.addEventListener('hashchange', () => act(arrive))

document.addEventListener('todo-auth:signed-in', (event) => {
  session = event.detail
  root.replaceChildren(
    buildNav(),
    el('section', { id: 'view', attrs: { 'aria-labelledby': 'view-heading' } }),
  )
  root.hidden = false
  act(async () => {
    await reload()
    await show({ focus: false })
    // Straight to work: the new-todo field of the list, if there is one.
    ;(root.querySelector('.add-todo input') ?? $('view-heading'))?.focus()
  })
})

document.addEventListener('todo-auth:signed-out', () => {
  session = null
  state = { lists: [], teams: [] }
  drawn++
  root.hidden = true
  root.replaceChildren()
})
