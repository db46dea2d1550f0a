import { z } from 'zod';
import type { Store } from '../storage/store.js';

/**
 * Test mode: how a user's next sign-in says it happened, set through the test API
 * (`PUT /_test/users/:username/next-login-auth`) so relying parties can test their handling of
 * `amr` and `acr` without a real second factor. Used once; standard mode never reads it.
 *
 * Record: `test-next-auth:<username lower-case>`.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8176#section-2
 */
export interface NextLoginAuth {
  amr?: string[];
  acr?: string;
}

export const nextLoginAuthSchema = z
  .strictObject({
    amr: z
      .array(z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]{1,64}$/, 'amr values are short printable tokens'))
      .min(1)
      .max(16)
      .optional(),
    acr: z
      .string()
      .regex(/^[\x20-\x7E]{1,256}$/, 'acr is printable text of at most 256 characters')
      .optional(),
  })
  .refine((v) => v.amr !== undefined || v.acr !== undefined, 'give amr, acr or both');

const key = (username: string) => `test-next-auth:${username.trim().toLowerCase()}`;

export async function queueNextLoginAuth(store: Store, username: string, auth: NextLoginAuth): Promise<void> {
  await store.setRecord(key(username), auth);
}

/** The queued `amr`/`acr` of the user's next sign-in, removed as it is read; undefined when none. */
export async function takeNextLoginAuth(store: Store, username: string): Promise<NextLoginAuth | undefined> {
  const queued = await store.getRecord<NextLoginAuth>(key(username));
  if (queued) await store.deleteRecord(key(username));
  return queued;
}
