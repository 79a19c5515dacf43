// Lists, sharing and teams in the web client. A module of its own: app.js owns the login and the
// tokens, and tells this one when a user is signed in (with its `api` function, which sends the
// Bearer token and refreshes it) and when they are signed out. No token is seen or kept here.
//
// Everything is built with DOM calls and textContent, never innerHTML: names come from other
// users and are shown as text. Labels and button names never contain those of the todo view
// ("New todo", "Add", "Delete “…”"), so each control of the page keeps a name of its own.

const $ = (id) => document.getElementById(id)
const root = $('lists-view')

/** @type {null | { api: (method: string, path: string, body?: unknown) => Promise<any>, user: any }} */
let session = null
let openList = null
// Each drawing of the lists column and of the open list is numbered. One that a newer drawing
// overtook while it waited for the server draws nothing: a late answer (the first render after
// signing in, say) must not replace what the user is typing into with a stale copy.
let listsDrawn = 0
let detailDrawn = 0

function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props)
  node.append(...children.filter((c) => c !== null && c !== undefined))
  return node
}

const button = (text, onClick, label) => {
  const b = el('button', { type: 'button', textContent: text })
  if (label) b.setAttribute('aria-label', label)
  b.addEventListener('click', () => act(onClick))
  return b
}

function say(text) {
  const status = $('lists-message')
  status.textContent = text
  status.hidden = !text
}

/** Runs a user action, showing its error, if any, in the panel's own alert region. */
async function act(action) {
  try {
    say('')
    await action()
  } catch (err) {
    if (!err?.status) console.error(err)
    say(err?.status ? err.message : 'The server could not be reached.')
  }
}

const api = (method, path, body) => session.api(method, path, body)
const id = (value) => encodeURIComponent(value)

/** A small form: labelled fields and a submit button; `submit` gets the fields' values. */
function form(name, fields, submitText, submit) {
  const f = el('form', { className: 'inline-form', ariaLabel: name })
  for (const field of fields) {
    const inputId = `${name.replace(/\W+/g, '-').toLowerCase()}-${field.name}`
    const input = field.options
      ? el('select', { id: inputId, name: field.name }, ...field.options.map(optionOf))
      : el('input', { id: inputId, name: field.name, required: true, autocomplete: 'off' })
    if (field.maxLength) input.maxLength = field.maxLength
    f.append(el('label', { htmlFor: inputId, textContent: field.label }), input)
  }
  f.append(el('button', { type: 'submit', textContent: submitText }))
  f.addEventListener('submit', (event) => {
    event.preventDefault()
    act(async () => {
      await submit(Object.fromEntries(new FormData(f)))
      f.reset()
    })
  })
  return f
}

const optionOf = ([value, text]) => el('option', { value, textContent: text })

async function render() {
  if (!session) return
  const drawing = ++listsDrawn
  const [lists, teams] = await Promise.all([api('GET', '/api/lists'), api('GET', '/api/teams')])
  if (drawing !== listsDrawn) return
  const listItems = lists.map((list) =>
    el(
      'li',
      { className: list.id === openList ? 'open' : '' },
      button(list.name, () => show(list.id), `Open list “${list.name}”`),
      el('span', {
        className: 'meta',
        textContent: [
          list.role,
          list.role === 'owner' ? null : `of ${list.owner_username}`,
          list.archived ? 'archived' : null,
        ]
          .filter(Boolean)
          .join(' · '),
      }),
    ),
  )
  $('lists-all').replaceChildren(...listItems)
  $('teams-all').replaceChildren(...teams.map((team) => teamItem(team)))
  if (openList && !lists.some((l) => l.id === openList)) openList = null
  if (openList) await show(openList, lists, teams)
  else {
    detailDrawn++
    $('list-detail').replaceChildren()
  }
}

function teamItem(team) {
  const members = team.members.map((m) =>
    el(
      'li',
      {},
      el('span', { textContent: `${m.username} (${m.role})` }),
      team.role === 'manager' || m.id === session.user.id
        ? button(
            m.id === session.user.id ? 'Leave' : 'Remove',
            async () => {
              await api('DELETE', `/api/teams/${id(team.id)}/members/${id(m.id)}`)
              await render()
            },
            `${m.id === session.user.id ? 'Leave' : 'Remove'} ${m.username} from “${team.name}”`,
          )
        : null,
    ),
  )
  return el(
    'li',
    {},
    el('strong', { textContent: team.name }),
    el('span', { className: 'meta', textContent: ` you are ${team.role}` }),
    el('ul', {}, ...members),
    team.role === 'manager'
      ? form(
          `Add to ${team.name}`,
          [
            { name: 'user_id', label: 'User id' },
            {
              name: 'role',
              label: 'Role',
              options: [
                ['member', 'member'],
                ['manager', 'manager'],
              ],
            },
          ],
          'Save member',
          async ({ user_id, role }) => {
            await api('PUT', `/api/teams/${id(team.id)}/members/${id(user_id.trim())}`, { role })
            await render()
          },
        )
      : null,
  )
}

/** Opens one list: its todos and, for what the caller's role allows, its controls. */
async function show(listId, lists, teams) {
  openList = listId
  const drawing = ++detailDrawn
  const [list, todos, members] = await Promise.all([
    lists?.find((l) => l.id === listId) ?? api('GET', `/api/lists/${id(listId)}`),
    api('GET', `/api/lists/${id(listId)}/todos`),
    api('GET', `/api/lists/${id(listId)}/members`),
  ])
  teams ??= await api('GET', '/api/teams')
  if (drawing !== detailDrawn) return
  const canEdit = list.role !== 'viewer' && !list.archived
  const isOwner = list.role === 'owner'

  const todoItems = todos.map((todo) => {
    const box = el('input', {
      type: 'checkbox',
      id: `list-todo-${todo.id}`,
      checked: todo.completed,
    })
    box.disabled = !canEdit
    box.addEventListener('change', () =>
      act(async () => {
        try {
          await api('PATCH', `/api/todos/${id(todo.id)}`, { completed: box.checked })
        } catch (err) {
          box.checked = !box.checked
          throw err
        }
      }),
    )
    return el(
      'li',
      {},
      box,
      el('label', { htmlFor: box.id, textContent: todo.title }),
      canEdit
        ? button(
            'Remove',
            async () => {
              await api('DELETE', `/api/todos/${id(todo.id)}`)
              await show(listId)
            },
            `Remove “${todo.title}” from “${list.name}”`,
          )
        : null,
    )
  })

  const memberItems = members.map((m) =>
    el(
      'li',
      {},
      el('span', { textContent: `${m.name} (${m.type === 'team' ? 'team, ' : ''}${m.role})` }),
      isOwner && m.role !== 'owner' && !list.archived
        ? button(
            'Unshare',
            async () => {
              await api('DELETE', `/api/lists/${id(listId)}/members/${m.type}s/${id(m.id)}`)
              await show(listId)
            },
            `Stop sharing “${list.name}” with ${m.name}`,
          )
        : null,
    ),
  )
  const roles = [
    ['viewer', 'viewer'],
    ['editor', 'editor'],
  ]
  const shareForms =
    isOwner && !list.archived
      ? [
          form(
            `Share ${list.name} with a user`,
            [
              { name: 'user_id', label: 'User id' },
              { name: 'role', label: 'Role', options: roles },
            ],
            'Share',
            async ({ user_id, role }) => {
              await api('PUT', `/api/lists/${id(listId)}/members/users/${id(user_id.trim())}`, {
                role,
              })
              await show(listId)
            },
          ),
          teams.length > 0
            ? form(
                `Share ${list.name} with a team`,
                [
                  { name: 'team_id', label: 'Team', options: teams.map((t) => [t.id, t.name]) },
                  { name: 'role', label: 'Role', options: roles },
                ],
                'Share with team',
                async ({ team_id, role }) => {
                  await api('PUT', `/api/lists/${id(listId)}/members/teams/${id(team_id)}`, {
                    role,
                  })
                  await show(listId)
                },
              )
            : null,
        ]
      : []

  $('list-detail').replaceChildren(
    el('h3', { id: 'list-detail-heading', textContent: list.name }),
    el('p', {
      className: 'meta',
      textContent: `You are ${list.role}${list.archived ? '; archived: read-only until unarchived' : ''}.`,
    }),
    canEdit
      ? form(
          `Add to ${list.name}`,
          [{ name: 'title', label: 'Todo for this list', maxLength: 200 }],
          'Put in list',
          async ({ title }) => {
            await api('POST', `/api/lists/${id(listId)}/todos`, { title })
            await show(listId)
          },
        )
      : null,
    el('ul', { className: 'list-todos' }, ...todoItems),
    todos.length === 0
      ? el('p', { className: 'meta', textContent: 'No todos in this list.' })
      : null,
    el('h4', { textContent: 'Shared with' }),
    el('ul', { className: 'members' }, ...memberItems),
    ...shareForms,
    isOwner && !list.default
      ? el(
          'p',
          {},
          button(list.archived ? 'Unarchive' : 'Archive', async () => {
            await api('PATCH', `/api/lists/${id(listId)}`, { archived: !list.archived })
            await render()
          }),
          list.archived
            ? null
            : button('Delete list', async () => {
                await api('DELETE', `/api/lists/${id(listId)}`)
                openList = null
                await render()
              }),
        )
      : null,
  )
}

function detail() {
  const section = el('section', { id: 'list-detail' })
  section.setAttribute('aria-labelledby', 'list-detail-heading')
  return section
}

function build() {
  root.replaceChildren(
    el('h2', { id: 'lists-heading', textContent: 'Lists' }),
    el('p', { id: 'lists-message', role: 'alert', hidden: true }),
    el('p', { className: 'hint', id: 'my-id' }),
    el('ul', { id: 'lists-all' }),
    form(
      'New list',
      [{ name: 'name', label: 'New list', maxLength: 100 }],
      'Create list',
      async ({ name }) => {
        const list = await api('POST', '/api/lists', { name })
        openList = list.id
        await render()
      },
    ),
    detail(),
    el('h2', { textContent: 'Teams' }),
    el('ul', { id: 'teams-all' }),
    form(
      'New team',
      [{ name: 'name', label: 'New team', maxLength: 100 }],
      'Create team',
      async ({ name }) => {
        await api('POST', '/api/teams', { name })
        await render()
      },
    ),
  )
}

document.addEventListener('todo-auth:signed-in', (event) => {
  session = event.detail
  openList = null
  build()
  $('my-id').textContent = `Your user id, for others to share with you: ${session.user.id}`
  root.hidden = false
  act(render)
})

document.addEventListener('todo-auth:signed-out', () => {
  session = null
  openList = null
  listsDrawn++
  detailDrawn++
  root.hidden = true
  root.replaceChildren()
})
