/** The engine lives in src/engine/ (engine/alerter.ts wires its stages); this path stays for imports. */
export { createAlerter } from './engine/alerter.js'
export type { Acknowledgement, Alerter, AlerterStats, AlerterDeps, DispatchResult } from './engine/types.js'
export type { AckOutcome } from './engine/ack.js'
