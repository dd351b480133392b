import { Router } from 'express';
import { z } from 'zod';
import {
  callerOf,
  decodeCursor,
  parseId,
  requireAuth,
  requireRole,
  type AccessTokenVerifier,
  type ImageId,
} from '@capcheck/shared';
import type { FeedbackRecord } from '../../domain/ports';
import type { FeedbackDomain } from '../../domain/feedback';
import { tagService } from './routes';

/** The paths of this router outside /predict (which the predictions router already owns). */
export const feedbackPathPrefixes = ['/admin/api/feedback'];

const feedbackBody = z.object({ label: z.string().min(1).max(64) }).strict();

/** A cursor this API handed out; anything else is refused rather than read as "from the start". */
const isOurCursor = (cursor: string) => {
  const position = decodeCursor(cursor);
  return position !== null && !Number.isNaN(position.createdAt.getTime());
};
/** `?label=` and `?cursor=` left empty mean "any" and "from the start", as when left out. */
const emptyAsMissing = (value: string | undefined) => (value === '' ? undefined : value);
const feedbackQuery = z.object({
  label: z.string().max(64).optional().transform(emptyAsMissing),
  limit: z.coerce.number().int().min(1).max(500).default(100),
  cursor: z
    .string()
    .max(200)
    .optional()
    .transform(emptyAsMissing)
    .refine((c) => c === undefined || isOurCursor(c), 'not a cursor this API gave'),
});

const answerView = (f: FeedbackRecord) => ({ imageId: f.imageId, label: f.label, predicted: f.predicted });
const adminView = (f: FeedbackRecord) => ({
  imageId: f.imageId,
  userId: f.userId,
  sha256: f.sha256,
  label: f.label,
  predicted: f.predicted,
  createdAt: f.createdAt.toISOString(),
  updatedAt: f.updatedAt.toISOString(),
});

/**
 * Owners tell the service what an image shows; admins list what they said. Mounted before the
 * predictions router, so a feedback request is authenticated once, here.
 */
export function createFeedbackRouter(deps: { feedback: FeedbackDomain; verifier: AccessTokenVerifier }): Router {
  const { feedback } = deps;
  const auth = requireAuth(deps.verifier);
  const router = Router();

  router.put('/predict/:id/feedback', tagService, auth, async (req, res) => {
    const { label } = feedbackBody.parse(req.body);
    const id = parseId<ImageId>(String(req.params.id));
    res.json(answerView(await feedback.give(callerOf(req), id, label)));
  });

  router.get('/admin/api/feedback', tagService, auth, requireRole('admin'), async (req, res) => {
    const page = await feedback.list(feedbackQuery.parse(req.query));
    res.json({ items: page.items.map(adminView), nextCursor: page.nextCursor });
  });

  return router;
}
