/** Helpers for the PAR / JAR / FAPI suites (rp-par, request-objects, fapi2). */

/** Where an authorization request was refused: the error code of the redirect or of the error page. */
export async function authorizationError(
  res: Response,
): Promise<{ status: number; error?: string; description?: string }> {
  const location = res.headers.get('location');
  if (location && res.status >= 300 && res.status < 400) {
    const { searchParams } = new URL(location, 'http://relative.invalid');
    return {
      status: res.status,
      error: searchParams.get('error') ?? undefined,
      description: searchParams.get('error_description') ?? undefined,
    };
  }
  const html = await res.text();
  return {
    status: res.status,
    error: /<dt>Error<\/dt><dd><code>([a-z_]+)<\/code>/.exec(html)?.[1],
    description: /<dt>Details<\/dt><dd>([^<]*)<\/dd>/.exec(html)?.[1]?.replaceAll('&#39;', "'"),
  };
}

/** POSTs `params` to `<base>/par`, with `authorization` as the Authorization header when given. */
export async function pushRequest(base: string, params: Record<string, string>, authorization?: string) {
  const res = await fetch(`${base}/par`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...(authorization ? { authorization } : {}),
    },
    body: new URLSearchParams(params).toString(),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** `<base>/authorize` with `params` as its query. */
export const authorizeUrl = (base: string, params: Record<string, string>) =>
  `${base}/authorize?${new URLSearchParams(params).toString()}`;
