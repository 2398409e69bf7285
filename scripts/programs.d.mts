export interface Program { id: string, title: string, env: string, names: string[], paths: string[], apt: string, mac: string }
export const PROGRAMS: Program[]
export function locate (program: Program, env?: NodeJS.ProcessEnv): { path: string, error?: undefined } | { path?: undefined, error: string }
export function installHint (missing: Program[]): string
export function programPath (id: 'alertmanager' | 'chromium' | 'openssl', env?: NodeJS.ProcessEnv): string
