import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Context, Next } from 'koa';
import { VIEWS_DIR } from './views.js';

/**
 * The pages' only scripts, served from the issuer's own origin (the CSP allows `script-src
 * 'self'` and nothing inline): /assets/passkeys.js (views/passkeys.js) and
 * /assets/simplewebauthn-browser.js, the browser bundle of @simplewebauthn/browser read from
 * its installed package, so its version is the one package-lock.json pins.
 */
export function createScriptAssets() {
  // The package exports only its modules; its UMD bundle sits beside them (dist/bundle).
  const browserEntry = createRequire(import.meta.url).resolve('@simplewebauthn/browser');
  const bundle = join(dirname(browserEntry), '..', 'dist', 'bundle', 'index.umd.min.js');
  const scripts = new Map(
    [
      ['/assets/passkeys.js', `${VIEWS_DIR}passkeys.js`],
      ['/assets/simplewebauthn-browser.js', bundle],
    ].map(([path, file]) => {
      const body = readFileSync(file!, 'utf8');
      const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 16)}"`;
      return [path!, { body, etag }] as const;
    }),
  );
  return function scriptAssets(ctx: Context, next: Next) {
    const script = ctx.method === 'GET' || ctx.method === 'HEAD' ? scripts.get(ctx.path) : undefined;
    if (!script) return next();
    ctx.set('cache-control', 'public, max-age=3600');
    ctx.set('etag', script.etag);
    if (ctx.get('if-none-match') === script.etag) {
      ctx.status = 304;
      return;
    }
    ctx.type = 'application/javascript';
    ctx.body = script.body;
  };
}
