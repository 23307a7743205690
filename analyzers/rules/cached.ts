/**
 * Get-or-make over a map: the rules stage keeps many texts and plans made once and asked for by every
 * flow (per rule, per point, per endpoints...), each through nested maps of keys it already holds.
 */

/** The value `cache` holds for `key`, made by `make` (a function of the key alone) the first time. */
export function cachedIn<K, V>(
  cache: { get(k: K): V | undefined; set(k: K, v: V): unknown },
  key: K,
  make: (key: K) => NoInfer<V>,
): V {
  let value = cache.get(key);
  if (value === undefined) {
    value = make(key);
    cache.set(key, value);
  }
  return value;
}

// module-level makers: a maker written inline would be a new closure at every call
export const newMap = <K, V>(): Map<K, V> => new Map();
export const newWeakMap = <K extends object, V>(): WeakMap<K, V> => new WeakMap();

/** The map `m` holds for `key` (one level of nested maps), made empty the first time. */
export function within<K, K2, V>(m: Map<K, Map<K2, V>>, key: K): Map<K2, V> {
  return cachedIn(m, key, newMap);
}
