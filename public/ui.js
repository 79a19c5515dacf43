// Small DOM helpers shared by the signed-in views (lists.js, teams.js). Everything is built with
// DOM calls and textContent, never innerHTML: names come from other users and are shown as text.

export const $ = (id) => document.getElementById(id)

/** An element with properties (and `attrs` for attributes such as aria-*) and children. */
export function el(tag, props = {}, ...children) {
  const { attrs, ...rest } = props
  const node = Object.assign(document.createElement(tag), rest)
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value !== null && value !== undefined) node.setAttribute(name, value)
  }
  node.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false))
  return node
}

let ids = 0
/** A fresh id for a label or an aria-describedby. */
export const uid = (prefix) => `${prefix}-${++ids}`

/** Quoted for a sentence or an accessible name: “Party”. */
export const q = (text) => `“${text}”`

/**
 * The outcome of the last action, in one of two live regions: `#message` (role=alert, styled as
 * a problem) for what went wrong, `#status` (role=status, styled as done) for what went right.
 * Each action clears both first, so an old message never stands beside a new outcome. Both stay
 * in the page (empty, and then taking no room), so that screen readers announce what is written.
 */
export function problem(text) {
  $('message').textContent = text
}

export function done(text) {
  $('status').textContent = text
}

const messageOf = (err) => {
  if (!err?.status) console.error(err)
  return err?.status ? err.message : 'The server could not be reached. Try again.'
}

/** Runs a user action; its error goes to the alert region, or to `onError` when given. */
export async function act(action, onError = problem) {
  problem('')
  done('')
  try {
    await action()
  } catch (err) {
    onError(messageOf(err))
  }
}

/** A button that runs `onClick` as an action; `label` is its accessible name when the text is short. */
export function button(text, onClick, { label, className } = {}) {
  const b = el('button', { type: 'button', textContent: text, className: className ?? '' })
  if (label) b.setAttribute('aria-label', label)
  // Busy while its request is out, so a double click does not send it twice.
  b.addEventListener('click', async () => {
    b.disabled = true
    await act(() => onClick(b))
    b.disabled = false
    // A disabled button loses the focus; give it back if the action moved it nowhere else.
    if (b.isConnected && document.activeElement === document.body) b.focus()
  })
  return b
}

/**
 * A form named `name`, with an optional visible `title`. `fields`: `{ name, label, options?,
 * value?, maxLength?, username? }`; `submit` gets the values. Unless `keep`, the fields are
 * emptied as it is sent and filled again if it fails. Its errors show inside the form, below its
 * fields (role=alert), and the first text field is marked invalid and focused.
 */
export function form({ name, title, fields, submitText, submit, className = '', keep = false }) {
  const errorId = uid('error')
  // Outside the row of fields and always in the page (empty, it takes no room): see problem().
  const error = el('p', { id: errorId, className: 'field-error', attrs: { role: 'alert' } })
  const inputs = fields.map((field) => {
    const id = uid(field.name)
    const input = field.options
      ? el('select', { id, name: field.name }, ...field.options.map(optionOf))
      : el('input', {
          id,
          name: field.name,
          required: true,
          autocomplete: 'off',
          value: field.value ?? '',
        })
    if (field.maxLength) input.maxLength = field.maxLength
    if (field.username) {
      input.setAttribute('autocapitalize', 'none')
      input.spellcheck = false
    }
    if (field.options && field.value) input.value = field.value
    input.setAttribute('aria-describedby', errorId)
    return { input, node: el('div', { className: 'field' }, labelFor(id, field.label), input) }
  })
  const f = el(
    'form',
    { className: `form ${className}`, attrs: { 'aria-label': name } },
    title ? el('h4', { className: 'form-title', textContent: title }) : null,
    el(
      'div',
      { className: 'row' },
      ...inputs.map((i) => i.node),
      el('button', { type: 'submit', textContent: submitText }),
    ),
    error,
  )
  const showError = (text) => {
    error.textContent = text
    const first = inputs.find((i) => i.input.tagName === 'INPUT')?.input
    first?.setAttribute('aria-invalid', String(Boolean(text)))
    if (text) first?.focus()
  }
  f.addEventListener('submit', (event) => {
    event.preventDefault()
    showError('')
    const values = Object.fromEntries(new FormData(f))
    // Emptied at once, so the next entry can be typed while this one is sent; put back if it fails.
    if (!keep) f.reset()
    act(
      () => submit(values),
      (text) => {
        for (const { input } of inputs) input.value = values[input.name] ?? input.value
        showError(text)
      },
    )
  })
  return f
}

const labelFor = (id, text) => el('label', { htmlFor: id, textContent: text })
const optionOf = ([value, text]) => el('option', { value, textContent: text })
