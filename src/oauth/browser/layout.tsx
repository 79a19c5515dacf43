import type { Child } from 'hono/jsx'

/**
 * The frame of the sign-in and account pages: server-rendered, no script but a passkey form's
 * (./passkey.tsx), the site's stylesheet and the pages' own (public/pages.css).
 * `same-origin` referrers, so that the browser sends Origin with the forms (a no-referrer
 * document sends `Origin: null`, which the Origin check refuses).
 */
export const Layout = ({ title, children }: { title: string; children: Child }) => (
  <html lang="en">
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      <meta name="referrer" content="same-origin" />
      <title>{`${title} · todo-auth`}</title>
      <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
      <link rel="stylesheet" href="/app.css" />
      <link rel="stylesheet" href="/pages.css" />
    </head>
    <body>
      <header>
        <h1>todo-auth</h1>
      </header>
      <main>{children}</main>
    </body>
  </html>
)
