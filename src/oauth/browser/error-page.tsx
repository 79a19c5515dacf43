import { Layout } from './layout'

/** What the person sees when the request cannot go back to the app (RFC 6749 §4.1.2.1). */
export const ErrorPage = (p: { message: string }) => (
  <Layout title="Cannot continue">
    <section aria-labelledby="error-heading">
      <h2 id="error-heading">This sign-in cannot continue</h2>
      <p id="message" role="alert">
        {p.message}
      </p>
      <p>
        Go back to the app and start again. <a href="/">todo-auth home</a>
      </p>
    </section>
  </Layout>
)
