import { Router, type Router as ExpressRouter } from 'express';
import { z } from 'zod';
import { AppError, principalOf, requireAuth, requireRole, type AccessTokenVerifier } from '@capcheck/shared';
import type { AdaptationsDomain } from '../../domain/adaptations';
import { tagService } from './routes';

export const adaptationPathPrefixes = ['/admin/api/models'];

const modelName = z.string().regex(/^[\w.-]{1,100}$/);
const adaptationId = z.uuid();

/** Admins adapt the served model to the labelled feedback: a new version, served only once rolled out. */
export function createAdaptationRouter(deps: {
  adaptations: AdaptationsDomain;
  verifier: AccessTokenVerifier;
}): ExpressRouter {
  const { adaptations } = deps;
  const router = Router();
  router.use(adaptationPathPrefixes, tagService, requireAuth(deps.verifier), requireRole('admin'));

  router.post('/admin/api/models/:name/adaptations', async (req, res) => {
    const name = modelName.parse(req.params.name);
    const started = await adaptations.start(name, principalOf(req).userId);
    res.status(202).location(`/admin/api/models/${name}/adaptations/${started.id}`).json(started);
  });

  router.get('/admin/api/models/:name/adaptations', async (req, res) => {
    res.json({ items: await adaptations.list(modelName.parse(req.params.name)) });
  });

  router.get('/admin/api/models/:name/adaptations/:id', async (req, res) => {
    const name = modelName.parse(req.params.name);
    const id = adaptationId.safeParse(req.params.id);
    // An id that cannot exist is as unknown as one that does not.
    if (!id.success) throw new AppError('not_found', 'not_found', 'adaptation not found');
    res.json(await adaptations.get(name, id.data));
  });

  return router;
}
