const SENSITIVE_KEYS = Symbol('gatehouse:sensitive-config-keys');

type WithSensitiveKeys = { [SENSITIVE_KEYS]?: Set<string> };

/** Marks a configuration variable whose value must never be logged or echoed in an error. */
export function Sensitive(): PropertyDecorator {
  return (target, propertyKey) => {
    const holder = target as WithSensitiveKeys;
    const inherited = holder[SENSITIVE_KEYS];
    const keys = new Set(inherited ?? []);
    keys.add(String(propertyKey));
    Object.defineProperty(holder, SENSITIVE_KEYS, { value: keys, enumerable: false, configurable: true });
  };
}

export function sensitiveKeysOf(instance: object): ReadonlySet<string> {
  return (instance as WithSensitiveKeys)[SENSITIVE_KEYS] ?? new Set();
}
