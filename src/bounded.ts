/** Helpers that keep in-memory maps bounded. */

/**
 * Deletes a Map's oldest entries until `keep` remain, with one iterator: a fresh `keys().next()` per
 * deletion would walk over every slot deleted before it (V8 compacts a Map's table only when it
 * resizes), which made a flood of 100 000 alerts quadratic (2 s of one CPU).
 */
export function forgetOldest<K, V> (map: Map<K, V>, keep: number): void {
  const it = map.keys()
  while (map.size > keep) {
    const next = it.next()
    if (next.done === true) return
    map.delete(next.value)
  }
}
