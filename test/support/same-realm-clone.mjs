// Jest runs each test file in a vm context, but the structuredClone it exposes is the outer
// realm's: its plain objects and arrays have the outer Object/Array as constructor. Code that
// checks `value.constructor === Object` (oidc-provider's isPlainObject, e.g. on a static
// client's `jwks`, which it structuredClones at start-up) then refuses data that is fine in
// production, where there is one realm. This wraps structuredClone so plain objects and arrays
// come back from this test file's realm; everything else is returned as cloned.
const outerClone = globalThis.structuredClone;

function adopt(value) {
  if (Array.isArray(value)) return Array.from(value, adopt);
  if (value === null || typeof value !== 'object') return value;
  const proto = Object.getPrototypeOf(value);
  const plain =
    proto === null || (Object.getPrototypeOf(proto) === null && proto.constructor?.name === 'Object');
  if (!plain) return value;
  const out = proto === null ? Object.create(null) : {};
  for (const [key, member] of Object.entries(value)) out[key] = adopt(member);
  return out;
}

globalThis.structuredClone = (value, options) => adopt(outerClone(value, options));
