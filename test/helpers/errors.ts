import { expect } from 'vitest'

/** The error of class `type` that `fn` throws (fails the test when it throws nothing or something else). */
export function thrownBy<T extends Error> (type: abstract new (...args: never[]) => T, fn: () => unknown): T {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(type)
    return err as T
  }
  throw new Error(`expected a ${type.name}, nothing was thrown`)
}
