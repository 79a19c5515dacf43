// Reading a secret (a password, a client secret) for the CLIs, never from an argument.

/** One line from a terminal, not echoed. Backspace edits; Ctrl-C and Ctrl-D abort. */
export function promptHidden(question) {
  const { stdin, stderr } = process
  return new Promise((resolve, reject) => {
    let value = ''
    const finish = (err) => {
      stdin.setRawMode(false)
      stdin.pause()
      stdin.off('data', onData)
      stderr.write('\n')
      err ? reject(err) : resolve(value)
    }
    const onData = (chunk) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return finish()
        if (ch === '\u0003' || ch === '\u0004') return finish(new Error('aborted'))
        if (ch === '\u007f' || ch === '\b') value = Array.from(value).slice(0, -1).join('')
        else if (ch >= ' ') value += ch
      }
    }
    stderr.write(question)
    stdin.setRawMode(true)
    stdin.setEncoding('utf8')
    stdin.on('data', onData)
    stdin.resume()
  })
}
