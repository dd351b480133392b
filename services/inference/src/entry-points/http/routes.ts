import { Router, type RequestHandler } from 'express';
import { z } from 'zod';
import { callerOf, parseId, requireAuth, requireRole, type AccessTokenVerifier, type ImageId } from '@capcheck/shared';
import type { PredictionLogRecord } from '../../domain/ports';
import type { PredictionsDomain } from '../../domain/predictions';

/** The paths of this router (the Open Inference Protocol has its own). */
export const predictionPathPrefixes = ['/predict', '/models', '/admin/api/prediction-logs'];

export const tagService: RequestHandler = (_req, res, next) => {
  res.locals.service = 'inference';
  next();
};

const day = 86_400_000;
const logQuery = z
  .object({
    from: z.iso.datetime({ offset: true }).optional(),
    to: z.iso.datetime({ offset: true }).optional(),
    label: z.string().max(64).optional(),
    limit: z.coerce.number().int().min(1).max(500).default(100),
    cursor: z.string().max(200).optional(),
  })
  .transform((q) => {
    const to = q.to ? new Date(q.to) : new Date();
    return { ...q, to, from: q.from ? new Date(q.from) : new Date(to.getTime() - day) };
  })
  .refine((q) => q.from < q.to, { message: 'from must be before to', path: ['from'] });

const logView = (l: PredictionLogRecord) => ({ ...l, at: l.at.toISOString() });

export function createInferenceRouter(deps: { domain: PredictionsDomain; verifier: AccessTokenVerifier }): Router {
  const { domain } = deps;
  const router = Router();
  router.use(predictionPathPrefixes, tagService, requireAuth(deps.verifier));

  router.get('/predict/:id', async (req, res) => {
    const id = parseId<ImageId>(String(req.params.id));
    res.json(
      await domain.predict(callerOf(req), id, {
        clientIp: req.ip ?? 'unknown',
        userAgent: req.get('user-agent') ?? '',
      }),
    );
  });

  router.get('/models', (_req, res) => {
    const model = domain.model();
    if (model.state !== 'ready') {
      res.json({ items: [], status: model.state });
      return;
    }
    const m = model.manifest;
    res.json({
      status: 'ready',
      items: [
        {
          name: m.name,
          version: m.version,
          labels: m.labels,
          input: {
            name: m.inputName,
            dtype: 'uint8',
            layout: 'NHWC',
            shape: [null, ...m.inputShape],
            resize: m.resize,
          },
          certaintyThreshold: m.certaintyThreshold,
          embedding: m.embedding,
          testMetrics: m.testMetrics,
          workers: model.workers,
        },
      ],
    });
  });

  router.get('/admin/api/prediction-logs', requireRole('admin'), async (req, res) => {
    const page = await domain.queryLogs(logQuery.parse(req.query));
    res.json({ items: page.items.map(logView), nextCursor: page.nextCursor });
  });

  return router;
}
