import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Eta } from 'eta';
import type { Context } from 'koa';

export const VIEWS_DIR = fileURLToPath(new URL('../../views/', import.meta.url));

export interface Views {
  /** Renders `views/<name>.eta` inside the layout as the HTML response. */
  render(
    ctx: Context,
    name: string,
    data: Record<string, unknown> & { title: string },
    status?: number,
  ): void;
  /** The stylesheet served at /assets/gatehouse.css. */
  readonly stylesheet: string;
}

/** Templates are compiled once and cached; every value is HTML-escaped unless a template says otherwise. */
export function createViews(): Views {
  const eta = new Eta({ views: VIEWS_DIR, autoEscape: true, cache: true, defaultExtension: '.eta' });
  const stylesheet = readFileSync(`${VIEWS_DIR}gatehouse.css`, 'utf8');
  return {
    stylesheet,
    render(ctx, name, data, status) {
      if (status) ctx.status = status;
      ctx.type = 'html';
      ctx.set('cache-control', 'no-store');
      ctx.body = eta.render(name, data);
    },
  };
}
