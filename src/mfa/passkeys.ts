import { randomBytes } from 'node:crypto';
import type { Store } from '../storage/store.js';

/** One registered passkey (a WebAuthn public-key credential), as kept in the store. */
export interface StoredPasskey {
  /** The credential id, base64url (as the browser reports it). */
  id: string;
  /** The COSE public key, base64url. */
  publicKey: string;
  /** The signature counter last seen (0 for authenticators that do not count, as most passkeys). */
  counter: number;
  transports?: string[];
  /** Whether the authenticator may back the key up (a synced passkey: `swk`, else `hwk`). */
  backupEligible: boolean;
  backedUp: boolean;
  name: string;
  createdAt: number;
  lastUsedAt?: number;
}

/** A user's passkeys, under `passkeys:<sub>`. */
export interface PasskeyRecord {
  /** The WebAuthn user handle: 32 random bytes, base64url; never the username or sub. */
  userHandle: string;
  credentials: StoredPasskey[];
}

/** Why a challenge was issued, and to whom it is bound (an interaction uid or a session id). */
export interface PasskeyChallenge {
  challenge: string;
  purpose: 'sign-in' | 'second-factor' | 'register';
  /** For a second factor or a registration: the user whose passkey it must be. */
  sub?: string;
}

/** At most this many passkeys per user (the account page refuses more). */
export const MAX_PASSKEYS = 20;
/** Seconds a challenge may be answered in (WebAuthn's recommended ceremony timeout is 5 minutes). */
export const CHALLENGE_SECONDS = 300;

const recordKey = (sub: string) => `passkeys:${sub}`;
const credentialKey = (id: string) => `passkey-credential:${id}`;
const challengeKey = (binding: string) => `passkey-challenge:${binding}`;
const usedChallengeKey = (challenge: string) => `passkey-challenge-used:${challenge}`;

/**
 * Passkeys in the store, so every instance sees them.
 *
 * Records: `passkeys:<sub>` → PasskeyRecord; `passkey-credential:<credential id>` → sub (the
 * index a discoverable sign-in starts from); `passkey-challenge:<binding>` → the one challenge
 * open for an interaction (`i:<uid>`) or an account-page session (`s:<session id>`), kept
 * CHALLENGE_SECONDS; `passkey-challenge-used:<challenge>` is set only-if-absent when a challenge
 * is answered, so two requests racing with one assertion cannot both win.
 *
 * @see https://www.w3.org/TR/webauthn-3/#sctn-cryptographic-challenges
 */
export function createPasskeys(store: Store) {
  const read = (sub: string) => store.getRecord<PasskeyRecord>(recordKey(sub));

  return {
    /** The user's passkeys (oldest first); empty when none. */
    async list(sub: string): Promise<StoredPasskey[]> {
      return (await read(sub))?.credentials ?? [];
    },
    async has(sub: string): Promise<boolean> {
      return ((await read(sub))?.credentials.length ?? 0) > 0;
    },
    /** The user's handle, made (random, never derived from the user) and kept on first use. */
    async userHandle(sub: string): Promise<string> {
      const record = await read(sub);
      if (record) return record.userHandle;
      const userHandle = randomBytes(32).toString('base64url');
      await store.setRecord(recordKey(sub), { userHandle, credentials: [] } satisfies PasskeyRecord);
      return userHandle;
    },
    /** The user a credential id belongs to, with that user's record, or undefined. */
    async findByCredential(
      id: string,
    ): Promise<{ sub: string; record: PasskeyRecord; passkey: StoredPasskey } | undefined> {
      const sub = await store.getRecord<string>(credentialKey(id));
      if (typeof sub !== 'string') return undefined;
      const record = await read(sub);
      const passkey = record?.credentials.find((c) => c.id === id);
      return record && passkey ? { sub, record, passkey } : undefined;
    },
    /** Adds a verified credential to the user (false when its id is already anyone's). */
    async add(sub: string, passkey: StoredPasskey): Promise<boolean> {
      if (!(await store.setRecordIfAbsent(credentialKey(passkey.id), sub))) return false;
      const record = (await read(sub)) ?? { userHandle: await this.userHandle(sub), credentials: [] };
      await store.setRecord(recordKey(sub), { ...record, credentials: [...record.credentials, passkey] });
      return true;
    },
    /** Records a use: the new signature counter, backup state and time. */
    async recordUse(
      sub: string,
      id: string,
      update: { counter: number; backedUp: boolean },
      now = Date.now(),
    ) {
      const record = await read(sub);
      if (!record) return;
      const credentials = record.credentials.map((c) =>
        c.id === id ? { ...c, counter: update.counter, backedUp: update.backedUp, lastUsedAt: now } : c,
      );
      await store.setRecord(recordKey(sub), { ...record, credentials });
    },
    /** Removes one of the user's passkeys; returns it, or undefined when the user has no such passkey. */
    async remove(sub: string, id: string): Promise<StoredPasskey | undefined> {
      const record = await read(sub);
      const passkey = record?.credentials.find((c) => c.id === id);
      if (!record || !passkey) return undefined;
      await store.setRecord(recordKey(sub), {
        ...record,
        credentials: record.credentials.filter((c) => c.id !== id),
      });
      await store.deleteRecord(credentialKey(id));
      return passkey;
    },
    /** Removes every passkey of the user (and the user handle); returns how many there were. */
    async removeAll(sub: string): Promise<number> {
      const record = await read(sub);
      if (!record) return 0;
      await Promise.all(record.credentials.map((c) => store.deleteRecord(credentialKey(c.id))));
      await store.deleteRecord(recordKey(sub));
      return record.credentials.length;
    },
    /** Opens a challenge for `binding`, replacing any open one (only the latest can be answered). */
    async openChallenge(binding: string, challenge: PasskeyChallenge): Promise<void> {
      await store.setRecord(challengeKey(binding), challenge, CHALLENGE_SECONDS);
    },
    /**
     * Takes the challenge open for `binding`, once: a second take of the same challenge (a replay,
     * or a race on another instance) gets undefined.
     */
    async takeChallenge(binding: string): Promise<PasskeyChallenge | undefined> {
      const open = await store.getRecord<PasskeyChallenge>(challengeKey(binding));
      if (!open) return undefined;
      await store.deleteRecord(challengeKey(binding));
      const first = await store.setRecordIfAbsent(usedChallengeKey(open.challenge), 1, CHALLENGE_SECONDS);
      return first ? open : undefined;
    },
  };
}

export type Passkeys = ReturnType<typeof createPasskeys>;

/** The challenge binding of an interaction, and of an account-page session. */
export const interactionBinding = (uid: string) => `i:${uid}`;
export const sessionBinding = (sessionId: string) => `s:${sessionId}`;
