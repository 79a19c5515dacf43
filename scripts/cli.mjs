// What the operator CLIs (user, client, idp) share: how they fail and how they end.

/** A wrong invocation: exit code 2, with the usage. */
export class UsageError extends Error {}
/** A refusal (exit code 1): thrown, not exited on, so the D1 binding is always disposed. */
export class Refused extends Error {}

/**
 * Runs a CLI's `main(onDispose)` and sets the exit code: 2 for a usage error (with `usage`), 1 for
 * any other, its message prefixed with `name` and followed by `hint(err)`. Whatever `main` handed
 * to `onDispose` (the D1 binding's workerd) is stopped at the end; Node would not exit otherwise.
 */
export async function runCli(name, usage, main, hint = () => '') {
  let dispose = async () => {}
  try {
    await main((fn) => {
      dispose = fn
    })
  } catch (err) {
    if (err instanceof UsageError || err?.code?.startsWith?.('ERR_PARSE_ARGS')) {
      console.error(`${name}: ${err.message}\n\n${usage}`)
      process.exitCode = 2
    } else {
      console.error(`${name}: ${err.message}${hint(err)}`)
      process.exitCode = 1
    }
  } finally {
    await dispose()
  }
}
