import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type AuthenticatorTransport,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import type { PasskeyChallenge, Passkeys, StoredPasskey } from './passkeys.js';
import { MAX_PASSKEYS, CHALLENGE_SECONDS } from './passkeys.js';

/** Why a ceremony failed: a stable code for logs and a sentence for the page. */
export class PasskeyError extends Error {
  constructor(
    readonly code: string,
    readonly userMessage: string,
  ) {
    super(code);
  }
}

const NOT_ACCEPTED = 'That passkey could not be used to sign in. Try again, or sign in with your password.';

/** A verified assertion: whose passkey it was, and the RFC 8176 `amr` it stands for. */
export interface PasskeyAssertion {
  sub: string;
  credentialId: string;
  /** `hwk` for a device-bound key, `swk` for one that may be synced (backup eligible). */
  keyMethod: 'hwk' | 'swk';
}

/**
 * WebAuthn ceremonies for this issuer: the relying-party id is the issuer's host and the only
 * accepted origin is the issuer's origin; user verification is required, discoverable
 * credentials (resident keys) are required at registration. Challenges come from the store,
 * single use, bound to the interaction or session that asked (see passkeys.ts).
 *
 * @see https://www.w3.org/TR/webauthn-3/#sctn-rp-operations
 */
export function createWebAuthn(deps: { issuer: string; rpName: string; passkeys: Passkeys }) {
  const { passkeys } = deps;
  const origin = new URL(deps.issuer).origin;
  const rpID = new URL(deps.issuer).hostname;
  const timeout = CHALLENGE_SECONDS * 1000;
  const transports = (p: StoredPasskey) => (p.transports ?? []) as AuthenticatorTransport[];

  return {
    rpID,
    origin,
    /** Options for `navigator.credentials.create`, with the challenge opened for `binding`. */
    async registrationOptions(binding: string, user: { sub: string; username: string; displayName: string }) {
      const existing = await passkeys.list(user.sub);
      if (existing.length >= MAX_PASSKEYS)
        throw new PasskeyError('too_many_passkeys', `You have ${MAX_PASSKEYS} passkeys: remove one first.`);
      const options = await generateRegistrationOptions({
        rpName: deps.rpName,
        rpID,
        userID: Buffer.from(await passkeys.userHandle(user.sub), 'base64url'),
        userName: user.username,
        userDisplayName: user.displayName,
        timeout,
        attestationType: 'none',
        excludeCredentials: existing.map((p) => ({ id: p.id, transports: transports(p) })),
        authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
      });
      await passkeys.openChallenge(binding, {
        challenge: options.challenge,
        purpose: 'register',
        sub: user.sub,
      });
      return options;
    },

    /** Verifies a registration answered for `binding` and adds the passkey to the user. */
    async register(binding: string, sub: string, response: RegistrationResponseJSON, name: string) {
      const open = await passkeys.takeChallenge(binding);
      if (!open || open.purpose !== 'register' || open.sub !== sub)
        throw new PasskeyError(
          'no_challenge',
          'Adding the passkey took too long or was already done. Try again.',
        );
      let verified;
      try {
        verified = await verifyRegistrationResponse({
          response,
          expectedChallenge: open.challenge,
          expectedOrigin: origin,
          expectedRPID: rpID,
          requireUserVerification: true,
        });
      } catch (err) {
        throw new PasskeyError(
          `registration_refused: ${(err as Error).message}`,
          'The passkey could not be added. Try again.',
        );
      }
      if (!verified.verified)
        throw new PasskeyError('registration_refused', 'The passkey could not be added. Try again.');
      const info = verified.registrationInfo;
      const passkey: StoredPasskey = {
        id: info.credential.id,
        publicKey: Buffer.from(info.credential.publicKey).toString('base64url'),
        counter: info.credential.counter,
        ...(info.credential.transports ? { transports: [...info.credential.transports] } : {}),
        backupEligible: info.credentialDeviceType === 'multiDevice',
        backedUp: info.credentialBackedUp,
        name,
        createdAt: Date.now(),
      };
      if (!(await passkeys.add(sub, passkey)))
        throw new PasskeyError('credential_taken', 'This passkey is already registered.');
      return passkey;
    },

    /**
     * Options for `navigator.credentials.get`: any discoverable passkey for a sign-in, or only
     * `sub`'s passkeys when it is that user's second factor.
     */
    async authenticationOptions(binding: string, purpose: 'sign-in' | 'second-factor', sub?: string) {
      const mine = sub ? await passkeys.list(sub) : [];
      const options = await generateAuthenticationOptions({
        rpID,
        timeout,
        userVerification: 'required',
        allowCredentials: mine.map((p) => ({ id: p.id, transports: transports(p) })),
      });
      const challenge: PasskeyChallenge = { challenge: options.challenge, purpose, ...(sub ? { sub } : {}) };
      await passkeys.openChallenge(binding, challenge);
      return options;
    },

    /**
     * Verifies an assertion answered for `binding`: the challenge is the one open there (taken
     * once), the credential is known (and `sub`'s, for a second factor), the user handle it
     * returns is that user's, and the signature, origin, rp id, user verification and counter hold.
     */
    async authenticate(
      binding: string,
      purpose: 'sign-in' | 'second-factor',
      response: AuthenticationResponseJSON,
    ): Promise<PasskeyAssertion & { sub: string }> {
      const open = await passkeys.takeChallenge(binding);
      if (!open || open.purpose !== purpose)
        throw new PasskeyError('no_challenge', 'The passkey request expired or was already used. Try again.');
      const found =
        typeof response.id === 'string' ? await passkeys.findByCredential(response.id) : undefined;
      if (!found) throw new PasskeyError('unknown_credential', NOT_ACCEPTED);
      if (open.sub !== undefined && found.sub !== open.sub)
        throw new PasskeyError('other_users_credential', NOT_ACCEPTED);
      const handle = response.response?.userHandle;
      if (handle !== undefined && handle !== found.record.userHandle)
        throw new PasskeyError('user_handle_mismatch', NOT_ACCEPTED);
      if (handle === undefined && purpose === 'sign-in')
        throw new PasskeyError('no_user_handle', NOT_ACCEPTED);
      let result;
      try {
        result = await verifyAuthenticationResponse({
          response,
          expectedChallenge: open.challenge,
          expectedOrigin: origin,
          expectedRPID: rpID,
          requireUserVerification: true,
          credential: {
            id: found.passkey.id,
            publicKey: Buffer.from(found.passkey.publicKey, 'base64url'),
            counter: found.passkey.counter,
            transports: transports(found.passkey),
          },
        });
      } catch (err) {
        throw new PasskeyError(`assertion_refused: ${(err as Error).message}`, NOT_ACCEPTED);
      }
      if (!result.verified) throw new PasskeyError('bad_signature', NOT_ACCEPTED);
      const info = result.authenticationInfo;
      await passkeys.recordUse(found.sub, found.passkey.id, {
        counter: info.newCounter,
        backedUp: info.credentialBackedUp,
      });
      return {
        sub: found.sub,
        credentialId: found.passkey.id,
        keyMethod: info.credentialDeviceType === 'multiDevice' ? 'swk' : 'hwk',
      };
    },
  };
}

export type WebAuthn = ReturnType<typeof createWebAuthn>;

/** Reads the `credential` form field the page's script fills: JSON, or undefined when absent or not JSON. */
export function readCredentialField(value: unknown): Record<string, unknown> | undefined {
  if (typeof value !== 'string' || value.length === 0 || value.length > 16_384) return undefined;
  try {
    const parsed: unknown = JSON.parse(value);
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined; // not JSON: the caller answers "could not be read"
  }
}
