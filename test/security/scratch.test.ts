import { it } from 'vitest'
import { call, form, makeUser, login, bearer } from '../helpers'

it('probe', async () => {
  const u = await makeUser()
  const t = await login(u)
  const big = 'a'.repeat(20000)
  const stream = () => new ReadableStream({ start(ctl) { ctl.enqueue(new TextEncoder().encode('{"title":"' + big + '"}')); ctl.close() } })
  const cases: [string, string, RequestInit][] = [
    ['dup', '/auth/token', form([['username', 'a'], ['username', 'b'], ['password', 'x']])],
    ['json token', '/auth/token', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"username":"a"}' }],
    ['no ct token', '/auth/token', { method: 'POST', body: 'username=a' }],
    ['bad json', '/api/todos', bearer(t.access_token, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{bad' })],
    ['proto', '/api/todos', bearer(t.access_token, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"__proto__":{"x":1},"title":"a"}' })],
    ['big', '/api/todos', bearer(t.access_token, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"title":"' + big + '"}' })],
    ['chunked', '/api/todos', bearer(t.access_token, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: stream(), duplex: 'half' } as RequestInit)],
    ['invalid utf8', '/api/todos', bearer(t.access_token, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: new Uint8Array([0x7b, 0x22, 0x74, 0x69, 0x74, 0x6c, 0x65, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]) })],
    ['invalid utf8 form', '/auth/token', { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: new Uint8Array([0x75, 0x73, 0x65, 0x72, 0x6e, 0x61, 0x6d, 0x65, 0x3d, 0xff, 0x26, 0x70, 0x61, 0x73, 0x73, 0x77, 0x6f, 0x72, 0x64, 0x3d, 0x78]) }],
    ['pct bad form', '/auth/token', { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'username=%ff%fe&password=%zz' }],
    ['id weird', '/api/todos/%ff%00%2e%2e', bearer(t.access_token)],
    ['id long', '/api/todos/' + 'x'.repeat(5000), bearer(t.access_token)],
    ['query dup', '/api/todos?limit=1&limit=2', bearer(t.access_token)],
    ['query bad pct', '/api/todos?limit=%ff', bearer(t.access_token)],
    ['huge header', '/api/todos', { headers: { Authorization: 'Bearer ' + 'a'.repeat(60000) } }],
    ['huge basic', '/profile', { headers: { Authorization: 'Basic ' + btoa('a'.repeat(30000) + ':b') } }],
    ['array json', '/api/todos', bearer(t.access_token, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '[1,2]' })],
    ['null json', '/api/todos', bearer(t.access_token, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: 'null' })],
    ['pw json null', '/users/me/password', bearer(t.access_token, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"current_password":null,"new_password":1}' })],
    ['options', '/api/todos', { method: 'OPTIONS' }],
    ['trace', '/api/todos', { method: 'PUT' }],
    ['gzip body', '/api/todos', bearer(t.access_token, { method: 'POST', headers: { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' }, body: 'xx' })],
    ['ct charset weird', '/api/todos', bearer(t.access_token, { method: 'POST', headers: { 'Content-Type': 'application/json; charset=latin1' }, body: '{"title":"a"}' })],
    ['patch patch', '/api/todos/x', bearer(t.access_token, { method: 'PATCH', headers: { 'Content-Type': 'application/json' }, body: '{}' })],
    ['todos query unknown', '/api/todos?foo=1', bearer(t.access_token)],
    ['revoke huge', '/auth/revoke', form({ token: 'a.b.c' })],
  ]
  for (const [name, path, init] of cases) {
    const res = await call(path, init)
    console.log(name, res.status, (await res.text()).slice(0, 160))
  }
})
