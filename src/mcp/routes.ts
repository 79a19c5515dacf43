import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import * as streamable from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js'
import { CfWorkerJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/cfworker'
import { Hono, type MiddlewareHandler } from 'hono'
import * as z from 'zod'
import { checkToken } from '../auth/batch'
import { presumeBearer } from '../auth/bearer'
import type { AppEnv } from '../http/context'
import { doc, documentGuard } from '../http/openapi'
import { type Escalation, registerTools } from './tools'

/**
 * The MCP server (MCP 2025-11-25 and 2025-06-18, Streamable HTTP), stateless: every POST is a
 * whole exchange, answered with JSON, so any isolate can answer any request and nothing is kept
 * between them. There is no server-to-client stream, so `GET /mcp` (and `DELETE`, which ends a
 * session) is 405, as the transport spec allows. The SDK does the protocol: version negotiation
 * (the client's version if supported, else the latest), JSON-RPC, the tools' argument and result
 * validation; with @cfworker/json-schema, not ajv, which needs code generation workerd forbids.
 *
 * Each request gets its own McpServer and transport (the SDK's stateless pattern): a server is
 * bound to one transport, and one isolate serves many requests at once.
 */

/**
 * The request is for the MCP server (its audience, its RFC 9728 document in challenges), with a
 * valid Bearer token whose session each tool call checks in its batch.
 */
const forMcp: MiddlewareHandler<AppEnv> = async (c, next) => {
  c.set('resource', 'mcp')
  await presumeBearer(c)
  await next()
}

const guard = documentGuard(forMcp, {
  auth: 'bearer',
  errors: ['insufficient_scope'],
})

const VERSION = '1.0.0'

/** A JSON-RPC 2.0 response: `result` or `error`, for GET /openapi.json. */
const jsonRpcResponse = z.looseObject({
  jsonrpc: z.literal('2.0'),
  id: z.union([z.string(), z.number()]),
})

export const mcpRoutes = new Hono<AppEnv>().post(
  '/',
  doc({
    operationId: 'mcp',
    tag: 'mcp',
    summary: 'The MCP server (Streamable HTTP, stateless)',
    description:
      'A JSON-RPC message of the Model Context Protocol (2025-11-25 or 2025-06-18), with ' +
      '`Accept: application/json, text/event-stream`; a Bearer token issued for this resource ' +
      '(`resource=<issuer>/mcp`, RFC 8707). Tools: list_lists, list_todos, add_todo, ' +
      'update_todo, delete_todo. A tool that needs a scope the token lacks is a 403 ' +
      '`insufficient_scope` naming what it needs with what it has (docs/api.md §13).',
    // A notification's answer is 202 with no body, described in docs/api.md §13.
    responses: { 200: { description: 'The JSON-RPC response.', schema: jsonRpcResponse } },
  }),
  guard,
  async (c) => {
    const escalate: Escalation = {}
    const server = new McpServer(
      { name: 'todo-auth', title: 'todo-auth', version: VERSION },
      {
        jsonSchemaValidator: new CfWorkerJsonSchemaValidator(),
        instructions:
          "The user's todos and todo lists. A list shared with the user as viewer can be read " +
          'but not added to. Ids come from list_lists and list_todos.',
      },
    )
    registerTools(server, c, escalate)
    const transport = new streamable.WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: true,
    })
    await server.connect(transport)
    const res = await transport.handleRequest(c.req.raw)
    await server.close()
    if (escalate.error) throw escalate.error
    // A request that reached no tool's batch (initialize, tools/list) still needs a live token:
    // a revoked session is refused here as anywhere, in one round trip.
    if (!c.var.bearer?.settled) await checkToken(c)
    return res
  },
)
