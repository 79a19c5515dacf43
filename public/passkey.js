// Passkeys on the server-rendered pages (src/oauth/browser/passkey.tsx): the login pages, the
// device page and /account. Each `form.passkey` carries its ceremony's options (WebAuthn §5.4 or
// §5.5, made by the server with a challenge sealed to this browser) on its button. The script
// runs the ceremony with @simplewebauthn/browser (public/vendor/simplewebauthn/, copied by
// scripts/assets.mjs), puts the result in the form's `passkey` field and submits the form: no
// fetch, so the pages' CSP needs only `script-src 'self'`. Without WebAuthn the forms stay hidden.
;(() => {
  const webauthn = window.SimpleWebAuthnBrowser
  if (!webauthn?.browserSupportsWebAuthn()) return

  const MESSAGES = {
    NotAllowedError: 'The passkey request was cancelled or timed out. Try again.',
    InvalidStateError: 'This device already holds a passkey for this account.',
    SecurityError: 'Passkeys do not work on this address.',
  }

  for (const form of document.querySelectorAll('form.passkey')) {
    const button = form.querySelector('button[data-options]')
    const field = form.querySelector('input[name="passkey"]')
    const alert = form.querySelector('.passkey-error')
    const optionsJSON = JSON.parse(button.dataset.options)
    const create = form.dataset.ceremony === 'create'
    let busy = false

    const finish = (response) => {
      field.value = JSON.stringify(response)
      form.submit()
    }
    const fail = (err) => {
      busy = false
      button.disabled = false
      // A ceremony this page started in its place (the button after the autofill) aborts it.
      if (err?.name === 'AbortError') return
      alert.textContent = MESSAGES[err?.name] ?? 'The passkey did not work. Try again.'
      alert.hidden = false
    }
    const run = async () => {
      if (busy) return
      busy = true
      button.disabled = true
      alert.hidden = true
      try {
        finish(
          create
            ? await webauthn.startRegistration({ optionsJSON })
            : await webauthn.startAuthentication({ optionsJSON }),
        )
      } catch (err) {
        fail(err)
      }
    }

    button.addEventListener('click', run)
    // Enter in the form's own field (the new passkey's name) runs the ceremony too.
    form.addEventListener('submit', (event) => {
      if (field.value) return
      event.preventDefault()
      run()
    })
    form.hidden = false

    // The username field's autofill offers the passkeys too (WebAuthn §5.1.4 mediation
    // "conditional"), with the same challenge: whichever answers first is the one submitted.
    if (form.dataset.autofill === 'true')
      webauthn.browserSupportsWebAuthnAutofill().then((supported) => {
        if (supported)
          webauthn.startAuthentication({ optionsJSON, useBrowserAutofill: true }).then(finish, fail)
      })
  }
})()
