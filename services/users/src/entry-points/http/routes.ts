import { Router, type Request, type RequestHandler } from 'express';
import { z } from 'zod';
import {
  AppError,
  parseId,
  principalOf,
  requireAuth,
  requireRole,
  roles,
  type AccessTokenVerifier,
  type ApiKeyId,
  type UserId,
} from '@capcheck/shared';
import type { ApiKeyRecord, UserRecord } from '../../domain/ports';
import { emailSchema, newPasswordSchema, offeredPasswordSchema } from '../../domain/credentials';
import type { UsersDomain } from '../../domain/users';
import type { SigningKeyRing } from '../../data-access/signing-keys';

/** The path space this service owns; the gateway routes these prefixes here. */
export const usersPathPrefixes = ['/auth', '/users', '/.well-known/jwks.json', '/admin/api/users'];

const registerBody = z.object({ email: emailSchema, password: newPasswordSchema }).strict();
const loginBody = z.object({ email: emailSchema, password: offeredPasswordSchema }).strict();
const refreshBody = z.object({ refreshToken: z.string().min(1).max(512) }).strict();
const apiKeyBody = z
  .object({
    name: z
      .string()
      .trim()
      .min(1)
      .max(64)
      .regex(/^[\p{L}\p{N} ._:-]+$/u, 'letters, digits, spaces and . _ : - only'),
  })
  .strict();
const adminPatchBody = z
  .object({ role: z.enum(roles).optional(), disabled: z.boolean().optional() })
  .strict()
  .refine((b) => b.role !== undefined || b.disabled !== undefined, 'give role and/or disabled');
const pageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(200).optional(),
});

const userView = (u: UserRecord) => ({ id: u.id, email: u.email, role: u.role, createdAt: u.createdAt.toISOString() });
const adminUserView = (u: UserRecord) => ({ ...userView(u), disabled: u.disabled });
const apiKeyView = (k: ApiKeyRecord) => ({
  id: k.id,
  name: k.name,
  prefix: k.prefix,
  createdAt: k.createdAt.toISOString(),
  lastUsedAt: k.lastUsedAt?.toISOString() ?? null,
});

/** `req.ip` honours `trust proxy`, so behind Traefik this is the client, not the gateway. */
const clientIp = (req: Request): string => req.ip ?? 'unknown';

const tagService: RequestHandler = (_req, res, next) => {
  res.locals.service = 'users';
  next();
};

export function createUsersRouter(deps: {
  domain: UsersDomain;
  verifier: AccessTokenVerifier;
  keyRing: SigningKeyRing;
}): Router {
  const { domain, keyRing } = deps;
  const auth = requireAuth(deps.verifier);
  const router = Router();
  router.use(usersPathPrefixes, tagService);

  router.post('/auth/register', async (req, res) => {
    const body = registerBody.parse(req.body);
    const user = await domain.register(body.email, body.password, clientIp(req));
    res.status(201).location('/users/me').json(userView(user));
  });

  router.post('/auth/login', async (req, res) => {
    const body = loginBody.parse(req.body);
    res.json(await domain.login(body.email, body.password, clientIp(req)));
  });

  router.post('/auth/refresh', async (req, res) => {
    res.json(await domain.refresh(refreshBody.parse(req.body).refreshToken));
  });

  router.post('/auth/logout', async (req, res) => {
    await domain.logout(refreshBody.parse(req.body).refreshToken);
    res.status(204).end();
  });

  router.post('/auth/token', async (req, res) => {
    const key = req.get('x-api-key');
    if (!key || key.length > 256)
      throw new AppError('unauthenticated', 'invalid_api_key', 'an X-API-Key header is required');
    res.json(await domain.exchangeApiKey(key, clientIp(req)));
  });

  router.get('/.well-known/jwks.json', (_req, res) => {
    res.set('Cache-Control', 'public, max-age=300').json(keyRing.publicJwks());
  });

  router.get('/users/me', auth, async (req, res) => {
    res.json(userView(await domain.me(principalOf(req))));
  });

  router.post('/users/me/api-keys', auth, async (req, res) => {
    const { record, key } = await domain.createApiKey(principalOf(req), apiKeyBody.parse(req.body).name);
    res.status(201).json({ ...apiKeyView(record), key });
  });

  router.get('/users/me/api-keys', auth, async (req, res) => {
    res.json({ items: (await domain.listApiKeys(principalOf(req))).map(apiKeyView) });
  });

  router.delete('/users/me/api-keys/:id', auth, async (req, res) => {
    await domain.revokeApiKey(principalOf(req), parseId<ApiKeyId>(String(req.params.id)));
    res.status(204).end();
  });

  router.get('/admin/api/users', auth, requireRole('admin'), async (req, res) => {
    const page = await domain.listUsers(pageQuery.parse(req.query));
    res.json({ items: page.items.map(adminUserView), nextCursor: page.nextCursor });
  });

  router.patch('/admin/api/users/:id', auth, requireRole('admin'), async (req, res) => {
    const patch = adminPatchBody.parse(req.body);
    const user = await domain.updateUser(principalOf(req), parseId<UserId>(String(req.params.id)), patch);
    res.json(adminUserView(user));
  });

  return router;
}
