import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { AppError } from '../errors';
import type { Role } from '../ids';
import type { Caller, Principal } from './principal';
import type { AccessTokenVerifier } from './verifier';

const bearer = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/;

/** Requires a valid Bearer access token and puts the caller on `req.principal`. */
export function requireAuth(verifier: AccessTokenVerifier): RequestHandler {
  return async (req: Request, _res: Response, next: NextFunction) => {
    const match = bearer.exec(req.headers.authorization ?? '');
    if (!match?.[1]) {
      next(new AppError('unauthenticated', 'missing_token', 'a Bearer access token is required'));
      return;
    }
    try {
      req.principal = await verifier.verify(match[1]);
      req.accessToken = match[1];
      next();
    } catch (err) {
      next(err);
    }
  };
}

export function requireRole(role: Role): RequestHandler {
  return (req, _res, next) => {
    if (req.principal?.role !== role) {
      next(new AppError('forbidden', 'forbidden', `this needs the ${role} role`));
      return;
    }
    next();
  };
}

/** The caller and its token, for calls made on its behalf (e.g. inference reading an image). */
export function callerOf(req: Request): Caller {
  return { principal: principalOf(req), accessToken: req.accessToken ?? '' };
}

/** The caller of a route behind requireAuth; a programming error if it is missing. */
export function principalOf(req: Request): Principal {
  if (!req.principal) throw new Error('principalOf() used on a route without requireAuth');
  return req.principal;
}
