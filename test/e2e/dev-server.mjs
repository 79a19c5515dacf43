// `npm run dev` for the end-to-end tests, on a port of the caller's choosing (the inspector on
// port + 1000), in its own process group so that it and everything it spawned can be ended.
import { spawn } from 'node:child_process'
import { setTimeout as sleep } from 'node:timers/promises'

/** @param {number} port @param {string[]} [extraArgs] further arguments for `npm run dev --` */
export function devServer(port, extraArgs = []) {
  const base = `http://127.0.0.1:${port}`
  let server
  let output = ''

  function stopNow() {
    if (server?.exitCode === null && server.signalCode === null) {
      try {
        process.kill(-server.pid, 'SIGTERM')
      } catch {
        // already gone
      }
    }
  }

  return {
    base,
    output: () => output,

    start() {
      server = spawn(
        'npm',
        [
          'run',
          'dev',
          '--',
          '--port',
          String(port),
          '--inspector-port',
          String(port + 1000),
          ...extraArgs,
        ],
        { detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
      )
      for (const stream of [server.stdout, server.stderr])
        stream.on('data', (chunk) => (output += chunk))
      // Even if the run dies halfway, the server does not outlive it.
      process.on('exit', stopNow)
    },

    async stop() {
      if (!server || server.exitCode !== null || server.signalCode !== null) return
      const exited = new Promise((resolve) => server.once('exit', resolve))
      stopNow()
      if ((await Promise.race([exited, sleep(10_000, 'timeout')])) === 'timeout')
        process.kill(-server.pid, 'SIGKILL')
    },

    async waitForHealth(timeoutMs = 120_000) {
      const deadline = Date.now() + timeoutMs
      while (Date.now() < deadline) {
        if (server.exitCode !== null)
          throw new Error(`npm run dev exited with ${server.exitCode}:\n${output}`)
        try {
          if ((await fetch(`${base}/healthz`)).ok) return
        } catch {
          // not listening yet
        }
        await sleep(500)
      }
      throw new Error(`no healthy server on ${base} after ${timeoutMs} ms:\n${output}`)
    },
  }
}
