import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';

/**
 * A WebAuthn authenticator in software, for tests that speak to the passkey endpoints over plain
 * HTTP: a P-256 key (COSE ES256), "none" attestation, and assertions signed over
 * authenticatorData || SHA-256(clientDataJSON). Every field can be bent to build attacks.
 *
 * @see https://www.w3.org/TR/webauthn-3/#sctn-authenticator-data
 * @see https://www.w3.org/TR/webauthn-3/#sctn-op-get-assertion
 */

/** Authenticator data flags (WebAuthn §6.1). */
export const FLAGS = { UP: 0x01, UV: 0x04, BE: 0x08, BS: 0x10, AT: 0x40 } as const;

type Cbor = number | string | Uint8Array | Cbor[] | Map<Cbor, Cbor> | { [key: string]: Cbor };

/** The little CBOR (RFC 8949) these messages need: integers, byte and text strings, arrays, maps. */
export function encodeCbor(value: Cbor): Buffer {
  const head = (major: number, n: number) => {
    if (n < 24) return Buffer.from([(major << 5) | n]);
    if (n < 256) return Buffer.from([(major << 5) | 24, n]);
    if (n < 65536) return Buffer.from([(major << 5) | 25, n >> 8, n & 0xff]);
    const b = Buffer.alloc(5);
    b[0] = (major << 5) | 26;
    b.writeUInt32BE(n, 1);
    return b;
  };
  if (typeof value === 'number') return value >= 0 ? head(0, value) : head(1, -1 - value);
  if (typeof value === 'string')
    return Buffer.concat([head(3, Buffer.byteLength(value)), Buffer.from(value)]);
  if (value instanceof Uint8Array) return Buffer.concat([head(2, value.length), Buffer.from(value)]);
  if (Array.isArray(value)) return Buffer.concat([head(4, value.length), ...value.map(encodeCbor)]);
  const entries = value instanceof Map ? [...value] : Object.entries(value);
  return Buffer.concat([
    head(5, entries.length),
    ...entries.flatMap(([k, v]) => [encodeCbor(k), encodeCbor(v)]),
  ]);
}

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest();
const b64u = (data: Buffer | Uint8Array) => Buffer.from(data).toString('base64url');

export interface AssertionOptions {
  challenge: string;
  origin: string;
  rpId: string;
  /** Default: UP | UV. */
  flags?: number;
  /** Default: the authenticator's next counter value. */
  counter?: number;
  /** Default: the key's own user handle. */
  userHandle?: string | null;
  /** Default: this credential's id. */
  credentialId?: string;
  /** Sign with another key (a forgery). */
  signWith?: KeyObject;
  type?: string;
}

export class SoftAuthenticator {
  readonly credentialId = b64u(randomBytes(32));
  readonly keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  counter = 0;
  userHandle: string | undefined;

  constructor(readonly options: { counts?: boolean; backupEligible?: boolean } = {}) {}

  private coseKey(): Buffer {
    const jwk = this.keys.publicKey.export({ format: 'jwk' });
    // kty EC2 (2), alg ES256 (-7), crv P-256 (1), x, y.
    return encodeCbor(
      new Map<Cbor, Cbor>([
        [1, 2],
        [3, -7],
        [-1, 1],
        [-2, Buffer.from(jwk.x!, 'base64url')],
        [-3, Buffer.from(jwk.y!, 'base64url')],
      ]),
    );
  }

  private authData(rpId: string, flags: number, counter: number, attested?: Buffer): Buffer {
    const count = Buffer.alloc(4);
    count.writeUInt32BE(counter);
    return Buffer.concat([sha256(rpId), Buffer.from([flags]), count, ...(attested ? [attested] : [])]);
  }

  private flagsBase(): number {
    return this.options.backupEligible ? FLAGS.BE | FLAGS.BS : 0;
  }

  /** A RegistrationResponseJSON for these creation options (as `navigator.credentials.create` gives). */
  register(
    options: { challenge: string; user: { id: string } },
    origin: string,
    rpId: string,
    flags?: number,
  ) {
    this.userHandle = options.user.id;
    const id = Buffer.from(this.credentialId, 'base64url');
    const length = Buffer.alloc(2);
    length.writeUInt16BE(id.length);
    const attested = Buffer.concat([Buffer.alloc(16), length, id, this.coseKey()]);
    const authData = this.authData(
      rpId,
      flags ?? FLAGS.UP | FLAGS.UV | FLAGS.AT | this.flagsBase(),
      0,
      attested,
    );
    const clientDataJSON = JSON.stringify({ type: 'webauthn.create', challenge: options.challenge, origin });
    return {
      id: this.credentialId,
      rawId: this.credentialId,
      type: 'public-key',
      response: {
        clientDataJSON: b64u(Buffer.from(clientDataJSON)),
        attestationObject: b64u(encodeCbor({ fmt: 'none', attStmt: {}, authData })),
        transports: ['internal'],
      },
      clientExtensionResults: {},
      authenticatorAttachment: 'platform',
    };
  }

  /** An AuthenticationResponseJSON (as `navigator.credentials.get` gives), bent by `o`. */
  assert(o: AssertionOptions) {
    if (this.options.counts && o.counter === undefined) this.counter += 1;
    const counter = o.counter ?? this.counter;
    const authData = this.authData(o.rpId, o.flags ?? FLAGS.UP | FLAGS.UV | this.flagsBase(), counter);
    const clientDataJSON = Buffer.from(
      JSON.stringify({ type: o.type ?? 'webauthn.get', challenge: o.challenge, origin: o.origin }),
    );
    const signature = sign(
      'sha256',
      Buffer.concat([authData, sha256(clientDataJSON)]),
      o.signWith ?? this.keys.privateKey,
    );
    const userHandle = o.userHandle === undefined ? this.userHandle : o.userHandle;
    const id = o.credentialId ?? this.credentialId;
    return {
      id,
      rawId: id,
      type: 'public-key',
      response: {
        clientDataJSON: b64u(clientDataJSON),
        authenticatorData: b64u(authData),
        signature: b64u(signature),
        ...(userHandle === null || userHandle === undefined ? {} : { userHandle }),
      },
      clientExtensionResults: {},
      authenticatorAttachment: 'platform',
    };
  }
}
