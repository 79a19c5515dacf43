// The one clock of the Worker: seconds for counters, expiries and the audit trail (INTEGER
// columns), ISO 8601 text for the rows the API shows (created_at, updated_at).

/** Unix time in whole seconds. */
export const nowSeconds = (): number => Math.floor(Date.now() / 1000)

/** ISO 8601 in UTC with milliseconds; `ms` defaults to now. */
export const isoTime = (ms: number = Date.now()): string => new Date(ms).toISOString()
