import { Router, type Request, type RequestHandler } from 'express';
import { z } from 'zod';
import {
  AppError,
  callerOf,
  parseId,
  principalOf,
  pictureUpload,
  receivedPictures,
  requireAuth,
  requireRole,
  statusOfKind,
  type AccessTokenVerifier,
  type ImageId,
} from '@capcheck/shared';
import { versionPattern } from '../../data-access/model-repository';
import type { PredictionLogRecord } from '../../domain/ports';
import type { BatchResult, PredictionsDomain, RequestContext } from '../../domain/predictions';
import type { RolloutsDomain, RolloutView } from '../../domain/rollouts';

/** The paths of this router (the Open Inference Protocol has its own). */
export const predictionPathPrefixes = ['/predict', '/models', '/admin/api/prediction-logs', '/admin/api/models'];

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

const version = z.string().regex(versionPattern, 'a version folder name: letters, digits, _ . -');
const rolloutBody = z.discriminatedUnion('mode', [
  z.strictObject({ version, mode: z.literal('full') }),
  z.strictObject({ version, mode: z.literal('shadow') }),
  z.strictObject({ version, mode: z.literal('canary'), percent: z.number().int().min(0).max(100) }),
]);

const rolloutView = (r: RolloutView) => ({ ...r, updatedAt: r.updatedAt?.toISOString() ?? null });

/** The most pictures one POST /predict/batch may carry. */
export const maxBatchPictures = 32;

const predictQuery = z.object({ store: z.enum(['true', 'false']).optional() });

const contextOf = (req: Request): RequestContext => ({
  clientIp: req.ip ?? 'unknown',
  userAgent: req.get('user-agent') ?? '',
});

const batchResultView = (result: BatchResult) =>
  'error' in result
    ? { error: { code: result.error.code, message: result.error.message }, status: statusOfKind[result.error.kind] }
    : result;

export function createInferenceRouter(deps: {
  domain: PredictionsDomain;
  rollouts: RolloutsDomain;
  verifier: AccessTokenVerifier;
  /** The largest picture, as for uploads. */
  maxUploadBytes: number;
}): Router {
  const { domain } = deps;
  const router = Router();
  router.use(predictionPathPrefixes, tagService, requireAuth(deps.verifier));

  // The line camera: a picture in the request (multipart field "image", or the raw body), nothing
  // stored unless ?store=true.
  const onePicture = pictureUpload({ field: 'image', maxBytes: deps.maxUploadBytes, maxFiles: 1, rawBody: true });
  router.post('/predict', onePicture, async (req, res) => {
    const { store } = predictQuery.parse(req.query);
    const [picture] = receivedPictures(req);
    if (!picture)
      throw new AppError('invalid', 'missing_file', 'no picture: send it in the field "image" or as the body');
    const view = await domain.predictSent(callerOf(req), picture, contextOf(req), { store: store === 'true' });
    res.status(view.stored ? 201 : 200);
    if (view.imageId) res.location(`/images/${view.imageId}`);
    res.json(view);
  });

  const manyPictures = pictureUpload({ field: 'images', maxBytes: deps.maxUploadBytes, maxFiles: maxBatchPictures });
  router.post('/predict/batch', manyPictures, async (req, res) => {
    const pictures = receivedPictures(req);
    if (pictures.length === 0) throw new AppError('invalid', 'missing_file', 'no pictures in the field "images"');
    const results = await domain.predictBatch(callerOf(req), pictures, contextOf(req));
    res.json({ results: results.map(batchResultView) });
  });

  router.get('/predict/:id', async (req, res) => {
    const id = parseId<ImageId>(String(req.params.id));
    res.json(await domain.predict(callerOf(req), id, contextOf(req)));
  });

  router.get('/models', (_req, res) => {
    const model = domain.model();
    const served = domain.servedVersions();
    if (model.state !== 'ready' || !served) {
      res.json({ items: [], status: model.state, rollout: null });
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
      rollout: { current: served.current, candidate: served.candidate },
    });
  });

  router.get('/admin/api/models/:name/rollout', requireRole('admin'), async (req, res) => {
    res.json(rolloutView(await deps.rollouts.view(String(req.params.name))));
  });

  router.put('/admin/api/models/:name/rollout', requireRole('admin'), async (req, res) => {
    const request = rolloutBody.parse(req.body);
    const view = await deps.rollouts.set(String(req.params.name), request, principalOf(req).userId);
    res.json(rolloutView(view));
  });

  router.get('/admin/api/prediction-logs', requireRole('admin'), async (req, res) => {
    const page = await domain.queryLogs(logQuery.parse(req.query));
    res.json({ items: page.items.map(logView), nextCursor: page.nextCursor });
  });

  return router;
}
