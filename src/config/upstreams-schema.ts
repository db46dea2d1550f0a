import { z } from 'zod';

/**
 * The `upstreams` configuration key: identity providers people may sign in through instead of
 * (or besides) Gatehouse's own users. Only `type: "oidc"` is implemented so far.
 */

/** A Gatehouse claim name an upstream claim is copied into; `sub` is Gatehouse's own and never mapped. */
const claimName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_.:-]*$/, 'not a claim name')
  .refine((name) => name !== 'sub', 'sub is chosen by Gatehouse and cannot be mapped');

const domain = z
  .string()
  .regex(/^[a-z0-9.-]+\.[a-z]{2,}$/, 'a lower-case domain name such as example.com')
  .transform((d) => d.toLowerCase());

export const oidcUpstreamSchema = z
  .strictObject({
    /** The path segment of `/upstream/<id>/callback` and the `idp` value; letters, digits, `-`, `_`. */
    id: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_-]{0,39}$/, 'lower-case letters, digits, "-" and "_" (at most 40)'),
    type: z.literal('oidc'),
    /** Shown on the sign-in page as "Continue with <name>". */
    name: z.string().min(1).max(60),
    /** The upstream's issuer identifier; its discovery document is fetched from it. */
    issuer: z.string().url(),
    clientId: z.string().min(1),
    clientSecret: z.string().min(1).optional(),
    /** private_key_jwt client authentication instead of a secret (a private JWK with `alg`). */
    privateKeyJwk: z.record(z.string(), z.unknown()).optional(),
    scopes: z
      .array(z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, 'not a valid scope token'))
      .default(['openid', 'email', 'profile']),
    /** Upstream claim → Gatehouse claim; only mapped claims are kept. */
    claims: z
      .record(z.string().min(1), claimName)
      .default({ email: 'email', email_verified: 'email_verified', name: 'name' }),
    /** The upstream claim holding the user's groups (released as `groups` under the `groups` scope). */
    groupsClaim: z.string().min(1).optional(),
    /** Only users whose (verified) email is in one of these domains may sign in; empty: anyone. */
    allowedEmailDomains: z.array(domain).default([]),
    /** A `login_hint` whose email domain is one of these goes straight to this upstream. */
    domains: z.array(domain).default([]),
    /** Link the first sign-in to an existing account with the same email, if the upstream says it is verified. */
    linkByEmail: z.boolean().default(false),
    /**
     * Fetch the userinfo endpoint after the token response and merge its claims (the ID token's
     * win). Many providers, oidc-provider among them, put scope claims such as `email` only there.
     */
    fetchUserinfo: z.boolean().default(true),
    /** How long one request to the upstream may take. */
    timeoutMs: z.number().int().min(100).max(60000).default(5000),
  })
  .refine((u) => !!u.clientSecret !== !!u.privateKeyJwk, {
    path: ['clientSecret'],
    message: 'give exactly one of clientSecret or privateKeyJwk',
  })
  .refine((u) => u.scopes.includes('openid'), { path: ['scopes'], message: 'must include openid' });

/**
 * `type: "github"`: GitHub (or GitHub Enterprise Server at `baseUrl`) through OAuth 2.0. The
 * account is GitHub's numeric user id; the email is the primary verified one from /user/emails.
 */
export const githubUpstreamSchema = z
  .strictObject({
    id: oidcUpstreamSchema.shape.id,
    type: z.literal('github'),
    name: z.string().min(1).max(60).default('GitHub'),
    clientId: z.string().min(1),
    clientSecret: z.string().min(1),
    /** github.com, or a GitHub Enterprise Server's address (its API then lives under /api/v3). */
    baseUrl: z.string().url().default('https://github.com'),
    /** Ask for the user's teams (scope read:org) and release them as `groups`, as `org:team` slugs. */
    teams: z.boolean().default(false),
    claims: z.record(z.string().min(1), claimName).default({
      email: 'email',
      email_verified: 'email_verified',
      name: 'name',
      preferred_username: 'preferred_username',
      picture: 'picture',
      profile: 'profile',
    }),
    allowedEmailDomains: oidcUpstreamSchema.shape.allowedEmailDomains,
    domains: oidcUpstreamSchema.shape.domains,
    linkByEmail: z.boolean().default(false),
    timeoutMs: oidcUpstreamSchema.shape.timeoutMs,
  })
  .transform((u) => ({ ...u, groupsClaim: u.teams ? 'groups' : undefined }));

/** `{username}` and `{dn}` in LDAP filters are replaced by RFC 4515-escaped values. */
const ldapFilter = (placeholder: string) =>
  z
    .string()
    .regex(/^\(.*\)$/, 'an LDAP filter in parentheses')
    .refine((f) => f.includes(placeholder), `must contain ${placeholder}`);

/**
 * `type: "ldap"`: a directory checked with the username and password typed on Gatehouse's own
 * sign-in page: a search (bound as `bindDn`) finds the user, then a bind as that user checks the
 * password.
 */
export const ldapUpstreamSchema = z
  .strictObject({
    id: oidcUpstreamSchema.shape.id,
    type: z.literal('ldap'),
    name: z.string().min(1).max(60).default('Directory'),
    url: z.string().regex(/^ldaps?:\/\/[^\s/]+\/?$/, 'an ldap:// or ldaps:// URL without a path'),
    /** Upgrade an ldap:// connection with StartTLS before anything is sent. */
    startTls: z.boolean().default(false),
    bindDn: z.string().min(1),
    bindPassword: z.string().min(1),
    userSearch: z.strictObject({
      baseDn: z.string().min(1),
      filter: ldapFilter('{username}').default('(uid={username})'),
      subAttribute: z.string().min(1).default('entryUUID'),
      usernameAttribute: z.string().min(1).default('uid'),
      emailAttribute: z.string().min(1).default('mail'),
      nameAttribute: z.string().min(1).default('cn'),
    }),
    groupSearch: z
      .strictObject({
        baseDn: z.string().min(1),
        filter: ldapFilter('{dn}').default('(member={dn})'),
        nameAttribute: z.string().min(1).default('cn'),
      })
      .optional(),
    /** Whether the directory's email addresses count as verified (for linkByEmail and allowedEmailDomains). */
    emailVerified: z.boolean().default(false),
    /** Which passwords the sign-in form checks: Gatehouse's own users first, the directory first, or the directory only. */
    passwordOrder: z.enum(['local-first', 'ldap-first', 'ldap-only']).default('local-first'),
    allowedEmailDomains: oidcUpstreamSchema.shape.allowedEmailDomains,
    linkByEmail: z.boolean().default(false),
    timeoutMs: oidcUpstreamSchema.shape.timeoutMs,
  })
  .transform((u) => ({
    ...u,
    claims: {
      email: 'email',
      email_verified: 'email_verified',
      name: 'name',
      preferred_username: 'preferred_username',
    } as Record<string, string>,
    groupsClaim: u.groupSearch ? 'groups' : undefined,
    domains: [] as string[],
  }));

export const upstreamsSchema = z
  .array(
    z.discriminatedUnion('type', [oidcUpstreamSchema, githubUpstreamSchema, ldapUpstreamSchema], {
      error: (issue) =>
        issue.code === 'invalid_union' && issue.note === 'No matching discriminator'
          ? 'must be "oidc", "github" or "ldap"'
          : undefined,
    }),
  )
  .default([])
  // Runs even when an entry has issues of its own (zod 4 keeps checking), so fields may be missing.
  .superRefine((upstreams, ctx) => {
    const seen = new Set<string>();
    upstreams.forEach((u, i) => {
      if (seen.has(u.id))
        ctx.addIssue({ code: 'custom', path: [i, 'id'], message: `duplicate id "${u.id}"` });
      seen.add(u.id);
    });
    const claimed = new Map<string, string>();
    upstreams.forEach((u, i) =>
      (u.domains ?? []).forEach((d, j) => {
        const other = claimed.get(d);
        if (other)
          ctx.addIssue({
            code: 'custom',
            path: [i, 'domains', j],
            message: `"${d}" is already claimed by upstream "${other}"`,
          });
        claimed.set(d, u.id);
      }),
    );
  });

export type OidcUpstreamConfig = z.infer<typeof oidcUpstreamSchema>;
export type GithubUpstreamConfig = z.infer<typeof githubUpstreamSchema>;
export type LdapUpstreamConfig = z.infer<typeof ldapUpstreamSchema>;
export type UpstreamConfig = OidcUpstreamConfig | GithubUpstreamConfig | LdapUpstreamConfig;
/** The upstreams people are sent to in their browser (a button each); LDAP uses the password form. */
export type BrowserUpstreamConfig = OidcUpstreamConfig | GithubUpstreamConfig;
export const isBrowserUpstream = (u: UpstreamConfig): u is BrowserUpstreamConfig => u.type !== 'ldap';
