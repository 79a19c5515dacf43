import { config } from '../../config'
import { pollDeviceCode, redeemDeviceCode } from '../../db/device-codes'
import { ApiError } from '../../domain/errors'
import { database } from '../../http/database'
import { randomToken, sha256Hex } from '../../lib/crypto'
import { type Grant, redeemedResponse } from '../token/grant'
import { grantAudience } from '../token/resource'

export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code' as const

/**
 * The device authorization grant's polling (RFC 8628 §3.4-3.5): `authorization_pending` until
 * the user decides, `slow_down` (and 5 s more on the interval) when polled sooner than the
 * interval, `access_denied` when they denied, `expired_token` once the code's lifetime is over.
 * An approved code is redeemed once, in the transaction that creates the session
 * (../db/device-codes.ts); every other poll of it is `invalid_grant`.
 */
export const deviceCodeGrant: Grant<typeof DEVICE_CODE_GRANT> = {
  type: DEVICE_CODE_GRANT,
  anonymous: false,
  async handle(c, form, client) {
    if (!client) throw new ApiError('invalid_client', 'Client authentication failed.')
    if (form.device_code === undefined)
      throw new ApiError('invalid_request', 'device_code is required for the device code grant.')
    const db = database(c)
    const deviceCodeHash = await sha256Hex(form.device_code)
    const poll = await pollDeviceCode(db, deviceCodeHash, client.client_id)
    switch (poll.kind) {
      case 'pending':
        throw poll.slowDown
          ? new ApiError('slow_down', 'Polling too fast: wait 5 seconds more between requests.')
          : new ApiError('authorization_pending', 'The user has not decided yet.')
      case 'denied':
        throw new ApiError('access_denied', 'The user denied the request.')
      case 'expired':
        throw new ApiError('expired_token', 'The device code has expired; start again.')
      case 'invalid':
        throw new ApiError('invalid_grant', 'The device code is invalid or was already used.')
    }
    // RFC 8707 §2.2: the resource of the device request, or invalid_target, before redeeming.
    const audience = grantAudience(c, form.resource, poll.resource)
    const refreshToken = randomToken()
    const session = await redeemDeviceCode(db, {
      deviceCodeHash,
      clientId: client.client_id,
      userId: poll.userId,
      scope: poll.scope,
      resource: poll.resource,
      refreshHash: await sha256Hex(refreshToken),
      ttl: config(c.env).refreshTokenTtl,
      from: c.get('requester'),
    })
    if (!session)
      throw new ApiError('invalid_grant', 'The device code is invalid or was already used.')
    return redeemedResponse(c, 'device_code_exchange', session, {
      refreshToken,
      clientId: client.client_id,
      audience,
    })
  },
}
