// Shared by the CLI tests that run an operator script against a wrangler state directory.
import { spawn } from 'node:child_process'

/**
 * Runs `node <script> ...args --persist-to <persistTo>` as `npm run ...` would (minus npm) and
 * resolves to { code, stdout, stderr }. With `stdin` (a string) it is piped in; without, stdin is
 * closed. `env`, if given, replaces the environment.
 * @param {string} script
 * @param {string[]} args
 * @param {{ persistTo: string, stdin?: string, env?: NodeJS.ProcessEnv }} options
 * @returns {Promise<{ code: number | null, stdout: string, stderr: string }>}
 */
export function runCli(script, args, { persistTo, stdin, env }) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args, '--persist-to', persistTo], {
      stdio: stdin === undefined ? ['ignore', 'pipe', 'pipe'] : 'pipe',
      ...(env && { env }),
    })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (s) => (stdout += s))
    child.stderr.setEncoding('utf8').on('data', (s) => (stderr += s))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
    if (stdin !== undefined) child.stdin.end(stdin)
  })
}
