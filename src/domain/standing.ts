import type { MachineScope, Scope } from './scopes'

/**
 * What a user's Bearer request may do as far as the policy is concerned, besides who it is: the
 * user's role now, the scopes it may use (the token's, bounded by its session's and its user's)
 * and whether a third-party app holds it. The Bearer batch (src/auth/batch.ts) presumes a
 * standing before it runs, and its check (src/db/sessions.ts `bearerCheck`) proves it in the same
 * transaction.
 */
export type Standing = { role: string; scopes: readonly Scope[]; thirdPartyApp: boolean }

/** The same for a client acting as itself: the machine scopes its token may use today. */
export type ClientStanding = { machineScopes: readonly MachineScope[] }

/** What a Bearer request is presumed to hold until its check proves it. */
export type Presumed = Standing | ClientStanding
