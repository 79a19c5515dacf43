import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { describe, expect, it } from 'vitest'
import { clientIdUrl, fetches, serve } from '../client-metadata'
import { makeUser } from '../helpers'
import { claims, requestToken } from '../oauth-client'
import { browser, CALLBACK, MCP, newClient, ORIGIN, TestProvider, toWorker } from './mcp-client'

// The MCP SDK's Client with an OAuthClientProvider that names a Client ID Metadata Document
// (`clientMetadataUrl`, MCP 2025-11-25): the SDK takes that URL as its client_id because the
// server's metadata says client_id_metadata_document_supported, and never registers (RFC 7591).
// The document is published on the fake worker that answers the Worker's outbound fetches.

/** A TestProvider that names its metadata document, as SDK 1.32's OAuthClientProvider allows. */
class MetadataDocumentProvider extends TestProvider {
  constructor(readonly clientMetadataUrl: string) {
    super()
  }
}

describe('an MCP client (the SDK) that names a Client ID Metadata Document', () => {
  it('uses its document URL as client_id: no registration, consent, a tool call', async () => {
    const alice = await makeUser()
    const documentUrl = clientIdUrl('mcp-sdk')
    const host = new URL(documentUrl).host
    await serve(documentUrl, {
      body: {
        client_id: documentUrl,
        client_name: 'MCP SDK document client',
        redirect_uris: [CALLBACK],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'none',
      },
    })
    const provider = new MetadataDocumentProvider(documentUrl)

    // Every request the SDK makes, to see that it never registers.
    const seen: string[] = []
    const recording = async (url: string | URL, init?: RequestInit) => {
      seen.push(`${init?.method ?? 'GET'} ${new URL(String(url)).pathname}`)
      return toWorker(url, init)
    }
    const transport = () =>
      new StreamableHTTPClientTransport(new URL(MCP), { authProvider: provider, fetch: recording })

    // 1. The 401 leads to discovery; the client_id is the document's URL, nothing is registered.
    await expect(newClient().connect(transport())).rejects.toThrow(UnauthorizedError)
    expect(seen).toContain('GET /.well-known/oauth-authorization-server')
    expect(seen).not.toContain('POST /auth/clients')
    expect(provider.clientInformation()?.client_id).toBe(documentUrl)
    const url = provider.authorizationUrl!
    expect(url.searchParams.get('client_id')).toBe(documentUrl)
    expect(url.searchParams.get('resource')).toBe(MCP)

    // 2. The person signs in on the real page; the Worker fetches the document; the consent page
    // names the app, its document's host, this device as where it returns, and warns.
    const person = browser()
    let res = await person.get(url.pathname + url.search)
    res = await person.post('/auth/authorize/login', {
      request: requestToken(await res.text()),
      username: alice.username,
      password: alice.password,
    })
    const page = await res.text()
    expect(res.status, page).toBe(200)
    expect(page).toContain('Allow <strong>MCP SDK document client</strong>')
    expect(page).toContain(`It describes itself at <strong>${host}</strong> (its client id).`)
    expect(page).toContain('It is an app on this device.')
    expect(page).toContain('Only for an app you just started yourself')
    expect(page).toContain('Unverified app.')
    expect(await fetches(documentUrl)).toBeGreaterThan(0)
    res = await person.post('/auth/authorize/consent', {
      request: requestToken(page),
      decision: 'allow',
    })
    expect(res.status).toBe(303)
    const back = new URL(res.headers.get('Location')!)
    expect(`${back.origin}${back.pathname}`).toBe(CALLBACK)
    expect(back.searchParams.get('iss')).toBe(ORIGIN)

    // 3. The SDK redeems the code as the document's client: a token for the MCP server.
    await transport().finishAuth(back.searchParams.get('code')!)
    const token = provider.tokens()!.access_token
    expect(claims(token)).toMatchObject({ aud: MCP, sub: alice.id, client_id: documentUrl })

    // 4. Connected: the tools, and a call that works.
    const client = newClient()
    await client.connect(transport())
    const { tools } = await client.listTools()
    expect(tools.map((t) => t.name)).toContain('add_todo')
    const added = await client.callTool({ name: 'add_todo', arguments: { title: 'From CIMD' } })
    expect(added.isError).toBeFalsy()
    expect(added.structuredContent).toMatchObject({ title: 'From CIMD', completed: false })
    expect(seen).not.toContain('POST /auth/clients')
    await client.close()
  })
})
